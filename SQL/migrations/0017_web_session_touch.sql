-- 0017: a web session's idle window is extended on the row it has, never by writing the session again.
--
-- After a request on a session more than a minute into its idle window, the web app extended the window with
-- hummingbird-auth's `update`, which is `web_session_set`: an upsert of the value read at the request's start. When
-- that request had itself ended the session (sign-out) or replaced it (a switch of role), which delete the row, the
-- upsert wrote the old row back, and the response set the old cookie again after the one that cleared it: a session
-- idle for over a minute could not be signed out. Concurrent requests of one session also queued on its row, each
-- behind the other's commit, as token touches did (0016).
--
-- Now only a row that still exists and has not expired is extended, and a request that finds it locked (another
-- request of the same session extending it, or ending it) skips the touch. The answer says whether this request
-- extended it, so that only then is the cookie sent again.
CREATE FUNCTION web_session_touch(k bytea, ttl_ms bigint) RETURNS boolean
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    WITH due AS (
        SELECT s.key_digest
        FROM web_sessions s
        WHERE s.key_digest = k AND s.expires_at IS NOT NULL AND s.expires_at > now()
        FOR UPDATE SKIP LOCKED
    ), touched AS (
        UPDATE web_sessions s SET expires_at = now() + ttl_ms * interval '1 millisecond'
        FROM due
        WHERE s.key_digest = due.key_digest
        RETURNING 1
    )
    SELECT EXISTS (SELECT 1 FROM touched)
$$;

REVOKE ALL ON FUNCTION web_session_touch(bytea, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION web_session_touch(bytea, bigint) TO senstat_app;
