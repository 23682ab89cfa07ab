-- 0018: authentication plans its statements once per connection.
--
-- Every request authenticates. authenticate_token() and authenticate_token_id(), which it calls, were SQL functions
-- with a SET clause: PostgreSQL never inlines those and parses and plans their bodies afresh on every call, one
-- inside the other, which cost about 0.9 ms of PostgreSQL's CPU per request (auto_explain, on the benchmark's
-- imports: Docs/performance.md). In PL/pgSQL the same statements are planned once per connection and kept. What
-- makes a token usable (not revoked, not expired) and the touch of last_used_at (at most once a minute, skipped when
-- another request holds the row: 0016) are unchanged, and still written once, in authenticate_token_id().
CREATE OR REPLACE FUNCTION authenticate_token_id(token uuid)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], last_write_lsn pg_lsn)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    usable api_tokens%ROWTYPE;
BEGIN
    SELECT t.* INTO usable
    FROM api_tokens t
    WHERE t.token_id = token
      AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now());
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF usable.last_used_at IS NULL OR usable.last_used_at < now() - interval '1 minute' THEN
        -- The age is checked again on the locked row, so a request that locks it just after another's touch
        -- committed does not touch it again; a row another request holds is left to it.
        UPDATE api_tokens t SET last_used_at = now()
        WHERE t.token_id = (
            SELECT l.token_id FROM api_tokens l
            WHERE l.token_id = usable.token_id
              AND (l.last_used_at IS NULL OR l.last_used_at < now() - interval '1 minute')
            FOR UPDATE SKIP LOCKED);
    END IF;
    RETURN QUERY SELECT usable.token_id, usable.role, usable.trust_id, usable.urns, usable.last_write_lsn;
END
$$;

CREATE OR REPLACE FUNCTION authenticate_token(token_digest bytea)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, urns integer[], digest bytea, last_write_lsn pg_lsn)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    id uuid;
BEGIN
    SELECT t.token_id INTO id FROM api_tokens t WHERE t.digest = token_digest;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT a.token_id, a.role, a.trust_id, a.urns, token_digest, a.last_write_lsn FROM authenticate_token_id(id) a;
END
$$;
