-- insert_bulk_plain: one INSERT of 10,000 rows into a table with no trigger
-- (bench_bulk.plain: id text PRIMARY KEY, account_id text, image text); the
-- figure the triggered bulk INSERTs are measured against.  All rows go to one
-- random account of the Bulk plan, like theirs; the ids (and images) are
-- unique over the run: a sequence value per statement, then the row number.
\set b random(1, 8)
WITH s AS MATERIALIZED (SELECT nextval('bench_bulk.batch')::text AS p)
INSERT INTO bench_bulk.plain (id, account_id, image)
SELECT s.p || '-' || g, 'bulk' || :b::text, s.p || '-' || g
  FROM s, generate_series(1, 10000) g;
