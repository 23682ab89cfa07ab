-- 0005: wellbeing survey instruments and returns; frozen research releases; the differential-privacy ledger.
--
-- Researchers never read tenant tables. An admin's release freezes, through release_term(), a snapshot of one
-- term's returns in which trusts appear only as a pseudonymous key and a size band; every research answer is
-- computed from that snapshot and passes disclosure control in the server.

-- Survey instruments are versioned data: items with codes and response options.
CREATE TABLE instruments (
    code        text        NOT NULL CHECK (code ~ '^[a-z][a-z0-9_]{1,40}$'),
    version     integer     NOT NULL CHECK (version >= 1),
    title       text        NOT NULL,
    audience    text        NOT NULL CHECK (audience IN ('school_leaders', 'pupils')),
    definition  jsonb       NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (code, version)
);

-- A school's aggregated survey counts for one term: respondents and, per item, the count for each option.
-- No free text and no individual responses exist anywhere.
CREATE TABLE survey_returns (
    trust_id           uuid        NOT NULL REFERENCES trusts (trust_id),
    urn                integer     NOT NULL REFERENCES schools (urn),
    instrument         text        NOT NULL,
    term               text        NOT NULL REFERENCES academic_terms (term),
    instrument_version integer     NOT NULL,
    current_version    integer     NOT NULL CHECK (current_version >= 1),
    respondents        integer     NOT NULL CHECK (respondents >= 0),
    payload            jsonb       NOT NULL,
    first_submitted_at timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, urn, instrument, term),
    FOREIGN KEY (instrument, instrument_version) REFERENCES instruments (code, version)
);
CREATE INDEX survey_returns_by_term ON survey_returns (trust_id, instrument, term, urn);

CREATE TABLE survey_return_versions (
    trust_id     uuid        NOT NULL,
    urn          integer     NOT NULL,
    instrument   text        NOT NULL,
    term         text        NOT NULL,
    version      integer     NOT NULL,
    respondents  integer     NOT NULL,
    payload      jsonb       NOT NULL,
    submitted_by uuid,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id, urn, instrument, term, version),
    FOREIGN KEY (trust_id, urn, instrument, term) REFERENCES survey_returns (trust_id, urn, instrument, term)
);

-- A release freezes a term for research. One per term: a second release of the same term could be differenced
-- against the first.
CREATE TABLE releases (
    term        text        NOT NULL REFERENCES academic_terms (term),
    released_at timestamptz NOT NULL DEFAULT now(),
    released_by uuid,
    schools     integer     NOT NULL,
    PRIMARY KEY (term)
);

CREATE TABLE release_sen (
    term            text    NOT NULL REFERENCES releases (term),
    urn             integer NOT NULL,
    trust_key       text    NOT NULL,
    trust_size_band text    NOT NULL,
    region          text    NOT NULL,
    la_code         integer,
    la_name         text    NOT NULL,
    phase           text    NOT NULL,
    pupils_on_roll  integer NOT NULL,
    sen_support     integer NOT NULL,
    ehc_plan        integer NOT NULL,
    needs           jsonb,
    PRIMARY KEY (term, urn)
);

CREATE TABLE release_surveys (
    term            text    NOT NULL REFERENCES releases (term),
    instrument      text    NOT NULL,
    urn             integer NOT NULL,
    trust_key       text    NOT NULL,
    trust_size_band text    NOT NULL,
    region          text    NOT NULL,
    la_code         integer,
    la_name         text    NOT NULL,
    phase           text    NOT NULL,
    respondents     integer NOT NULL,
    counts          jsonb   NOT NULL,
    PRIMARY KEY (term, instrument, urn)
);

-- Differential privacy: each researcher's spending per release, and every answer given (a repeat is free).
CREATE TABLE dp_budgets (
    token_id uuid          NOT NULL,
    term     text          NOT NULL REFERENCES releases (term),
    budget   numeric(8,4)  NOT NULL CHECK (budget > 0),
    spent    numeric(8,4)  NOT NULL DEFAULT 0,
    PRIMARY KEY (token_id, term),
    CHECK (spent <= budget)
);

CREATE TABLE dp_answers (
    token_id   uuid         NOT NULL,
    term       text         NOT NULL,
    query_key  text         NOT NULL,
    epsilon    numeric(8,4) NOT NULL,
    answer     text         NOT NULL,
    created_at timestamptz  NOT NULL DEFAULT now(),
    PRIMARY KEY (token_id, term, query_key),
    FOREIGN KEY (token_id, term) REFERENCES dp_budgets (token_id, term)
);

