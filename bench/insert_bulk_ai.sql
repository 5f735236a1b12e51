-- insert_bulk_ai: the INSERT of insert_bulk_plain into an identical table
-- with the AI trigger and an image column (fluxcredits.attach(table, 'ai',
-- 'account_id', 'image')): 10,000 AI credits, every row its own image (the
-- row's id), charged to one random account of the Bulk plan (ai_monthly
-- 2,000,000,000).
\set b random(1, 8)
WITH s AS MATERIALIZED (SELECT nextval('bench_bulk.batch')::text AS p)
INSERT INTO bench_bulk.ai (id, account_id, image)
SELECT s.p || '-' || g, 'bulk' || :b::text, s.p || '-' || g
  FROM s, generate_series(1, 10000) g;
