-- citus_consume_local (bench/citus.sh, the local mode): one compression
-- credit on a random one of the accounts the entry worker holds, numbered
-- in its local table bench_local.  The call is not delegated (it reads a
-- table): credits_consume runs on the worker itself, on its own shard, as
-- for an app that connects to the node holding the account.
\set n random(1, :nlocal)
SELECT fluxcredits.credits_consume(account, 'compression') FROM bench_local WHERE n = :n;
