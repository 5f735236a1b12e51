-- trigger_upgrade: ALTER EXTENSION UPDATE from 1.5 moves the BEFORE INSERT
-- FOR EACH ROW charge() triggers of 1.5 to 1.6's AFTER INSERT ... FOR EACH
-- STATEMENT form: same name, same enabled state, partitions covered; and
-- from then on only the rows a statement inserts are charged.
CREATE EXTENSION fluxcredits VERSION '1.5';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- Charges made by a trigger are dated now(), so the messages that name the
-- (now-dependent) period are shown tersely.
SELECT fluxcredits.credits_open_account('acme', 'Free', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_open_account('beta', 'Starter', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_open_account('gamma', 'Starter', '2026-01-01 00:00+00');

-- The app's tables, each with a 1.5 trigger:
-- uploads: a hand-written compression trigger, on a table keyed by text;
CREATE TABLE uploads (
    name    text PRIMARY KEY,
    account text NOT NULL,
    hits    integer NOT NULL DEFAULT 1
);
CREATE TRIGGER charge_upload BEFORE INSERT ON uploads
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account', 'name');
-- alt_texts: attach() with an AI image column (AI image dedupe);
CREATE TABLE alt_texts (
    id      integer PRIMARY KEY,
    account text NOT NULL,
    image   text
);
SELECT fluxcredits.attach('alt_texts', 'ai', 'account', 'image');
-- jobs: a charge id column;
CREATE TABLE jobs (
    id        integer PRIMARY KEY,
    account   text NOT NULL,
    image     text,
    charge_id bigint
);
CREATE TRIGGER charge_job BEFORE INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account', 'image', '', 'charge_id');
-- archive: a trigger the app disabled, with a charge id column;
CREATE TABLE archive (id integer PRIMARY KEY, account text NOT NULL, charge_id bigint);
CREATE TRIGGER charge_archive BEFORE INSERT ON archive
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account', '', '', 'charge_id');
ALTER TABLE archive DISABLE TRIGGER charge_archive;
-- mirror: a trigger that fires only on a replica (ENABLE REPLICA);
CREATE TABLE mirror (id integer PRIMARY KEY, account text NOT NULL);
CREATE TRIGGER charge_mirror BEFORE INSERT ON mirror
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account');
ALTER TABLE mirror ENABLE REPLICA TRIGGER charge_mirror;
-- renders: a partitioned table, with a charge id column (1.5 clones the
-- row trigger to each partition).
CREATE TABLE renders (
    id        integer NOT NULL,
    account   text NOT NULL,
    image     text,
    charge_id bigint,
    PRIMARY KEY (account, id)
) PARTITION BY LIST (account);
CREATE TABLE renders_acme PARTITION OF renders FOR VALUES IN ('acme');
CREATE TABLE renders_other PARTITION OF renders DEFAULT;
CREATE TRIGGER charge_render BEFORE INSERT ON renders
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account', 'image', '', 'charge_id');

SELECT tgrelid::regclass AS "table", tgname, tgenabled, tgparentid <> 0 AS cloned
  FROM pg_trigger
 WHERE tgfoid = 'fluxcredits.charge()'::regprocedure
 ORDER BY tgrelid::regclass::text, tgname;

-- The bug 1.6 fixes: 1.5 charges in BEFORE INSERT FOR EACH ROW, before ON
-- CONFLICT looks for a conflict, so a row that ON CONFLICT skips or turns
-- into an update is charged all the same.
INSERT INTO uploads VALUES ('cat.png', 'acme');
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
INSERT INTO uploads VALUES ('cat.png', 'acme') ON CONFLICT DO NOTHING;
INSERT INTO uploads VALUES ('cat.png', 'acme')
    ON CONFLICT (name) DO UPDATE SET hits = uploads.hits + 1;
-- one row, three charges
SELECT name, hits FROM uploads;
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
SELECT count(*) AS ledger_rows FROM fluxcredits.ledger
 WHERE account = 'acme' AND entry = 'consume' AND image = 'cat.png';

-- A charge id column under 1.5: the row's charge.
INSERT INTO jobs (id, account, image) VALUES (1, 'beta', 'a.png');
SELECT j.id, l.entry, l.image FROM jobs j JOIN fluxcredits.ledger l ON l.id = j.charge_id;

-- Three 1.5 triggers that 1.6 cannot carry over as they are each stop the
-- update, naming the trigger or column; nothing is changed, the extension
-- stays at 1.5.  First, a WHEN condition (which rows to charge): a
-- statement trigger cannot have one, and moved without it, it would charge
-- every row.
CREATE TABLE picks (id integer, account text, billable boolean);
CREATE TRIGGER charge_picks BEFORE INSERT ON picks
FOR EACH ROW WHEN (NEW.billable) EXECUTE FUNCTION fluxcredits.charge('compression', 'account');
ALTER EXTENSION fluxcredits UPDATE TO '1.6';
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits';
DROP TRIGGER charge_picks ON picks;
-- An account column of a type 1.6 does not take (numeric: its text
-- depends on the column's scale): 42804 naming the column.
CREATE TABLE legacy (id integer, account_no numeric);
CREATE TRIGGER charge_legacy BEFORE INSERT ON legacy
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account_no');
ALTER EXTENSION fluxcredits UPDATE TO '1.6';
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits';
SELECT tgrelid::regclass AS "table", tgname, tgenabled, tgparentid <> 0 AS cloned
  FROM pg_trigger
 WHERE tgfoid = 'fluxcredits.charge()'::regprocedure
 ORDER BY tgrelid::regclass::text, tgname;
ALTER TABLE legacy ALTER COLUMN account_no TYPE text;
-- A trigger on one partition only: 1.5 charged the rows routed into it
-- through the partitioned table, which a statement trigger on the
-- partition would not see.
CREATE TABLE shots (id integer, account text) PARTITION BY RANGE (id);
CREATE TABLE shots_1 PARTITION OF shots FOR VALUES FROM (0) TO (100);
CREATE TRIGGER charge_shots BEFORE INSERT ON shots_1
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account');
ALTER EXTENSION fluxcredits UPDATE TO '1.6';
\echo :LAST_ERROR_SQLSTATE
SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits';
DROP TABLE shots;

-- With those fixed, the update goes through.
ALTER EXTENSION fluxcredits UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits';

-- The triggers' new definitions: the same names, AFTER INSERT ... FOR EACH
-- STATEMENT; jobs and renders also have a BEFORE ROW trigger named after it
-- with "_id" filling their charge id column (cloned to renders' partitions);
-- each partition of renders has a statement trigger of its own.
SELECT tgrelid::regclass AS "table", tgname, tgenabled,
       pg_get_triggerdef(oid) AS definition
  FROM pg_trigger
 WHERE tgfoid = 'fluxcredits.charge()'::regprocedure
 ORDER BY tgrelid::regclass::text, tgname;
\d jobs

-- The disabled trigger stays disabled, and so does its new charge id step:
-- an insert into archive charges nothing.
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');
INSERT INTO archive VALUES (1, 'gamma') RETURNING charge_id;
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');
-- Enabled again, both, it charges.
ALTER TABLE archive ENABLE TRIGGER ALL;
INSERT INTO archive VALUES (2, 'gamma') RETURNING charge_id IS NOT NULL AS has_charge_id;
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');
-- DISABLE TRIGGER ALL (as pg_restore --disable-triggers does) is accepted.
ALTER TABLE archive DISABLE TRIGGER ALL;
ALTER TABLE archive ENABLE TRIGGER ALL;
-- The replica trigger stays one: it fires under session_replication_role
-- replica only.
INSERT INTO mirror VALUES (1, 'gamma');
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');
SET session_replication_role = replica;
INSERT INTO mirror VALUES (2, 'gamma');
RESET session_replication_role;
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');

-- ON CONFLICT DO NOTHING no longer charges a row it skips; a DO UPDATE that
-- updates charges nothing either.  acme had 3 used.
INSERT INTO uploads VALUES ('cat.png', 'acme') ON CONFLICT DO NOTHING;
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
INSERT INTO uploads VALUES ('cat.png', 'acme')
    ON CONFLICT (name) DO UPDATE SET hits = uploads.hits + 1;
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
-- Of three rows, one conflicts: two are inserted, two charged.
INSERT INTO uploads VALUES ('cat.png', 'acme'), ('dog.png', 'acme'), ('owl.png', 'acme')
    ON CONFLICT DO NOTHING;
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
-- Two conflicting rows in one DO NOTHING statement: one inserted, one charge.
INSERT INTO uploads VALUES ('fox.png', 'acme'), ('fox.png', 'acme') ON CONFLICT DO NOTHING;
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
SELECT name, hits FROM uploads ORDER BY name;
SELECT image, count(*) FROM fluxcredits.ledger
 WHERE account = 'acme' AND entry = 'consume'
 GROUP BY image ORDER BY image;

-- A statement that does not fit is refused whole: acme (Free, 20) has 6
-- used; 15 rows do not fit, nothing is inserted or charged.
\set VERBOSITY terse
INSERT INTO uploads SELECT 'bulk-' || g, 'acme' FROM generate_series(1, 15) g;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS uploads, (SELECT compressor_used FROM fluxcredits.credits_usage('acme')) AS used
  FROM uploads;

-- AI image dedupe (attach()'s trigger, now one charge per statement): two
-- rows of one image and one of another cost 2; an image charged earlier in
-- the period costs nothing; a row without an image is always charged.
INSERT INTO alt_texts VALUES (1, 'beta', 'hero.jpg'), (2, 'beta', 'hero.jpg'), (3, 'beta', 'logo.svg');
SELECT ia_credits_used FROM fluxcredits.credits_usage('beta');
INSERT INTO alt_texts VALUES (4, 'beta', 'hero.jpg'), (5, 'beta', NULL), (6, 'beta', NULL);
SELECT ia_credits_used FROM fluxcredits.credits_usage('beta');
-- a conflicting row is not charged: 7 is new (a new image), 1 is skipped
INSERT INTO alt_texts VALUES (7, 'beta', 'new.jpg'), (1, 'beta', 'other.jpg') ON CONFLICT DO NOTHING;
SELECT ia_credits_used FROM fluxcredits.credits_usage('beta');
SELECT image, monthly, charge IS NOT NULL AS covered FROM fluxcredits.ledger
 WHERE account = 'beta' AND entry = 'consume' AND kind = 'ai' ORDER BY id;

-- The charge id column is filled, and points at the row's own ledger row
-- (row 1's is the 1.5 charge).
INSERT INTO jobs (id, account, image) VALUES (2, 'beta', 'b.png'), (3, 'gamma', 'c.png');
SELECT j.id, j.account, j.image, l.entry, l.kind, l.account = j.account AS same_account,
       l.image = j.image AS same_image, l.monthly
  FROM jobs j JOIN fluxcredits.ledger l ON l.id = j.charge_id
 ORDER BY j.id;
-- A row that ON CONFLICT skips is not charged (its pre-assigned id is a gap).
INSERT INTO jobs (id, account, image) VALUES (1, 'beta', 'again.png'), (4, 'beta', 'd.png')
    ON CONFLICT DO NOTHING;
SELECT j.id, j.image, l.image AS ledger_image
  FROM jobs j LEFT JOIN fluxcredits.ledger l ON l.id = j.charge_id
 ORDER BY j.id;
SELECT count(*) AS charges FROM fluxcredits.ledger WHERE image IN ('a.png', 'b.png', 'd.png', 'again.png');
SELECT compressor_used FROM fluxcredits.credits_usage('beta');

-- Partitions are charged once, whether a row is inserted through the
-- parent or into a partition directly.  beta has 3 compression used.
INSERT INTO renders VALUES (1, 'beta', 'r1.png'), (2, 'beta', 'r2.png');
SELECT compressor_used FROM fluxcredits.credits_usage('beta');
INSERT INTO renders_other VALUES (3, 'beta', 'r3.png');
SELECT compressor_used FROM fluxcredits.credits_usage('beta');
-- one statement, rows routed into both partitions
INSERT INTO renders VALUES (1, 'gamma', 'r4.png'), (4, 'beta', 'r5.png'), (1, 'acme', 'r6.png');
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');
SELECT compressor_used FROM fluxcredits.credits_usage('beta');
SELECT compressor_used FROM fluxcredits.credits_usage('acme');
-- and a partition's conflicting row is not charged, either way in
INSERT INTO renders VALUES (1, 'beta', 'r1.png') ON CONFLICT DO NOTHING;
INSERT INTO renders_other VALUES (1, 'beta', 'r1.png') ON CONFLICT DO NOTHING;
SELECT compressor_used FROM fluxcredits.credits_usage('beta');
SELECT image, count(*) FROM fluxcredits.ledger
 WHERE image LIKE 'r_.png' AND entry = 'consume'
 GROUP BY image ORDER BY image;
-- Each row of renders has its charge id, naming its charge.
SELECT r.tableoid::regclass AS partition, r.account, r.id, r.image,
       l.account AS charged, l.image AS charged_image
  FROM renders r LEFT JOIN fluxcredits.ledger l ON l.id = r.charge_id
 ORDER BY r.account, r.id;

-- A partition created after the update gets the statement trigger (and the
-- charge id step's clone): charged once either way in.
SELECT fluxcredits.credits_open_account('delta', 'Starter', '2026-01-01 00:00+00');
CREATE TABLE renders_delta PARTITION OF renders FOR VALUES IN ('delta');
INSERT INTO renders VALUES (10, 'delta', 'r7.png');
INSERT INTO renders_delta VALUES (11, 'delta', 'r8.png');
SELECT compressor_used FROM fluxcredits.credits_usage('delta');
SELECT r.tableoid::regclass AS partition, r.id, l.image AS charged_image
  FROM renders r LEFT JOIN fluxcredits.ledger l ON l.id = r.charge_id
 WHERE r.id >= 10 ORDER BY r.id;

-- The fixed legacy table now charges by its text column.
INSERT INTO legacy VALUES (1, 'gamma');
SELECT compressor_used FROM fluxcredits.credits_usage('gamma');

SELECT * FROM fluxcredits.credits_check();
DROP TABLE uploads, alt_texts, jobs, archive, mirror, renders, legacy, picks;
DROP EXTENSION fluxcredits;
