-- 0020: a token the server has seen is confirmed inside the request's own transaction.
--
-- Every request authenticated with a statement of its own (authenticate_token(), 0018), before its transaction: one
-- more round trip and one more lease of a pooled connection per request. A server instance now keeps the tokens
-- that authenticated in the last few minutes (Sources/SENHTTP/Auth.swift), and for a request with such a token sends
-- this check (require_token, below) in the statement that sets the transaction's tenant, before any of the
-- handler's statements run. The check
-- is the same one authenticate_token() makes (not revoked, not expired, the touch of last_used_at at most once a
-- minute), and the token must still have the role, trust and schools the server holds for it. When it is false the
-- server rolls the transaction back, forgets the token and authenticates it afresh: revocation still takes effect
-- at the next request, on every instance.
CREATE FUNCTION confirm_token(token_digest bytea, token uuid, token_role text, token_trust uuid, token_urns integer[])
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    RETURN EXISTS (
        SELECT 1 FROM authenticate_token(token_digest) a
        WHERE a.token_id = token
          AND a.role = token_role
          AND a.trust_id IS NOT DISTINCT FROM token_trust
          AND a.urns = token_urns);
END
$$;

REVOKE ALL ON FUNCTION confirm_token(bytea, uuid, text, uuid, integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION confirm_token(bytea, uuid, text, uuid, integer[]) TO senstat_app;

-- The same check inside a transaction the server has already sent statements behind: a refuted token raises, so
-- the transaction is aborted and PostgreSQL runs none of them. SQLSTATE SN001, senstat's own: not class 28
-- (invalid authorization), on any error of which PostgresNIO closes the connection.
CREATE FUNCTION require_token(token_digest bytea, token uuid, token_role text, token_trust uuid, token_urns integer[])
    RETURNS boolean
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
BEGIN
    IF NOT confirm_token(token_digest, token, token_role, token_trust, token_urns) THEN
        RAISE EXCEPTION 'the token is revoked, expired or changed' USING ERRCODE = 'SN001';
    END IF;
    RETURN true;
END
$$;

REVOKE ALL ON FUNCTION require_token(bytea, uuid, text, uuid, integer[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION require_token(bytea, uuid, text, uuid, integer[]) TO senstat_app;
