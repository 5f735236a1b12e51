-- pk_select: a primary-key SELECT of one account row (bench_peer.accounts,
-- the same shape as fluxcredits.accounts): the yardstick for usage.
\set a random(1, :naccounts)
SELECT * FROM bench_peer.accounts WHERE account = 'a' || :a::text;
