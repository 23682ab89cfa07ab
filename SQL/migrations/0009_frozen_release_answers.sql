-- 0009: research answers under disclosure control, frozen with their release.
--
-- Suppression is decided jointly for every table a release can produce (region, LA, phase, trust size; need),
-- so that no table can be subtracted from another to reveal a hidden cell. The first query of a family computes
-- every table of it from the frozen snapshot and stores them here; every later query reads the stored answer, so
-- no change of method or of code can make a later answer of the same release reveal more.
CREATE TABLE release_answers (
    term       text        NOT NULL REFERENCES releases (term),
    query      text        NOT NULL,
    group_by   text        NOT NULL,
    answer     text        NOT NULL,
    frozen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (term, query, group_by)
);

ALTER TABLE release_answers ENABLE ROW LEVEL SECURITY;
ALTER TABLE release_answers FORCE ROW LEVEL SECURITY;
-- Read and first written by researchers' transactions (research scope) only; never updated or deleted.
CREATE POLICY release_answers_read ON release_answers FOR SELECT USING (in_research_scope());
CREATE POLICY release_answers_freeze ON release_answers FOR INSERT WITH CHECK (in_research_scope());
GRANT SELECT, INSERT ON release_answers TO senstat_app;
