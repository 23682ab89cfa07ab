-- 0011: sessions of the web app (Docs/web.md), the storage behind hummingbird-auth's session middleware.
--
-- A session id in a browser's cookie is a bearer credential, so like an API token it is never stored: rows are
-- keyed by the SHA-256 of the key. Sessions are read before any tenant is known, so the server role reaches the
-- table only through the functions below (SECURITY DEFINER, like authenticate_token()); it has no grant on the
-- table itself, and the policy lets the owner alone through.
CREATE TABLE web_sessions (
    key_digest  bytea       NOT NULL CHECK (length(key_digest) = 32),
    value       jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    -- NULL: until removed.
    expires_at  timestamptz,
    PRIMARY KEY (key_digest)
);
CREATE INDEX web_sessions_expiry ON web_sessions (expires_at) WHERE expires_at IS NOT NULL;

ALTER TABLE web_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE web_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY web_sessions_owner ON web_sessions TO senstat_owner USING (true) WITH CHECK (true);

-- A new key: false when it exists (and has not expired). Expired sessions are cleared on the way.
CREATE FUNCTION web_session_create(k bytea, v jsonb, ttl_ms bigint) RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    created boolean;
BEGIN
    DELETE FROM web_sessions WHERE expires_at <= now();
    INSERT INTO web_sessions (key_digest, value, expires_at)
    VALUES (k, v, CASE WHEN ttl_ms IS NULL THEN NULL ELSE now() + ttl_ms * interval '1 millisecond' END)
    ON CONFLICT (key_digest) DO NOTHING
    RETURNING true INTO created;
    RETURN coalesce(created, false);
END
$$;

-- Sets a key's value; a NULL ttl keeps the expiry it has (PersistDriver's contract).
CREATE FUNCTION web_session_set(k bytea, v jsonb, ttl_ms bigint) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    INSERT INTO web_sessions AS s (key_digest, value, expires_at)
    VALUES (k, v, CASE WHEN ttl_ms IS NULL THEN NULL ELSE now() + ttl_ms * interval '1 millisecond' END)
    ON CONFLICT (key_digest) DO UPDATE
        SET value = excluded.value,
            expires_at = CASE WHEN ttl_ms IS NULL THEN s.expires_at ELSE excluded.expires_at END
$$;

-- The value and the milliseconds it has left (NULL: no expiry), if it has not expired.
CREATE FUNCTION web_session_get(k bytea) RETURNS TABLE (value jsonb, ttl_ms bigint)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT s.value, (extract(epoch FROM s.expires_at - now()) * 1000)::bigint
    FROM web_sessions s
    WHERE s.key_digest = k AND (s.expires_at IS NULL OR s.expires_at > now())
$$;

CREATE FUNCTION web_session_remove(k bytea) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    DELETE FROM web_sessions WHERE key_digest = k
$$;

REVOKE ALL ON FUNCTION web_session_create(bytea, jsonb, bigint), web_session_set(bytea, jsonb, bigint),
    web_session_get(bytea), web_session_remove(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION web_session_create(bytea, jsonb, bigint), web_session_set(bytea, jsonb, bigint),
    web_session_get(bytea), web_session_remove(bytea) TO senstat_app;
