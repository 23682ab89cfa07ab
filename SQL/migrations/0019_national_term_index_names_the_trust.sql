-- 0019: the index for reading one term across every trust (0007) also holds the trust, so a statement that names
-- both the trust and the term never reads other trusts' rows through it.
--
-- An import's checks look up the trust's rows of the term it writes (trust_id, term and urn given). At the start of
-- a term the planner's statistics say the term has no rows, and it chose the index on the term alone: each import
-- then read every row of the term written so far, so a term's imports cost more the fuller the term (on the
-- benchmark's 25,000 schools, PostgreSQL's CPU per 10-school file was 14 ms against 6 on 3,000 schools;
-- Docs/performance.md). Through (term, trust_id) the same choice reads only the trust's rows. Research releases and
-- a national funnel, which read a term across every trust, use it as they used the old one.
CREATE INDEX sen_returns_by_national_term_and_trust ON sen_returns (term, trust_id);
DROP INDEX sen_returns_by_national_term;
