-- insert_one: the web path, a one-row INSERT into a table with the
-- compression trigger (fluxcredits.attach(table, 'compression',
-- 'account_id')), random Pro account.  bench/run.sh runs it in two databases
-- set up alike, one with the current build and one with fluxcredits 1.5.
\set r random(0, :maxr)
\set a 4 * :r + 2
INSERT INTO bench_one.images (id, account_id, image)
SELECT 'o' || n, 'a' || :a::text, 'o' || n
  FROM nextval('bench_one.ids') n;
