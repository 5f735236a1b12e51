-- citus_consume (bench/citus.sh): one compression credit on a random one of
-- its accounts c1 .. c<naccounts> (all on Pro: unlimited compression).  On
-- Citus, credits_consume is delegated to the node holding the account.
\set a random(1, :naccounts)
SELECT fluxcredits.credits_consume('c' || :a, 'compression');