-- The two instruments senstat ships (wording senstat's own; no published scale is reproduced).
INSERT INTO instruments (code, version, title, audience, definition) VALUES
('leader_concerns', 1, 'School leaders'' concerns about pupils'' wellbeing', 'school_leaders',
 '{"items": [{"code": "concern_mental_health", "text": "How concerned are you about pupils'' mental health?", "options": ["not", "somewhat", "very"]}, {"code": "concern_self_harm", "text": "How concerned are you about self-harm among pupils?", "options": ["not", "somewhat", "very"]}, {"code": "concern_anxiety", "text": "How concerned are you about pupils'' anxiety?", "options": ["not", "somewhat", "very"]}, {"code": "concern_domestic_violence", "text": "How concerned are you about domestic violence affecting pupils?", "options": ["not", "somewhat", "very"]}, {"code": "concern_cyber_bullying", "text": "How concerned are you about cyber bullying?", "options": ["not", "somewhat", "very"]}, {"code": "concern_bullying", "text": "How concerned are you about bullying?", "options": ["not", "somewhat", "very"]}, {"code": "concern_obesity", "text": "How concerned are you about obesity among pupils?", "options": ["not", "somewhat", "very"]}, {"code": "concern_substance_misuse", "text": "How concerned are you about substance misuse?", "options": ["not", "somewhat", "very"]}, {"code": "concern_online_safety", "text": "How concerned are you about pupils'' safety online?", "options": ["not", "somewhat", "very"]}, {"code": "specialist_support", "text": "Which specialist support does the school have access to?", "options": ["camhs_in_school", "employed_counsellor", "joint_specialist", "none"], "multiple": true}, {"code": "actions_taken", "text": "Which of these has the school done this term?", "options": ["staff_wellbeing_training", "tutor_time_sessions", "cross_school_meetings"], "multiple": true}]}'::jsonb),
('pupil_wellbeing', 1, 'Pupil wellbeing (short form)', 'pupils',
 '{"items": [{"code": "feel_safe", "text": "I feel safe at school.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "trusted_adult", "text": "There is an adult at school I can talk to if something worries me.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "belong", "text": "I feel I belong at this school.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "sleep_enough", "text": "I usually get enough sleep.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "worry_rarely", "text": "Most days I do not feel worried.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "active", "text": "I am physically active on most days.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}, {"code": "life_satisfied", "text": "Right now I am happy with my life.", "options": ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]}]}'::jsonb);

-- Tenant tables: the trust's own rows.
ALTER TABLE survey_returns ENABLE ROW LEVEL SECURITY;
ALTER TABLE survey_returns FORCE ROW LEVEL SECURITY;
CREATE POLICY survey_returns_tenant ON survey_returns
    USING (trust_id = current_trust_id()) WITH CHECK (trust_id = current_trust_id());
ALTER TABLE survey_return_versions ENABLE ROW LEVEL SECURITY;
ALTER TABLE survey_return_versions FORCE ROW LEVEL SECURITY;
CREATE POLICY survey_return_versions_tenant ON survey_return_versions
    USING (trust_id = current_trust_id()) WITH CHECK (trust_id = current_trust_id());

-- Reference and research data. Research scope ('research') is set only for researcher tokens.
CREATE FUNCTION in_research_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('senstat.scope', true), '') = 'research' $$;
GRANT EXECUTE ON FUNCTION in_research_scope() TO senstat_app;

ALTER TABLE instruments ENABLE ROW LEVEL SECURITY;
ALTER TABLE instruments FORCE ROW LEVEL SECURITY;
CREATE POLICY instruments_read ON instruments FOR SELECT USING (true);
CREATE POLICY instruments_platform_insert ON instruments FOR INSERT WITH CHECK (in_platform_scope());

ALTER TABLE releases ENABLE ROW LEVEL SECURITY;
ALTER TABLE releases FORCE ROW LEVEL SECURITY;
CREATE POLICY releases_read ON releases FOR SELECT USING (true);
CREATE POLICY releases_write ON releases FOR INSERT TO senstat_owner WITH CHECK (true);

ALTER TABLE release_sen ENABLE ROW LEVEL SECURITY;
ALTER TABLE release_sen FORCE ROW LEVEL SECURITY;
CREATE POLICY release_sen_research ON release_sen FOR SELECT USING (in_research_scope() OR in_platform_scope());
CREATE POLICY release_sen_write ON release_sen FOR INSERT TO senstat_owner WITH CHECK (true);
ALTER TABLE release_surveys ENABLE ROW LEVEL SECURITY;
ALTER TABLE release_surveys FORCE ROW LEVEL SECURITY;
CREATE POLICY release_surveys_research ON release_surveys FOR SELECT USING (in_research_scope() OR in_platform_scope());
CREATE POLICY release_surveys_write ON release_surveys FOR INSERT TO senstat_owner WITH CHECK (true);

