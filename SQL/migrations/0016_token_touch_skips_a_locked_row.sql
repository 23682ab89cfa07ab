-- 0016: a token's last use is recorded by the request that finds its row free; the others neither wait for it nor
-- write. Every request of a token made this UPDATE once last_used_at was a minute old, so concurrent requests
-- queued on the row behind one commit, and when that commit waited on the disk (a WAL flush under load), every
-- request of the token waited with it: the benchmark's 32 connections stood still for seconds, pgbench's on the
-- same statements too (Docs/performance.md). Now the row is locked with SKIP LOCKED: a request that finds it locked
-- skips the touch (the holder records the use), writes nothing and so commits without a WAL flush. The age is
-- checked on the locked row itself, so a request that locks it just after another's touch committed does not
-- touch it again.
CREATE OR REPLACE FUNCTION authenticate_token_id(token uuid)
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
    ), due AS (
        SELECT t.token_id
        FROM api_tokens t
        JOIN found ON found.token_id = t.token_id
        WHERE (found.last_used_at IS NULL OR found.last_used_at < now() - interval '1 minute')
          AND (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute')
        FOR UPDATE OF t SKIP LOCKED
    ), touched AS (
        UPDATE api_tokens t SET last_used_at = now()
        FROM due
        WHERE t.token_id = due.token_id
    )
    SELECT found.token_id, found.role, found.trust_id, found.urns, found.last_write_lsn FROM found
$$;
