-- 0012: a web session names the API token it was signed in with (Docs/web.md) by the token's id, never its
-- secret. Each request resolves that id again, so revoking or expiring the token ends every browser session made
-- from it at the next request.
--
-- What makes a token usable (not revoked, not expired) and the last_used_at touch are now written once, here, and
-- authenticate_token() (by digest, for bearer tokens) finds the id and asks this function.
CREATE FUNCTION authenticate_token_id(token uuid)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], last_write_lsn pg_lsn)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    WITH found AS (
        SELECT t.token_id, t.role, t.trust_id, t.urns, t.last_used_at, t.last_write_lsn
        FROM api_tokens t
        WHERE t.token_id = token
          AND t.revoked_at IS NULL
          AND (t.expires_at IS NULL OR t.expires_at > now())
    ), touched AS (
        UPDATE api_tokens t SET last_used_at = now()
        FROM found
        WHERE t.token_id = found.token_id
          AND (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
    )
    SELECT found.token_id, found.role, found.trust_id, found.urns, found.last_write_lsn FROM found
$$;
REVOKE ALL ON FUNCTION authenticate_token_id(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate_token_id(uuid) TO senstat_app;

CREATE OR REPLACE FUNCTION authenticate_token(token_digest bytea)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], digest bytea, last_write_lsn pg_lsn)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT a.token_id, a.role, a.trust_id, a.urns, t.digest, a.last_write_lsn
    FROM api_tokens t, LATERAL authenticate_token_id(t.token_id) a
    WHERE t.digest = token_digest
$$;
