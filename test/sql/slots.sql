-- slots: the counter slots' caps follow the plan in force, whatever period a
-- charge is dated in, so the fast path never passes a limit.  (The cases the
-- fuzz run of t/003_fuzz.pl found against the first version of the slots.)
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
INSERT INTO fluxcredits.plans VALUES ('Tiny', 2, 1);

-- From an unlimited plan to a limited one: the unlimited slot keeps what it
-- counted and gets no room; no new slot gets the whole limit.
SELECT fluxcredits.credits_open_account('b', 'Pro', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('b', 'compression', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_set_plan('b', 'Tiny', '2026-01-10 00:01+00') > 0 AS changed;
SELECT fluxcredits.credits_try_consume('b', 'compression', at => '2026-01-10 00:02+00');
SELECT fluxcredits.credits_try_consume('b', 'compression', at => '2026-01-10 00:02+00');
SELECT compressor_used, compressor_limit FROM fluxcredits.credits_usage('b', '2026-01-10 00:02+00');
SELECT sum(cap) AS caps FROM fluxcredits.counters WHERE account = 'b';

-- A plan change dated in another period applies to every period's caps.
SELECT fluxcredits.credits_open_account('c', 'Agency', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('c', 'ai', at => '2026-04-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_set_plan('c', 'Free', '2026-02-10 00:00+00') > 0 AS changed;
SELECT fluxcredits.credits_try_consume('c', 'ai', 5, at => '2026-04-10 00:00+00');
SELECT ia_credits_used, ia_credits_monthly FROM fluxcredits.credits_usage('c', '2026-04-10 00:00+00');

-- ... including later periods that had no cap (an unlimited kind).
SELECT fluxcredits.credits_open_account('d', 'Pro', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('d', 'compression', at => '2026-03-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_set_plan('d', 'Tiny', '2026-01-10 00:00+00') > 0 AS changed;
SELECT fluxcredits.credits_try_consume('d', 'compression', 100, at => '2026-03-10 00:00+00');
SELECT fluxcredits.credits_try_consume('d', 'compression', 1, at => '2026-03-10 00:00+00');
SELECT fluxcredits.credits_try_consume('d', 'compression', 1, at => '2026-03-10 00:00+00');
SELECT compressor_used, compressor_limit FROM fluxcredits.credits_usage('d', '2026-03-10 00:00+00');

-- A DBA lowering a plan's limit: the caps of its accounts follow at once.
SELECT fluxcredits.credits_open_account('e', 'Starter', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_consume('e', 'compression', 10, at => '2026-01-10 00:00+00') > 0 AS charged;
UPDATE fluxcredits.plans SET compression_limit = 12 WHERE name = 'Starter';
SELECT fluxcredits.credits_try_consume('e', 'compression', 3, at => '2026-01-10 00:00+00');
SELECT fluxcredits.credits_try_consume('e', 'compression', 2, at => '2026-01-10 00:00+00');
SELECT slot, used, cap FROM fluxcredits.counters WHERE account = 'e' ORDER BY slot;
UPDATE fluxcredits.plans SET compression_limit = 200 WHERE name = 'Starter';
SELECT fluxcredits.credits_try_consume('e', 'compression', 3, at => '2026-01-10 00:00+00');

-- In every period of every account, the caps add up to no more than the
-- plan leaves.
SELECT c.account, c.kind, c.period_start, sum(c.cap) AS caps, sum(c.used) AS used,
       fluxcredits._plan_limit(a.plan, c.kind) AS lim
  FROM fluxcredits.counters c JOIN fluxcredits.accounts a USING (account)
 GROUP BY c.account, c.kind, c.period_start, a.plan
HAVING sum(c.cap) > greatest(fluxcredits._plan_limit(a.plan, c.kind), sum(c.used));

-- A read dated before a new anchor took effect gets the new anchor's period
-- cut at the change (a charge dated so is refused).
SELECT fluxcredits.credits_set_plan('e', 'Starter', '2026-03-01 00:00+00', new_anchor => '2026-03-01 00:00+00') > 0 AS changed;
SELECT period_start, period_end FROM fluxcredits.credits_usage('e', '2026-02-20 00:00+00');

SELECT * FROM fluxcredits.credits_check();
DROP EXTENSION fluxcredits;
