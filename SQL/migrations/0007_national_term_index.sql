-- Every tenant path reads one trust's rows (indexes lead with trust_id). Two paths read one term across every
-- trust: a research release (release_term) and a national funnel. Without this index they scan every term's
-- returns (Docs/performance.md: 145 ms for one term of 750,000 returns).
CREATE INDEX sen_returns_by_national_term ON sen_returns (term);
