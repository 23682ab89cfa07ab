-- 0008: the differential-privacy ledger in exact whole micro-ε (millionths of ε).
--
-- numeric(8,4) rounded every charge to four places: an ε below 0.00005 cost nothing and others were rounded
-- down. Charges are now whole numbers of micro-ε, added exactly; the API's ε has at most three decimals, so every
-- charge is exact. Existing figures convert exactly (four places fit in six); a charge rounds up, never down.
ALTER TABLE dp_budgets RENAME COLUMN budget TO budget_micro;
ALTER TABLE dp_budgets RENAME COLUMN spent TO spent_micro;
ALTER TABLE dp_budgets ALTER COLUMN budget_micro TYPE bigint USING ceil(budget_micro * 1000000)::bigint;
ALTER TABLE dp_budgets ALTER COLUMN spent_micro TYPE bigint USING ceil(spent_micro * 1000000)::bigint;
ALTER TABLE dp_budgets ADD CHECK (spent_micro >= 0);

ALTER TABLE dp_answers RENAME COLUMN epsilon TO epsilon_micro;
ALTER TABLE dp_answers ALTER COLUMN epsilon_micro TYPE bigint USING ceil(epsilon_micro * 1000000)::bigint;
ALTER TABLE dp_answers ADD CHECK (epsilon_micro > 0);
