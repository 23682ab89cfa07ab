-- 0003: termly SEN returns with every version kept, approval, the audit log and idempotency keys.
--
-- A return belongs to the trust the school was in when it was submitted: trust_id leads every key.

CREATE TABLE sen_returns (
    trust_id           uuid        NOT NULL,
    urn                integer     NOT NULL REFERENCES schools (urn),
    term               text        NOT NULL REFERENCES academic_terms (term),
    current_version    integer     NOT NULL CHECK (current_version >= 1),
    status             text        NOT NULL DEFAULT 'submitted' CHECK (status IN ('submitted', 'approved')),
    -- The first version arrived after the term's deadline.
    late               boolean     NOT NULL DEFAULT false,
    -- The current version's headline counts, for comparisons without opening the payload.
    pupils_on_roll     integer     NOT NULL CHECK (pupils_on_roll >= 0),
    sen_support        integer     NOT NULL CHECK (sen_support >= 0),
    ehc_plan           integer     NOT NULL CHECK (ehc_plan >= 0),
    payload            jsonb       NOT NULL,
    first_submitted_at timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    approved_at        timestamptz,
    approved_by        uuid,
    PRIMARY KEY (trust_id, urn, term),
    FOREIGN KEY (trust_id) REFERENCES trusts (trust_id),
    CHECK (sen_support + ehc_plan <= pupils_on_roll),
    CHECK ((status = 'approved') = (approved_at IS NOT NULL))
);
-- A trust's returns for a term (comparison, completeness, export) lead with trust_id, then term.
CREATE INDEX sen_returns_by_term ON sen_returns (trust_id, term, urn);

CREATE TABLE sen_return_versions (
    trust_id     uuid        NOT NULL,
    urn          integer     NOT NULL,
    term         text        NOT NULL,
    version      integer     NOT NULL CHECK (version >= 1),
    payload      jsonb       NOT NULL,
    warnings     jsonb       NOT NULL DEFAULT '[]',
    late         boolean     NOT NULL,
    submitted_by uuid,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    -- How it arrived: a PUT of one return, or a trust's CSV import.
    source       text        NOT NULL CHECK (source IN ('api', 'import', 'demo')),
    PRIMARY KEY (trust_id, urn, term, version),
    FOREIGN KEY (trust_id, urn, term) REFERENCES sen_returns (trust_id, urn, term)
);

-- Every write, one row each: who, what, when, and digests of the object before and after. The server's role may
-- insert and read these rows, never change or delete them (no UPDATE or DELETE grant, and no policy for them).
CREATE TABLE audit_log (
    trust_id      uuid        NOT NULL,
    audit_id      bigint      GENERATED ALWAYS AS IDENTITY,
    actor         uuid,
    action        text        NOT NULL,
    object_type   text        NOT NULL,
    object_key    text        NOT NULL,
    at            timestamptz NOT NULL DEFAULT now(),
    before_digest text,
    after_digest  text,
    detail        jsonb,
    PRIMARY KEY (trust_id, audit_id)
);
CREATE INDEX audit_log_by_object ON audit_log (trust_id, object_type, object_key, at);

-- Bulk requests carry an Idempotency-Key; the same key and body answers the stored response.
CREATE TABLE idempotency_keys (
    trust_id        uuid        NOT NULL,
    key             text        NOT NULL CHECK (length(key) BETWEEN 1 AND 200),
    request_digest  text        NOT NULL,
    response_status integer     NOT NULL,
    response_body   text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, key)
);

ALTER TABLE sen_returns ENABLE ROW LEVEL SECURITY;
ALTER TABLE sen_returns FORCE ROW LEVEL SECURITY;
CREATE POLICY sen_returns_tenant ON sen_returns
    USING (trust_id = current_trust_id()) WITH CHECK (trust_id = current_trust_id());

ALTER TABLE sen_return_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sen_return_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY sen_return_versions_tenant ON sen_return_versions
    USING (trust_id = current_trust_id()) WITH CHECK (trust_id = current_trust_id());

ALTER TABLE audit_log ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_log FORCE ROW LEVEL SECURITY;
CREATE POLICY audit_log_read ON audit_log FOR SELECT USING (trust_id = current_trust_id());
CREATE POLICY audit_log_append ON audit_log FOR INSERT WITH CHECK (trust_id = current_trust_id());

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_tenant ON idempotency_keys
    USING (trust_id = current_trust_id()) WITH CHECK (trust_id = current_trust_id());

GRANT SELECT, INSERT, UPDATE ON sen_returns TO senstat_app;
GRANT SELECT, INSERT ON sen_return_versions TO senstat_app;
GRANT SELECT, INSERT ON audit_log TO senstat_app;
GRANT SELECT, INSERT ON idempotency_keys TO senstat_app;
