-- Read-your-writes behind a read replica (DATABASE_READ_URL; Docs/scaling.md). After a token's successful write
-- the server notes the primary's WAL position on the token; a replica serves that token's reads only once it has
-- replayed that far, and the primary serves them until then. Tokens are shared by every server instance, so this
-- holds whichever instance a load balancer picks.
ALTER TABLE api_tokens ADD COLUMN last_write_lsn pg_lsn;

DROP FUNCTION authenticate_token(bytea);
CREATE FUNCTION authenticate_token(token_digest bytea)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], digest bytea, last_write_lsn pg_lsn)
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    WITH found AS (
        SELECT t.token_id, t.role, t.trust_id, t.urns, t.digest, t.last_used_at, t.last_write_lsn
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
    SELECT found.token_id, found.role, found.trust_id, found.urns, found.digest, found.last_write_lsn FROM found
$$;
REVOKE ALL ON FUNCTION authenticate_token(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION authenticate_token(bytea) TO senstat_app;

-- Called after a write has committed, so the position is at or past its commit record.
CREATE FUNCTION note_token_write(token uuid)
    RETURNS pg_lsn
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    UPDATE api_tokens SET last_write_lsn = pg_current_wal_lsn() WHERE token_id = token RETURNING last_write_lsn
$$;
REVOKE ALL ON FUNCTION note_token_write(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION note_token_write(uuid) TO senstat_app;
