-- 0013: people who sign in with an identity provider, their memberships, invitations, and the sign-in audit trail
-- (Docs/security.md "People, memberships and tokens").
--
-- A person is an identity at a provider (issuer + subject). What a person may do is a membership: a role, and for
-- the trust roles a trust and (school leaders) schools, exactly what an API token carries. A membership is stored
-- as a row of api_tokens of kind 'membership', bound to the person and with no usable secret (its digest is of
-- random bytes nobody holds), so that everything that already follows a token follows a membership unchanged: the
-- principal it resolves to, row-level security, the actor recorded on every version and audit row, read-your-
-- writes, a researcher's privacy budget (kept across sign-ins, since the membership outlives them), and
-- revocation: removing a membership revokes its row, and every session signed in with it ends at its next request.

CREATE TABLE people (
    person_id       uuid        NOT NULL DEFAULT gen_random_uuid(),
    issuer          text        NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    subject         text        NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    email           text        NOT NULL DEFAULT '' CHECK (length(email) <= 320),
    email_verified  boolean     NOT NULL DEFAULT false,
    name            text        NOT NULL DEFAULT '' CHECK (length(name) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    PRIMARY KEY (person_id),
    UNIQUE (issuer, subject)
);
ALTER TABLE people ENABLE ROW LEVEL SECURITY;
ALTER TABLE people FORCE ROW LEVEL SECURITY;
-- Sign-in happens before any tenant is known: only the functions below (SECURITY DEFINER) write people.
CREATE POLICY people_owner ON people TO senstat_owner USING (true) WITH CHECK (true);

ALTER TABLE api_tokens
    ADD COLUMN person_id uuid REFERENCES people (person_id),
    ADD COLUMN kind text NOT NULL DEFAULT 'token' CHECK (kind IN ('token', 'membership')),
    ADD CONSTRAINT api_tokens_membership_has_person CHECK (kind = 'token' OR person_id IS NOT NULL);
-- One live membership per person, role and trust (a school leader's schools are one membership).
CREATE UNIQUE INDEX api_tokens_one_membership ON api_tokens (person_id, role, coalesce(trust_id, '00000000-0000-0000-0000-000000000000'::uuid))
    WHERE kind = 'membership' AND revoked_at IS NULL;
CREATE INDEX api_tokens_by_person ON api_tokens (person_id) WHERE person_id IS NOT NULL;

-- A trust sees the people who hold a membership of it (through api_tokens' own policy); the platform sees all.
CREATE POLICY people_read ON people FOR SELECT TO senstat_app
    USING (in_platform_scope() OR EXISTS (
        SELECT 1 FROM api_tokens t WHERE t.person_id = people.person_id AND t.trust_id = current_trust_id()));
GRANT SELECT ON people TO senstat_app;
-- person_signed_in() (as the owner, before any tenant) creates memberships, and person_memberships() names their
-- trusts.
CREATE POLICY api_tokens_membership_insert ON api_tokens FOR INSERT TO senstat_owner WITH CHECK (kind = 'membership');
CREATE POLICY trusts_membership_read ON trusts FOR SELECT TO senstat_owner USING (true);

-- Invitations: by email, for one role (and trust and schools), single use, until they expire. An invitation is
-- accepted by signing in with a verified email that matches it; `organisation`, where set, must also match the
-- organisation the provider says the person signs in for (DfE Sign-in: a school's URN or a trust's UID).
CREATE TABLE invitations (
    invitation_id uuid        NOT NULL DEFAULT gen_random_uuid(),
    email         text        NOT NULL CHECK (email = lower(email) AND email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 320),
    role          text        NOT NULL CHECK (role IN ('admin', 'trust_executive', 'school_leader', 'researcher')),
    trust_id      uuid,
    urns          integer[]   NOT NULL DEFAULT '{}',
    organisation  text        CHECK (length(organisation) <= 100),
    -- The token or membership that invited; NULL: the operator's command (`senstat-server invite`).
    invited_by    uuid,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   uuid        REFERENCES people (person_id),
    membership_id uuid,
    revoked_at    timestamptz,
    PRIMARY KEY (invitation_id),
    CHECK ((role IN ('trust_executive', 'school_leader')) = (trust_id IS NOT NULL)),
    CHECK ((role = 'school_leader') = (cardinality(urns) > 0)),
    CHECK ((accepted_at IS NULL) = (accepted_by IS NULL))
);
CREATE INDEX invitations_open_by_email ON invitations (email) WHERE accepted_at IS NULL AND revoked_at IS NULL;
CREATE INDEX invitations_by_trust ON invitations (trust_id, created_at) WHERE trust_id IS NOT NULL;
ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_tenant ON invitations
    USING (trust_id = current_trust_id() OR in_platform_scope())
    WITH CHECK (trust_id = current_trust_id() OR in_platform_scope());
CREATE POLICY invitations_owner ON invitations TO senstat_owner USING (true) WITH CHECK (true);
GRANT SELECT, INSERT, UPDATE ON invitations TO senstat_app;

-- Every sign-in, refused sign-in, sign-out, invitation, role change and membership removal: who, when, what.
-- Append-only: the server role reads its trust's rows (or all, in platform scope) and writes only through
-- record_identity_event(), since a refused sign-in has no tenant to write under.
CREATE TABLE identity_events (
    event_id  bigint      GENERATED ALWAYS AS IDENTITY,
    at        timestamptz NOT NULL DEFAULT now(),
    kind      text        NOT NULL CHECK (kind IN (
        'sign_in', 'sign_in_refused', 'sign_out', 'invitation_created', 'invitation_accepted', 'invitation_revoked',
        'membership_granted', 'membership_removed')),
    trust_id  uuid,
    person_id uuid,
    actor     uuid,
    issuer    text,
    email     text,
    detail    jsonb       NOT NULL DEFAULT '{}',
    PRIMARY KEY (event_id)
);
CREATE INDEX identity_events_by_trust ON identity_events (trust_id, at) WHERE trust_id IS NOT NULL;
ALTER TABLE identity_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE identity_events FORCE ROW LEVEL SECURITY;
CREATE POLICY identity_events_read ON identity_events FOR SELECT TO senstat_app
    USING (trust_id = current_trust_id() OR in_platform_scope());
CREATE POLICY identity_events_owner ON identity_events TO senstat_owner USING (true) WITH CHECK (true);
GRANT SELECT ON identity_events TO senstat_app;

CREATE FUNCTION record_identity_event(
    event_kind text, event_trust uuid, event_person uuid, event_actor uuid, event_issuer text, event_email text, event_detail jsonb)
    RETURNS void
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    INSERT INTO identity_events (kind, trust_id, person_id, actor, issuer, email, detail)
    VALUES (event_kind, event_trust, event_person, event_actor, left(event_issuer, 500), left(event_email, 320), coalesce(event_detail, '{}'))
$$;

-- A person has signed in (their provider's id_token checked in full by the server): the person is created or
-- updated, and if the email is verified, every open invitation to it (and, where the invitation names one, to the
-- organisation signed in for) is accepted, once, as a membership. Returns the person and how many invitations
-- were accepted.
CREATE FUNCTION person_signed_in(
    p_issuer text, p_subject text, p_email text, p_email_verified boolean, p_name text, p_organisations text[])
    RETURNS TABLE (person_id uuid, accepted integer)
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    who uuid;
    invitation record;
    membership uuid;
    taken integer := 0;
BEGIN
    INSERT INTO people AS p (issuer, subject, email, email_verified, name, last_sign_in_at)
    VALUES (p_issuer, p_subject, lower(coalesce(p_email, '')), coalesce(p_email_verified, false), left(coalesce(p_name, ''), 200), now())
    ON CONFLICT (issuer, subject) DO UPDATE
        SET email = excluded.email, email_verified = excluded.email_verified, name = excluded.name, last_sign_in_at = now()
    RETURNING p.person_id INTO who;

    IF coalesce(p_email_verified, false) AND coalesce(p_email, '') <> '' THEN
        FOR invitation IN
            SELECT * FROM invitations i
            WHERE i.email = lower(p_email) AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
              AND (i.organisation IS NULL OR i.organisation = ANY (coalesce(p_organisations, '{}')))
            ORDER BY i.created_at
            FOR UPDATE
        LOOP
            SELECT t.token_id INTO membership FROM api_tokens t
            WHERE t.person_id = who AND t.kind = 'membership' AND t.revoked_at IS NULL AND t.role = invitation.role
              AND t.trust_id IS NOT DISTINCT FROM invitation.trust_id
            FOR UPDATE;
            IF membership IS NULL THEN
                INSERT INTO api_tokens (digest, role, trust_id, urns, label, created_by, kind, person_id)
                VALUES (sha256(uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())), invitation.role, invitation.trust_id,
                        invitation.urns, left('membership of ' || lower(p_email), 200), invitation.invited_by, 'membership', who)
                RETURNING token_id INTO membership;
            ELSE
                UPDATE api_tokens SET urns = ARRAY(SELECT DISTINCT u FROM unnest(urns || invitation.urns) u ORDER BY u)
                WHERE token_id = membership;
            END IF;
            UPDATE invitations SET accepted_at = now(), accepted_by = who, membership_id = membership
            WHERE invitation_id = invitation.invitation_id;
            PERFORM record_identity_event('invitation_accepted', invitation.trust_id, who, membership, p_issuer, lower(p_email),
                jsonb_build_object('invitation_id', invitation.invitation_id, 'role', invitation.role, 'urns', to_jsonb(invitation.urns)));
            taken := taken + 1;
            membership := NULL;
        END LOOP;
    END IF;
    RETURN QUERY SELECT who, taken;
END
$$;

-- The live memberships of a person, with their trusts' names: what sign-in offers to act as.
CREATE FUNCTION person_memberships(p_person uuid)
    RETURNS TABLE (token_id uuid, role text, trust_id uuid, trust_name text, urns integer[])
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT t.token_id, t.role, t.trust_id, tr.name, t.urns
    FROM api_tokens t LEFT JOIN trusts tr ON tr.trust_id = t.trust_id
    WHERE t.person_id = p_person AND t.kind = 'membership' AND t.revoked_at IS NULL
      AND (t.expires_at IS NULL OR t.expires_at > now())
    ORDER BY t.role, tr.name
$$;

-- A person's own name and email, for their account page (the session knows the person; no tenant is needed).
CREATE FUNCTION person_profile(p_person uuid)
    RETURNS TABLE (name text, email text)
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    SELECT p.name, p.email FROM people p WHERE p.person_id = p_person
$$;

REVOKE ALL ON FUNCTION record_identity_event(text, uuid, uuid, uuid, text, text, jsonb),
    person_signed_in(text, text, text, boolean, text, text[]), person_memberships(uuid), person_profile(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION record_identity_event(text, uuid, uuid, uuid, text, text, jsonb),
    person_signed_in(text, text, text, boolean, text, text[]), person_memberships(uuid), person_profile(uuid) TO senstat_app;

-- A pending sign-in (state, nonce, PKCE verifier) is kept as a web_sessions row until the provider sends the browser
-- back; it is taken once: deleted and returned in one statement, unless it has expired.
CREATE FUNCTION web_session_take(k bytea) RETURNS jsonb
    LANGUAGE sql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
    DELETE FROM web_sessions s WHERE s.key_digest = k RETURNING CASE WHEN s.expires_at IS NULL OR s.expires_at > now() THEN s.value END
$$;
REVOKE ALL ON FUNCTION web_session_take(bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION web_session_take(bytea) TO senstat_app;
