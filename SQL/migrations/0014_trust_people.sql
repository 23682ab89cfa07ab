-- 0014: a trust manages its people (Docs/security.md "People, memberships and tokens"): the email domains and
-- identity-provider tenants it signs in from, the people who signed in from them and wait for a role, granting and
-- removing memberships, and tokens bound to a person (`senstat login --web`).

-- The tenant a person last signed in from: Entra ID's `tid`, or Google Workspace's `hd`.
ALTER TABLE people ADD COLUMN tenant text CHECK (length(tenant) BETWEEN 1 AND 255);

-- What a trust signs in from. A person who signs in with a verified email at one of its domains, or from one of its
-- tenants, and has no role in it, waits for a trust executive to grant one. Consumer email domains (gmail.com and
-- the like) are refused by the server before they are stored, so nobody is ever joined to a trust by one.
CREATE TABLE trust_sign_in_sources (
    trust_id uuid NOT NULL REFERENCES trusts (trust_id),
    kind     text NOT NULL CHECK (kind IN ('email_domain', 'tenant')),
    value    text NOT NULL CHECK (value = lower(value) AND length(value) BETWEEN 1 AND 255),
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, kind, value)
);
CREATE INDEX trust_sign_in_sources_by_value ON trust_sign_in_sources (kind, value);
ALTER TABLE trust_sign_in_sources ENABLE ROW LEVEL SECURITY;
ALTER TABLE trust_sign_in_sources FORCE ROW LEVEL SECURITY;
CREATE POLICY trust_sign_in_sources_tenant ON trust_sign_in_sources
    USING (trust_id = current_trust_id() OR in_platform_scope())
    WITH CHECK (trust_id = current_trust_id() OR in_platform_scope());
CREATE POLICY trust_sign_in_sources_owner ON trust_sign_in_sources FOR SELECT TO senstat_owner USING (true);
GRANT SELECT, INSERT, DELETE ON trust_sign_in_sources TO senstat_app;

-- A token bound to a person (issued to `senstat login --web`): the person's, revoked with the membership it came from.
ALTER TABLE api_tokens ADD COLUMN from_membership uuid REFERENCES api_tokens (token_id);
ALTER TABLE api_tokens ADD CONSTRAINT api_tokens_bound_token CHECK (from_membership IS NULL OR (kind = 'token' AND person_id IS NOT NULL));
CREATE INDEX api_tokens_by_membership ON api_tokens (from_membership) WHERE from_membership IS NOT NULL;

ALTER TABLE identity_events DROP CONSTRAINT identity_events_kind_check;
ALTER TABLE identity_events ADD CONSTRAINT identity_events_kind_check CHECK (kind IN (
    'sign_in', 'sign_in_refused', 'sign_out', 'invitation_created', 'invitation_accepted', 'invitation_revoked',
    'membership_granted', 'membership_removed', 'sign_in_sources_changed', 'cli_token_issued'));

-- A person signed in from a tenant (called in the same transaction as person_signed_in).
CREATE FUNCTION person_tenant_seen(p_person uuid, p_tenant text) RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    UPDATE people SET tenant = nullif(lower(left(p_tenant, 255)), '') WHERE person_id = p_person
$$;

-- The people who signed in from the current trust's domains or tenants and hold no role in it.
CREATE FUNCTION trust_people_waiting()
    RETURNS TABLE (person_id uuid, name text, email text, tenant text, last_sign_in_at timestamptz)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT p.person_id, p.name, p.email, p.tenant, p.last_sign_in_at
    FROM people p
    WHERE current_trust_id() IS NOT NULL
      AND ((p.email_verified AND EXISTS (
                SELECT 1 FROM trust_sign_in_sources s
                WHERE s.trust_id = current_trust_id() AND s.kind = 'email_domain' AND s.value = split_part(p.email, '@', 2)))
        OR (p.tenant IS NOT NULL AND EXISTS (
                SELECT 1 FROM trust_sign_in_sources s
                WHERE s.trust_id = current_trust_id() AND s.kind = 'tenant' AND s.value = p.tenant)))
      AND NOT EXISTS (
            SELECT 1 FROM api_tokens t
            WHERE t.person_id = p.person_id AND t.kind = 'membership' AND t.revoked_at IS NULL AND t.trust_id = current_trust_id())
    ORDER BY p.last_sign_in_at DESC NULLS LAST, p.email
$$;

-- A trust executive grants a role in the current trust to a person who waits for one or already holds one in it;
-- an existing membership of that role has its schools replaced (a role change). Returns the membership, or NULL
-- when the person is not one the trust may see.
CREATE FUNCTION grant_membership(p_person uuid, p_role text, p_urns integer[], p_actor uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    trust uuid := current_trust_id();
    who record;
    membership uuid;
    previous integer[];
BEGIN
    IF trust IS NULL OR p_role NOT IN ('trust_executive', 'school_leader') THEN
        RETURN NULL;
    END IF;
    SELECT p.person_id, p.email INTO who FROM people p
    WHERE p.person_id = p_person
      AND (EXISTS (SELECT 1 FROM trust_people_waiting() w WHERE w.person_id = p.person_id)
        OR EXISTS (SELECT 1 FROM api_tokens t WHERE t.person_id = p.person_id AND t.kind = 'membership' AND t.revoked_at IS NULL AND t.trust_id = trust));
    IF who.person_id IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT t.token_id, t.urns INTO membership, previous FROM api_tokens t
    WHERE t.person_id = p_person AND t.kind = 'membership' AND t.revoked_at IS NULL AND t.role = p_role AND t.trust_id = trust
    FOR UPDATE;
    IF membership IS NULL THEN
        INSERT INTO api_tokens (digest, role, trust_id, urns, label, created_by, kind, person_id)
        VALUES (sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), p_role, trust, coalesce(p_urns, '{}'),
                left('membership of ' || who.email, 200), p_actor, 'membership', p_person)
        RETURNING token_id INTO membership;
    ELSE
        UPDATE api_tokens SET urns = coalesce(p_urns, '{}') WHERE token_id = membership;
    END IF;
    PERFORM record_identity_event('membership_granted', trust, p_person, p_actor, NULL, who.email,
        jsonb_build_object('membership_id', membership, 'role', p_role, 'urns', to_jsonb(coalesce(p_urns, '{}'::integer[])),
                           'previous_urns', to_jsonb(previous)));
    RETURN membership;
END
$$;

REVOKE ALL ON FUNCTION person_tenant_seen(uuid, text), trust_people_waiting(), grant_membership(uuid, text, integer[], uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION person_tenant_seen(uuid, text), trust_people_waiting(), grant_membership(uuid, text, integer[], uuid) TO senstat_app;
