-- 0001: trusts, the school register, trust membership, academic terms, and the tenancy guard rails.
--
-- Tenancy: a trust is a tenant. Every tenant-owned table carries trust_id in its primary key, unique keys and
-- foreign keys between tenant tables, so the schema distributes by trust_id on Citus without a rewrite. Every
-- table has row-level security ENABLEd and FORCEd, so that even the owner's sessions obey the policies. The
-- server connects as senstat_app, which owns nothing and cannot bypass RLS, and sets the tenant per transaction:
--   SELECT set_config('senstat.trust_id', $1, true)
-- The role senstat_app must exist before this runs (Deploy/roles.sql; the embedded cluster creates it).

-- The tenant of the current transaction. Unset or '' is NULL, and `trust_id = NULL` matches nothing: policies
-- fail closed. A value that is not a uuid raises an error rather than matching anything.
CREATE FUNCTION current_trust_id() RETURNS uuid
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('senstat.trust_id', true), '')::uuid $$;

-- Platform scope, set only in transactions of an authenticated admin: creating trusts, importing the register.
CREATE FUNCTION in_platform_scope() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('senstat.scope', true), '') = 'platform' $$;

-- Trusts: the tenants. A trust sees its own row; the platform sees all.
CREATE TABLE trusts (
    trust_id    uuid        NOT NULL DEFAULT gen_random_uuid(),
    name        text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    -- GIAS "Trusts (code)", for example TR01234. Not unique in the database: a unique key without trust_id would
    -- not distribute; the register import keeps it unique under an advisory lock.
    gias_code   text        CHECK (gias_code ~ '^TR[0-9]{5}$'),
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (trust_id)
);
CREATE INDEX trusts_gias_code ON trusts (gias_code) WHERE gias_code IS NOT NULL;

-- The school register from GIAS: reference data shared by every tenant (a Citus reference table).
CREATE TABLE schools (
    urn                      integer     NOT NULL CHECK (urn BETWEEN 100000 AND 999999),
    name                     text        NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 200),
    phase                    text        NOT NULL CHECK (phase IN ('nursery', 'primary', 'middle_deemed_primary',
                                 'secondary', 'middle_deemed_secondary', '16_plus', 'all_through', 'not_applicable')),
    establishment_type       text        NOT NULL DEFAULT '',
    establishment_type_group text        NOT NULL DEFAULT '',
    la_code                  integer     CHECK (la_code BETWEEN 100 AND 999),
    la_name                  text        NOT NULL DEFAULT '',
    region                   text        NOT NULL DEFAULT '',
    status                   text        NOT NULL DEFAULT 'open'
                                 CHECK (status IN ('open', 'closed', 'open_proposed_to_close', 'proposed_to_open')),
    opened_on                date,
    closed_on                date,
    number_of_pupils         integer     CHECK (number_of_pupils >= 0),
    statutory_low_age        smallint,
    statutory_high_age       smallint,
    updated_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (urn)
);
CREATE INDEX schools_la_code ON schools (la_code);

-- Which trust a school belonged to, and when (valid_to exclusive; NULL while it is current). A return belongs to
-- the trust the school was in when it was submitted, so history is kept, never overwritten.
CREATE TABLE trust_memberships (
    trust_id    uuid NOT NULL REFERENCES trusts (trust_id),
    urn         integer NOT NULL REFERENCES schools (urn),
    valid_from  date NOT NULL,
    valid_to    date,
    PRIMARY KEY (trust_id, urn, valid_from),
    CHECK (valid_to IS NULL OR valid_to > valid_from)
);
-- "Which trust is this school in now?" is asked by URN (school pages, the register import).
CREATE INDEX trust_memberships_by_urn ON trust_memberships (urn, valid_from DESC);

-- Academic terms, written 2025-26-autumn, with census day and deadline (reference data).
-- Census days: autumn, first Thursday in October; spring, third Thursday in January; summer, third Thursday in
-- May. Deadline: 28 days after census day (SENCore's AcademicTerm computes the same; a test compares them).
CREATE TABLE academic_terms (
    term        text     NOT NULL CHECK (term ~ '^[0-9]{4}-[0-9]{2}-(autumn|spring|summer)$'),
    start_year  smallint NOT NULL,
    season      text     NOT NULL CHECK (season IN ('autumn', 'spring', 'summer')),
    census_day  date     NOT NULL,
    deadline    date     NOT NULL,
    PRIMARY KEY (term),
    UNIQUE (start_year, season)
);

INSERT INTO academic_terms (term, start_year, season, census_day, deadline)
SELECT y::text || '-' || lpad(((y + 1) % 100)::text, 2, '0') || '-' || s.season,
       y, s.season, c.census_day, c.census_day + 28
FROM generate_series(2010, 2040) AS y
CROSS JOIN (VALUES ('autumn', 10, 0), ('spring', 1, 1), ('summer', 5, 1)) AS s (season, month, year_offset)
CROSS JOIN LATERAL (SELECT make_date(y + s.year_offset, s.month, 1) AS first_day) f
CROSS JOIN LATERAL (
    SELECT f.first_day + ((4 - extract(isodow FROM f.first_day)::int + 7) % 7)
           + CASE WHEN s.season = 'autumn' THEN 0 ELSE 14 END AS census_day
) c;

-- Row-level security on every table, forced so that the owner's sessions obey it too.
ALTER TABLE trusts ENABLE ROW LEVEL SECURITY;
ALTER TABLE trusts FORCE ROW LEVEL SECURITY;
CREATE POLICY trusts_tenant ON trusts
    USING (trust_id = current_trust_id() OR in_platform_scope())
    WITH CHECK (trust_id = current_trust_id() OR in_platform_scope());

ALTER TABLE trust_memberships ENABLE ROW LEVEL SECURITY;
ALTER TABLE trust_memberships FORCE ROW LEVEL SECURITY;
CREATE POLICY trust_memberships_tenant ON trust_memberships
    USING (trust_id = current_trust_id() OR in_platform_scope())
    WITH CHECK (trust_id = current_trust_id() OR in_platform_scope());

-- The register is readable by every tenant; only the platform (an admin's import) writes it.
ALTER TABLE schools ENABLE ROW LEVEL SECURITY;
ALTER TABLE schools FORCE ROW LEVEL SECURITY;
CREATE POLICY schools_read ON schools FOR SELECT USING (true);
CREATE POLICY schools_platform_insert ON schools FOR INSERT WITH CHECK (in_platform_scope());
CREATE POLICY schools_platform_update ON schools FOR UPDATE USING (in_platform_scope()) WITH CHECK (in_platform_scope());

ALTER TABLE academic_terms ENABLE ROW LEVEL SECURITY;
ALTER TABLE academic_terms FORCE ROW LEVEL SECURITY;
CREATE POLICY academic_terms_read ON academic_terms FOR SELECT USING (true);

-- The server's role: what it may touch at all (RLS then decides which rows).
GRANT USAGE ON SCHEMA public TO senstat_app;
GRANT SELECT ON academic_terms TO senstat_app;
GRANT SELECT, INSERT, UPDATE ON schools TO senstat_app;
GRANT SELECT, INSERT, UPDATE ON trusts, trust_memberships TO senstat_app;
GRANT EXECUTE ON FUNCTION current_trust_id(), in_platform_scope() TO senstat_app;
