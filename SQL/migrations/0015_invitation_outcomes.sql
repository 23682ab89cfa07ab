-- 0015: why a verified sign-in found no invitation to accept — the latest invitation to that email, if any, and its
-- state — so that the person is told (expired, already used, withdrawn) and the trust's audit trail shows it.
CREATE FUNCTION invitation_outcome(p_email text)
    RETURNS TABLE (invitation_id uuid, trust_id uuid, role text, state text, organisation text, accepted_by uuid)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT i.invitation_id, i.trust_id, i.role,
           CASE WHEN i.accepted_at IS NOT NULL THEN 'used'
                WHEN i.revoked_at IS NOT NULL THEN 'withdrawn'
                WHEN i.expires_at <= now() THEN 'expired'
                ELSE 'open' END,
           i.organisation, i.accepted_by
    FROM invitations i
    WHERE i.email = lower(p_email)
    ORDER BY i.created_at DESC
    LIMIT 1
$$;
REVOKE ALL ON FUNCTION invitation_outcome(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invitation_outcome(text) TO senstat_app;
