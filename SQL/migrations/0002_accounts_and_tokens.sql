-- 0002: bearer tokens, stored only as SHA-256 digests, and the one function that may find a token by digest.
--
-- api_tokens is platform data, not a tenant table: admin and researcher tokens belong to no trust, so trust_id
-- is nullable and not part of the key. (On Citus it stays on the coordinator; for that reason it has no foreign
-- key to trusts, and the server checks the trust exists when it issues a token.)
CREATE TABLE api_tokens (
    token_id     uuid        NOT NULL DEFAULT gen_random_uuid(),
    -- sha256 of the whole token text; the token itself is shown once and never stored.
    digest       bytea       NOT NULL CHECK (length(digest) = 32),
    role         text        NOT NULL CHECK (role IN ('admin', 'trust_executive', 'school_leader', 'researcher')),
    trust_id     uuid,
    urns         integer[]   NOT NULL DEFAULT '{}',
    label        text        NOT NULL DEFAULT '' CHECK (length(label) <= 200),
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    PRIMARY KEY (token_id),
    UNIQUE (digest),
    -- Trust roles carry exactly one trust; admins and researchers none. Only school leaders carry schools.
    CHECK ((role IN ('trust_executive', 'school_leader')) = (trust_id IS NOT NULL)),
    CHECK ((role = 'school_leader') = (cardinality(urns) > 0))
);
-- A trust's token list.
CREATE INDEX api_tokens_by_trust ON api_tokens (trust_id, created_at) WHERE trust_id IS NOT NULL;

ALTER TABLE api_tokens ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_tokens FORCE ROW LEVEL SECURITY;
-- A trust executive manages its own trust's tokens; an admin, all.
CREATE POLICY api_tokens_tenant ON api_tokens
    USING (trust_id = current_trust_id() OR in_platform_scope())
    WITH CHECK (trust_id = current_trust_id() OR in_platform_scope());
-- Authentication happens before any tenant is known: only authenticate_token(), which runs as the owner
-- (SECURITY DEFINER), may read a token by digest, and these policies apply to the owner role alone.
CREATE POLICY api_tokens_authenticate_read ON api_tokens FOR SELECT TO senstat_owner USING (true);
CREATE POLICY api_tokens_authenticate_touch ON api_tokens FOR UPDATE TO senstat_owner USING (true) WITH CHECK (true);

-- The token with this digest if it is neither revoked nor expired. last_used_at is refreshed at most once a
-- minute, so authentication does not write on every request.
CREATE FUNCTION authenticate_token(token_digest bytea)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], digest bytea)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    WITH found AS (
        SELECT t.token_id, t.role, t.trust_id, t.urns, t.digest, t.last_used_at
        FROM api_tokens t
        WHERE t.digest = token_digest
          AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > now())
    ), touched AS (
        UPDATE api_tokens t SET last_used_at = now()
        FROM found
        WHERE t.token_id = found.token_id
          AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
    )
    SELECT found.token_id, found.role, found.trust_id, found.urns, found.digest FROM found
$$;
REVOKE ALL ON FUNCTION authenticate_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate_token(bytea) TO senstat_app;

GRANT SELECT, INSERT, UPDATE ON api_tokens TO senstat_app;
