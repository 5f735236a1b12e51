-- floor: the least any one-call credit meter must write, in one round trip:
-- one counter row of a random (Pro) account updated, one ledger row inserted
-- (bench_floor: the same table shapes as fluxcredits 1.0).
\set r random(0, :maxr)
\set a 4 * :r + 2
WITH c AS (
    UPDATE bench_floor.counters
       SET used = used + 1
     WHERE account = 'a' || :a::text AND kind = 'compression'
    RETURNING account, kind, period_start
)
INSERT INTO bench_floor.ledger (at, account, entry, kind, period_start, monthly)
SELECT now(), account, 'consume', kind, period_start, 1 FROM c
RETURNING id;