ALTER TABLE dp_budgets ENABLE ROW LEVEL SECURITY;
ALTER TABLE dp_budgets FORCE ROW LEVEL SECURITY;
CREATE POLICY dp_budgets_research ON dp_budgets USING (in_research_scope()) WITH CHECK (in_research_scope());
ALTER TABLE dp_answers ENABLE ROW LEVEL SECURITY;
ALTER TABLE dp_answers FORCE ROW LEVEL SECURITY;
CREATE POLICY dp_answers_research ON dp_answers USING (in_research_scope()) WITH CHECK (in_research_scope());

-- The one path that reads every trust's returns: the owner-run release function, and only for SELECT.
CREATE POLICY sen_returns_release ON sen_returns FOR SELECT TO senstat_owner USING (true);
CREATE POLICY survey_returns_release ON survey_returns FOR SELECT TO senstat_owner USING (true);
CREATE POLICY trust_memberships_release ON trust_memberships FOR SELECT TO senstat_owner USING (true);

-- Freezes `release_term` for research. Trusts become a keyed hash and a size band; nothing else of them leaves.
CREATE FUNCTION release_term(release_term text, actor uuid, pseudonym_key text) RETURNS integer
    LANGUAGE plpgsql VOLATILE SECURITY DEFINER
    SET search_path = public, pg_temp
AS $$
DECLARE
    released integer;
BEGIN
    IF NOT in_platform_scope() THEN
        RAISE EXCEPTION 'a release is made by an admin' USING ERRCODE = '42501';
    END IF;
    INSERT INTO releases (term, released_by, schools) VALUES (release_term, actor, 0);
    WITH sizes AS (
        SELECT trust_id, count(*) AS schools FROM trust_memberships WHERE valid_to IS NULL GROUP BY trust_id
    ), base AS (
        SELECT r.trust_id, r.urn, s.region, s.la_code, s.la_name, s.phase,
               encode(sha256(convert_to(pseudonym_key || r.trust_id::text, 'UTF8')), 'hex') AS trust_key,
               CASE WHEN coalesce(z.schools, 0) <= 5 THEN '1-5' WHEN z.schools <= 15 THEN '6-15'
                    WHEN z.schools <= 30 THEN '16-30' ELSE '31+' END AS band
        FROM (SELECT trust_id, urn FROM sen_returns WHERE term = release_term
              UNION SELECT trust_id, urn FROM survey_returns WHERE term = release_term) r
        JOIN schools s ON s.urn = r.urn
        LEFT JOIN sizes z ON z.trust_id = r.trust_id
    ), sen AS (
        INSERT INTO release_sen (term, urn, trust_key, trust_size_band, region, la_code, la_name, phase,
                                 pupils_on_roll, sen_support, ehc_plan, needs)
        SELECT release_term, b.urn, b.trust_key, b.band, b.region, b.la_code, b.la_name, b.phase,
               r.pupils_on_roll, r.sen_support, r.ehc_plan, r.payload -> 'primary_need'
        FROM sen_returns r JOIN base b ON b.trust_id = r.trust_id AND b.urn = r.urn
        WHERE r.term = release_term
        RETURNING 1
    ), surveys AS (
        INSERT INTO release_surveys (term, instrument, urn, trust_key, trust_size_band, region, la_code, la_name,
                                     phase, respondents, counts)
        SELECT release_term, r.instrument, b.urn, b.trust_key, b.band, b.region, b.la_code, b.la_name, b.phase,
               r.respondents, r.payload -> 'items'
        FROM survey_returns r JOIN base b ON b.trust_id = r.trust_id AND b.urn = r.urn
        WHERE r.term = release_term
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM sen) + (SELECT count(*) FROM surveys) INTO released;
    UPDATE releases SET schools = (SELECT count(DISTINCT urn) FROM release_sen WHERE term = release_term)
    WHERE term = release_term;
    RETURN released;
END
$$;
REVOKE ALL ON FUNCTION release_term(text, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION release_term(text, uuid, text) TO senstat_app;
CREATE POLICY releases_owner_update ON releases FOR UPDATE TO senstat_owner USING (true) WITH CHECK (true);

GRANT SELECT, INSERT ON instruments TO senstat_app;
GRANT SELECT, INSERT, UPDATE ON survey_returns TO senstat_app;
GRANT SELECT, INSERT ON survey_return_versions TO senstat_app;
GRANT SELECT ON releases, release_sen, release_surveys TO senstat_app;
GRANT SELECT, INSERT, UPDATE ON dp_budgets TO senstat_app;
GRANT SELECT, INSERT ON dp_answers TO senstat_app;

