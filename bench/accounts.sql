-- accounts: bench/run.sh's accounts (psql -v n=ACCOUNTS), in the table
-- bench_accounts and opened in fluxcredits: a1..an, i % 4: 0 Free,
-- 1 Starter, 2 Pro, 3 Agency.  Used by the main database and by insert_one's
-- two databases, so that they hold the same accounts.
SET timezone = 'UTC';
-- Anchors spread over the last year (to the second), 20% of the accounts in
-- zones with DST.
CREATE TABLE bench_accounts AS
SELECT i, 'a' || i AS account,
       (ARRAY['Free', 'Starter', 'Pro', 'Agency'])[i % 4 + 1] AS plan,
       now() - ((i::bigint * 7919) % 31536000) * interval '1 second' AS anchor,
       CASE i % 10 WHEN 0 THEN 'America/New_York' WHEN 5 THEN 'Europe/Paris' ELSE 'UTC' END AS tz
  FROM generate_series(1, :n) i;
SELECT count(fluxcredits.credits_open_account(account, plan, anchor, tz)) FROM bench_accounts \g /dev/null
