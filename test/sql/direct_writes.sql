-- direct_writes: a charge writes its counter slot and ledger row without
-- the executor (src/write.c).  What SQL would have done must still happen:
-- every index gets its entries (amcheck's heapallindexed check finds a row
-- an index misses), unique indexes refuse duplicates and change nothing,
-- and what only SQL does (a DBA's trigger, a column default) sends the
-- write through SQL.
CREATE EXTENSION fluxcredits;
CREATE EXTENSION amcheck;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- Every index of the ledger and the counters holds every row it should
-- (bt_index_check raises an error otherwise for a btree; the hash index is
-- searched for each row): the names of those checked.
CREATE FUNCTION check_indexes() RETURNS SETOF text LANGUAGE plpgsql
SET enable_seqscan = off SET enable_bitmapscan = off AS $$
DECLARE
    r record;
    q text;
    line text;
    through boolean;
    n bigint;
BEGIN
    -- The btrees: amcheck, with an entry for every heap row.
    RETURN QUERY
    WITH i AS MATERIALIZED (
        SELECT x.indexrelid FROM pg_index x JOIN pg_class c ON c.oid = x.indexrelid
         WHERE x.indrelid IN ('fluxcredits.ledger'::regclass, 'fluxcredits.counters'::regclass)
           AND c.relam = (SELECT oid FROM pg_am WHERE amname = 'btree'))
    SELECT i.indexrelid::regclass::text
      FROM i CROSS JOIN LATERAL bt_index_check(i.indexrelid, true)
     ORDER BY 1;
    -- The hash index on counters (amcheck has no hash check): every row is
    -- found through it (with the row's values as constants, so that the plan,
    -- checked too, is the one a lookup of them gets; ctid as text is no TID
    -- scan).
    FOR r IN SELECT ctid, account, period_start FROM fluxcredits.counters LOOP
        q := format('SELECT FROM fluxcredits.counters c
                      WHERE fluxcredits._counters_key(c.account, c.period_start)
                            = fluxcredits._counters_key(%L, %L)
                        AND c.ctid::text = %L', r.account, r.period_start, r.ctid);
        through := false;
        FOR line IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
            through := through OR line LIKE '%Index Scan using counters_account_period %';
        END LOOP;
        EXECUTE q;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF NOT through OR n <> 1 THEN
            RAISE EXCEPTION 'counters row % (%, %) is not found through counters_account_period',
                r.ctid, r.account, r.period_start;
        END IF;
    END LOOP;
    RETURN NEXT 'fluxcredits.counters_account_period (every row found through it)';
END
$$;

SELECT fluxcredits.credits_open_account('a', 'Pro', '2026-01-05 00:00+00');
SELECT fluxcredits.credits_open_account('b', 'Starter', '2026-01-05 00:00+00');
-- One of each kind of row a charge writes: plain compression, AI with an
-- image (ledger_ai_image), with a key (ledger_idempotency_key), an AI charge
-- of an image already charged, with a key (charge set: ledger_charge), and
-- a hold.
SELECT fluxcredits.credits_consume('a', 'compression', 3, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('a', 'ai', image => 'i1.png', at => '2026-01-10 00:00+00') AS ai1 \gset
SELECT fluxcredits.credits_consume('a', 'ai', 2, idempotency_key => 'k1', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('a', 'ai', image => 'i1.png', idempotency_key => 'k2',
                                   at => '2026-01-10 00:00+00') = :ai1 AS covered;
SELECT fluxcredits.credits_reserve('b', 'compression', 4, at => '2026-01-10 00:00+00') > 0 AS held;
SELECT account, entry, kind, monthly, topup, image, idempotency_key, charge = :ai1 AS covering
  FROM fluxcredits.ledger ORDER BY id;
SELECT check_indexes() AS checked;
-- The ids come from the ledger's identity sequence, in order.
SELECT count(*) = max(id) - min(id) + 1 AS ids_dense FROM fluxcredits.ledger;

-- A DBA's index that an UPDATE of used cannot keep HOT: the slot's new
-- version gets entries in every index.
CREATE INDEX counters_used ON fluxcredits.counters (used);
SELECT fluxcredits.credits_consume('a', 'compression', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT check_indexes() AS checked;
SELECT fluxcredits.credits_consume('a', 'compression', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT check_indexes() AS checked;
SELECT used FROM fluxcredits.counters WHERE account = 'a' AND kind = 'compression';
DROP INDEX fluxcredits.counters_used;
-- The same with an exclusion constraint on counters, which only the
-- executor's routine writes: the slot's new version gets its entries there
-- (a crash before 1.3: that routine was asked to treat it as an UPDATE).
CREATE INDEX counters_used ON fluxcredits.counters (used);
ALTER TABLE fluxcredits.counters ADD CONSTRAINT counters_one_slot
    EXCLUDE USING btree (account WITH =, period_start WITH =, kind WITH =, slot WITH =);
SELECT fluxcredits.credits_consume('a', 'compression', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT check_indexes() AS checked;
SELECT used FROM fluxcredits.counters WHERE account = 'a' AND kind = 'compression';
ALTER TABLE fluxcredits.counters DROP CONSTRAINT counters_one_slot;
DROP INDEX fluxcredits.counters_used;

-- A DBA's expression index and unique partial index on the ledger: written
-- here (the expression computed as the executor would), and the unique one
-- refuses a duplicate; the refused charge
-- leaves nothing behind.
CREATE INDEX ledger_lower_image ON fluxcredits.ledger (lower(image));
CREATE UNIQUE INDEX ledger_one_image ON fluxcredits.ledger (image)
    WHERE kind = 'compression' AND image IS NOT NULL;
SELECT fluxcredits.credits_consume('a', 'compression', image => 'c1.png', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('a', 'compression', image => 'c1.png', at => '2026-01-10 00:00+00');
SELECT compressor_used FROM fluxcredits.credits_usage('a', '2026-01-10 00:00+00');
SELECT count(*) AS c1_rows FROM fluxcredits.ledger WHERE image = 'c1.png';
SELECT check_indexes() AS checked;
DROP INDEX fluxcredits.ledger_lower_image;
-- The same with only the partial unique index (plain columns: written here).
SELECT fluxcredits.credits_consume('a', 'compression', image => 'c1.png', at => '2026-01-10 00:00+00');
SELECT fluxcredits.credits_consume('a', 'compression', image => 'c2.png', at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT compressor_used FROM fluxcredits.credits_usage('a', '2026-01-10 00:00+00');
SELECT check_indexes() AS checked;
DROP INDEX fluxcredits.ledger_one_image;
SELECT * FROM fluxcredits.credits_check();

-- A DBA's triggers fire: the writes then go through SQL.
CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'counters' THEN
        RAISE NOTICE '% % on counters: used % -> %', TG_WHEN, TG_OP, OLD.used, NEW.used;
    ELSIF TG_TABLE_NAME = 'accounts' THEN
        RAISE NOTICE '% % on accounts: topup_balance % -> %', TG_WHEN, TG_OP,
            OLD.topup_balance, NEW.topup_balance;
    ELSE
        RAISE NOTICE '% % on ledger: % %', TG_WHEN, TG_OP, NEW.entry, NEW.monthly;
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit AFTER INSERT ON fluxcredits.ledger FOR EACH ROW EXECUTE FUNCTION audit();
SELECT fluxcredits.credits_consume('a', 'compression', 2, at => '2026-01-10 00:00+00') > 0 AS charged;
DROP TRIGGER audit ON fluxcredits.ledger;
CREATE TRIGGER audit BEFORE UPDATE ON fluxcredits.counters FOR EACH ROW EXECUTE FUNCTION audit();
SELECT fluxcredits.credits_consume('a', 'compression', 2, at => '2026-01-10 00:00+00') > 0 AS charged;
DROP TRIGGER audit ON fluxcredits.counters;
-- and no longer once they are gone
SELECT fluxcredits.credits_consume('a', 'compression', 2, at => '2026-01-10 00:00+00') > 0 AS charged;

-- A column a DBA added gets its default (through SQL); once dropped, the
-- direct write is back.
ALTER TABLE fluxcredits.ledger ADD COLUMN note text DEFAULT 'from the app';
SELECT fluxcredits.credits_consume('a', 'compression', at => '2026-01-10 00:00+00') AS n1 \gset
SELECT note FROM fluxcredits.ledger WHERE id = :n1;
ALTER TABLE fluxcredits.ledger DROP COLUMN note;
SELECT fluxcredits.credits_consume('a', 'compression', at => '2026-01-10 00:00+00') > :n1 AS charged;
SELECT compressor_used FROM fluxcredits.credits_usage('a', '2026-01-10 00:00+00');
SELECT check_indexes() AS checked;
SELECT * FROM fluxcredits.credits_check();

-- The exact path of a charge (src/consume.c, charge_slow) writes here too.
-- Starter account b's AI charges past its 200 monthly credits draw on a
-- top-up: the first makes the period's slot (through SQL), the second
-- raises that slot's topup_used here; both lower the account's balance
-- here.  A DBA's index on the balance keeps those updates from being HOT,
-- so the account's new versions need entries in every index of accounts.
CREATE INDEX accounts_balance ON fluxcredits.accounts (topup_balance);
SELECT fluxcredits.credits_topup('b', 10, 'pay-b1', at => '2026-01-10 00:00+00') > 0 AS topped_up;
SELECT fluxcredits.credits_consume('b', 'ai', 203, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('b', 'ai', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT a.topup_balance, c.slot, c.used, c.topup_used, c.cap
  FROM fluxcredits.accounts a JOIN fluxcredits.counters c USING (account)
 WHERE a.account = 'b' AND c.kind = 'ai';
SELECT i::text AS checked
  FROM unnest(ARRAY['fluxcredits.accounts_pkey'::regclass, 'fluxcredits.accounts_balance'::regclass]) i
 CROSS JOIN LATERAL bt_index_check(i, true);
-- credits_usage reads the account through the hash index accounts_account:
-- it finds the newest version.
SELECT ia_topup_credits FROM fluxcredits.credits_usage('b', '2026-01-10 00:00+00');
DROP INDEX fluxcredits.accounts_balance;
-- CHECK constraints a DBA adds (NOT VALID ones too, as in SQL) hold on
-- those updates: a charge that would break one fails with 23514 and
-- changes nothing.
ALTER TABLE fluxcredits.accounts ADD CONSTRAINT keep_two CHECK (topup_balance >= 2) NOT VALID;
SELECT fluxcredits.credits_consume('b', 'ai', 5, at => '2026-01-10 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE fluxcredits.accounts DROP CONSTRAINT keep_two;
ALTER TABLE fluxcredits.counters ADD CONSTRAINT topup_five CHECK (topup_used <= 5) NOT VALID;
SELECT fluxcredits.credits_consume('b', 'ai', 2, at => '2026-01-10 00:00+00');
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE fluxcredits.counters DROP CONSTRAINT topup_five;
SELECT a.topup_balance, c.used, c.topup_used
  FROM fluxcredits.accounts a JOIN fluxcredits.counters c USING (account)
 WHERE a.account = 'b' AND c.kind = 'ai';
-- A DBA's triggers on accounts and counters fire: the writes go through SQL.
CREATE TRIGGER audit BEFORE UPDATE ON fluxcredits.accounts FOR EACH ROW EXECUTE FUNCTION audit();
CREATE TRIGGER audit BEFORE UPDATE ON fluxcredits.counters FOR EACH ROW EXECUTE FUNCTION audit();
SELECT fluxcredits.credits_consume('b', 'ai', 2, at => '2026-01-10 00:00+00') > 0 AS charged;
DROP TRIGGER audit ON fluxcredits.accounts;
DROP TRIGGER audit ON fluxcredits.counters;
SELECT fluxcredits.credits_consume('b', 'ai', 1, at => '2026-01-10 00:00+00') > 0 AS charged;
SELECT ia_credits_used, ia_topup_credits FROM fluxcredits.credits_usage('b', '2026-01-10 00:00+00');
SELECT check_indexes() AS checked;
SELECT * FROM fluxcredits.credits_check();
DROP EXTENSION fluxcredits;
DROP EXTENSION amcheck;
