-- insert_bulk_compression: the INSERT of insert_bulk_plain into an identical
-- table with the compression trigger (fluxcredits.attach(table,
-- 'compression', 'account_id')): 10,000 compression credits charged to one
-- random account of the Bulk plan (compression_limit 2,000,000,000: limited,
-- so that every row's limit check runs, and enough).
\set b random(1, 8)
WITH s AS MATERIALIZED (SELECT nextval('bench_bulk.batch')::text AS p)
INSERT INTO bench_bulk.compression (id, account_id, image)
SELECT s.p || '-' || g, 'bulk' || :b::text, s.p || '-' || g
  FROM s, generate_series(1, 10000) g;
