-- trigger_rows: the charge trigger (1.6, AFTER INSERT ... FOR EACH STATEMENT)
-- charges exactly the rows a statement inserts: not a row that ON CONFLICT
-- skipped or turned into an update, nor one another trigger dropped; rows
-- routed into partitions once; nothing for a statement that is refused or
-- rolled back.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never
-- Charges made by a trigger are dated now(): the messages that name the
-- (now-dependent) period are shown tersely.
\set VERBOSITY terse

-- What an account has used this period, and its ledger rows (the columns
-- that do not depend on now()).
CREATE FUNCTION used(acct text)
RETURNS TABLE (compression bigint, ai bigint, topup_left bigint, ledger_rows bigint)
LANGUAGE sql AS $$
    SELECT u.compressor_used, u.ia_credits_used, u.ia_topup_credits,
           (SELECT count(*) FROM fluxcredits.ledger l
             WHERE l.account = acct AND l.entry = 'consume')
      FROM fluxcredits.credits_usage(acct) u
$$;
CREATE FUNCTION ledger_of(acct text)
RETURNS TABLE (entry text, kind text, monthly integer, topup integer, image text,
               idempotency_key text, covered boolean)
LANGUAGE sql AS $$
    SELECT l.entry::text, l.kind::text, l.monthly, l.topup, l.image,
           l.idempotency_key, l.charge IS NOT NULL
      FROM fluxcredits.ledger l
     WHERE l.account = acct AND l.entry = 'consume'
     ORDER BY l.id
$$;

-- The app's table: one compression credit per image row, the name recorded
-- as the ledger's image.
CREATE TABLE images (
    id      integer PRIMARY KEY,
    account text NOT NULL,
    name    text NOT NULL
);
SELECT fluxcredits.attach('images', 'compression', 'account', 'name');
SELECT pg_get_triggerdef(oid) FROM pg_trigger WHERE tgrelid = 'images'::regclass;

--------------------------------------------------------------------------
-- Plain INSERT, INSERT ... SELECT, COPY
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('plain', 'Starter', '2026-01-01 00:00+00');
-- A single-row INSERT charges one credit.
INSERT INTO images VALUES (1, 'plain', 'one.png');
SELECT * FROM used('plain');
-- A multi-row INSERT charges one credit per row.
INSERT INTO images VALUES (2, 'plain', 'two-a.png'), (3, 'plain', 'two-b.png'), (4, 'plain', 'two-c.png');
SELECT * FROM used('plain');
-- INSERT ... SELECT charges each row it inserts.
INSERT INTO images SELECT 10 + g, 'plain', 'series-' || g || '.png' FROM generate_series(1, 5) g;
SELECT * FROM used('plain');
-- An INSERT ... SELECT that inserts no row charges nothing.
INSERT INTO images SELECT 20 + g, 'plain', 'none-' || g FROM generate_series(1, 5) g WHERE false;
SELECT * FROM used('plain');
-- COPY FROM stdin charges each copied row.
COPY images (id, account, name) FROM stdin;
30	plain	copied-1.png
31	plain	copied-2.png
\.
SELECT * FROM used('plain');
-- One ledger row per inserted row, in statement order.
SELECT * FROM ledger_of('plain');
-- UPDATE and DELETE charge nothing.
UPDATE images SET name = name || '.bak' WHERE account = 'plain';
DELETE FROM images WHERE id = 1;
SELECT * FROM used('plain');
-- A statement that fails on its third row (after the first two were
-- inserted) charges nothing.
INSERT INTO images VALUES (40, 'plain', 'ok-1.png'), (41, 'plain', 'ok-2.png'), (42, 'plain', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('plain');

--------------------------------------------------------------------------
-- ON CONFLICT
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('upsert', 'Starter', '2026-01-01 00:00+00');
INSERT INTO images VALUES (100, 'upsert', 'u-100.png'), (101, 'upsert', 'u-101.png');
SELECT * FROM used('upsert');
-- ON CONFLICT DO NOTHING where every row conflicts: nothing inserted,
-- nothing charged.
INSERT INTO images VALUES (100, 'upsert', 'again-100.png'), (101, 'upsert', 'again-101.png')
ON CONFLICT DO NOTHING;
SELECT * FROM used('upsert');
-- New and conflicting rows in one statement: only the new ones are charged.
INSERT INTO images VALUES (100, 'upsert', 'again-100.png'), (102, 'upsert', 'u-102.png'),
                          (101, 'upsert', 'again-101.png'), (103, 'upsert', 'u-103.png')
ON CONFLICT (id) DO NOTHING;
SELECT * FROM used('upsert');
-- ON CONFLICT DO UPDATE: the updated rows are not charged, the inserted are.
INSERT INTO images VALUES (100, 'upsert', 'new-100.png'), (104, 'upsert', 'u-104.png'),
                          (103, 'upsert', 'new-103.png')
ON CONFLICT (id) DO UPDATE SET name = excluded.name
RETURNING id, name, xmax = 0 AS inserted;
SELECT * FROM used('upsert');
SELECT * FROM ledger_of('upsert');

--------------------------------------------------------------------------
-- MERGE: the rows it inserts are charged, the rows it updates are not
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('merge', 'Starter', '2026-01-01 00:00+00');
INSERT INTO images VALUES (150, 'merge', 'm-150.png');
MERGE INTO images i
USING (VALUES (150, 'm-150-v2.png'), (151, 'm-151.png'), (152, 'm-152.png')) AS s (id, name)
   ON i.id = s.id
 WHEN MATCHED THEN UPDATE SET name = s.name
 WHEN NOT MATCHED THEN INSERT VALUES (s.id, 'merge', s.name);
SELECT * FROM used('merge');
SELECT * FROM ledger_of('merge');

--------------------------------------------------------------------------
-- Rows another BEFORE trigger drops
--------------------------------------------------------------------------
CREATE FUNCTION skip_drafts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.name LIKE 'draft%' THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER skip_drafts BEFORE INSERT ON images FOR EACH ROW EXECUTE FUNCTION skip_drafts();
SELECT fluxcredits.credits_open_account('skip', 'Starter', '2026-01-01 00:00+00');
-- Of four rows, the two drafts are dropped: two are inserted and charged.
INSERT INTO images VALUES (200, 'skip', 'draft-1.png'), (201, 'skip', 'kept-1.png'),
                          (202, 'skip', 'draft-2.png'), (203, 'skip', 'kept-2.png');
SELECT id, name FROM images WHERE account = 'skip' ORDER BY id;
SELECT * FROM used('skip');
SELECT * FROM ledger_of('skip');
-- A statement whose every row is dropped charges nothing.
INSERT INTO images VALUES (204, 'skip', 'draft-3.png');
SELECT * FROM used('skip');
DROP TRIGGER skip_drafts ON images;

--------------------------------------------------------------------------
-- A statement that does not fit is refused whole
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('free', 'Free', '2026-01-01 00:00+00');
-- 21 rows on the Free plan (20 a month): FC001, no row, no credit.
INSERT INTO images SELECT 300 + g, 'free', 'f-' || g FROM generate_series(1, 21) g;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS rows FROM images WHERE account = 'free';
SELECT * FROM used('free');
-- 20 fit exactly.
INSERT INTO images SELECT 300 + g, 'free', 'f-' || g FROM generate_series(1, 20) g;
SELECT * FROM used('free');
-- Then one more row is refused.
INSERT INTO images VALUES (399, 'free', 'one-too-many.png');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('free');

--------------------------------------------------------------------------
-- Rolled back: a statement in a savepoint, a transaction
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('rollback', 'Starter', '2026-01-01 00:00+00');
BEGIN;
INSERT INTO images VALUES (400, 'rollback', 'kept.png');
SAVEPOINT s;
INSERT INTO images VALUES (401, 'rollback', 'undone-1.png'), (402, 'rollback', 'undone-2.png');
-- inside the savepoint: 3 charged
SELECT * FROM used('rollback');
ROLLBACK TO SAVEPOINT s;
-- the savepoint's statement is undone, charge included
SELECT * FROM used('rollback');
COMMIT;
SELECT * FROM used('rollback');
-- A rolled-back transaction leaves no charge.
BEGIN;
INSERT INTO images VALUES (403, 'rollback', 'undone-3.png');
ROLLBACK;
SELECT * FROM used('rollback');
SELECT * FROM ledger_of('rollback');

--------------------------------------------------------------------------
-- Several accounts in one statement
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('multi-a', 'Starter', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_open_account('multi-b', 'Free', '2026-01-01 00:00+00');
-- Each account is charged its own rows (rows interleaved).
INSERT INTO images VALUES (500, 'multi-a', 'a-1'), (501, 'multi-b', 'b-1'), (502, 'multi-a', 'a-2'),
                          (503, 'multi-b', 'b-2'), (504, 'multi-b', 'b-3');
SELECT a.account, u.* FROM (VALUES ('multi-a'), ('multi-b')) a (account), used(a.account) u;
-- 4 more rows for multi-a and 18 for multi-b (17 left): multi-b does not
-- fit, so the whole statement is refused, and multi-a (charged first, in
-- account order) is charged nothing.
INSERT INTO images SELECT 510 + g, CASE WHEN g <= 4 THEN 'multi-a' ELSE 'multi-b' END, 'x-' || g
  FROM generate_series(1, 22) g;
\echo :LAST_ERROR_SQLSTATE
SELECT a.account, u.* FROM (VALUES ('multi-a'), ('multi-b')) a (account), used(a.account) u;
-- 4 and 17 fit.
INSERT INTO images SELECT 510 + g, CASE WHEN g <= 4 THEN 'multi-a' ELSE 'multi-b' END, 'x-' || g
  FROM generate_series(1, 21) g;
SELECT a.account, u.* FROM (VALUES ('multi-a'), ('multi-b')) a (account), used(a.account) u;
-- A row of an unknown account refuses the statement: the known account's
-- rows are not charged either.
INSERT INTO images VALUES (540, 'multi-a', 'a-x'), (541, 'nobody', 'n-x');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('multi-a');
-- A NULL account too (the column allows NULL here).
ALTER TABLE images ALTER COLUMN account DROP NOT NULL;
INSERT INTO images VALUES (542, 'multi-a', 'a-y'), (543, NULL, 'n-y');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('multi-a');
ALTER TABLE images ALTER COLUMN account SET NOT NULL;

--------------------------------------------------------------------------
-- A writable CTE inserting into the same table twice
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('cte', 'Starter', '2026-01-01 00:00+00');
-- Two rows, then a copy of each: four rows inserted, each charged once.
WITH first AS (
    INSERT INTO images VALUES (600, 'cte', 'cte-1.png'), (601, 'cte', 'cte-2.png')
    RETURNING id, name
)
INSERT INTO images SELECT id + 10, 'cte', 'copy-of-' || name FROM first;
SELECT count(*) AS rows FROM images WHERE account = 'cte';
SELECT * FROM used('cte');
SELECT * FROM ledger_of('cte');

--------------------------------------------------------------------------
-- A partitioned table
--------------------------------------------------------------------------
SELECT fluxcredits.credits_open_account('parts', 'Starter', '2026-01-01 00:00+00');
CREATE TABLE uploads (
    day     integer NOT NULL,
    account text NOT NULL,
    name    text NOT NULL
) PARTITION BY RANGE (day);
CREATE TABLE uploads_1 PARTITION OF uploads FOR VALUES FROM (1) TO (11);
-- attach() gives the partitions there are a statement trigger of their own.
SELECT fluxcredits.attach('uploads', 'compression', 'account', 'name');
-- A partition created later gets one too ...
CREATE TABLE uploads_2 PARTITION OF uploads FOR VALUES FROM (11) TO (21);
-- ... and one attached with ATTACH PARTITION (its columns in another order),
CREATE TABLE uploads_3 (name text NOT NULL, gone integer, account text NOT NULL, day integer NOT NULL);
ALTER TABLE uploads_3 DROP COLUMN gone;
ALTER TABLE uploads ATTACH PARTITION uploads_3 FOR VALUES FROM (21) TO (31);
-- ... and a partitioned partition and its own partition (one trigger each).
CREATE TABLE uploads_4 PARTITION OF uploads FOR VALUES FROM (31) TO (41) PARTITION BY RANGE (day);
CREATE TABLE uploads_4a PARTITION OF uploads_4 FOR VALUES FROM (31) TO (41);
SELECT tgrelid::regclass AS "table", tgname, tgnewtable
  FROM pg_trigger WHERE tgfoid = 'fluxcredits.charge()'::regprocedure
                    AND tgrelid::regclass::text LIKE 'uploads%'
 ORDER BY tgrelid::regclass::text COLLATE "C";
-- Rows inserted through the parent, routed into every partition: each
-- charged once.
INSERT INTO uploads VALUES (5, 'parts', 'via-parent-1'), (15, 'parts', 'via-parent-2'),
                           (25, 'parts', 'via-parent-3'), (35, 'parts', 'via-parent-4');
SELECT * FROM used('parts');
-- A row inserted directly into each partition: charged once.
INSERT INTO uploads_1 VALUES (6, 'parts', 'direct-1');
INSERT INTO uploads_2 VALUES (16, 'parts', 'direct-2');
INSERT INTO uploads_3 (day, account, name) VALUES (26, 'parts', 'direct-3');
INSERT INTO uploads_4 VALUES (36, 'parts', 'direct-4');
INSERT INTO uploads_4a VALUES (37, 'parts', 'direct-4a');
SELECT * FROM used('parts');
-- COPY into the parent: each row charged once.
COPY uploads (day, account, name) FROM stdin;
7	parts	copied-1
27	parts	copied-2
\.
SELECT * FROM used('parts');
SELECT tableoid::regclass AS partition, count(*) AS rows FROM uploads
 GROUP BY tableoid ORDER BY tableoid::regclass::text COLLATE "C";
SELECT * FROM ledger_of('parts');
-- A refused statement through the parent charges nothing in any partition.
SELECT fluxcredits.credits_open_account('parts-free', 'Free', '2026-01-01 00:00+00');
INSERT INTO uploads SELECT g, 'parts-free', 'pf-' || g FROM generate_series(1, 40) g;
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('parts-free');
-- detach() drops the trigger of the parent and of every partition ...
SELECT fluxcredits.detach('uploads', 'compression');
SELECT count(*) AS charge_triggers FROM pg_trigger
 WHERE tgfoid = 'fluxcredits.charge()'::regprocedure AND tgrelid::regclass::text LIKE 'uploads%';
-- ... so that nothing is charged any more.
INSERT INTO uploads VALUES (8, 'parts', 'free-1'), (28, 'parts', 'free-2');
INSERT INTO uploads_2 VALUES (18, 'parts', 'free-3');
SELECT * FROM used('parts');
-- And a partition created after detach() gets none.
CREATE TABLE uploads_5 PARTITION OF uploads FOR VALUES FROM (41) TO (51);
SELECT count(*) AS charge_triggers FROM pg_trigger
 WHERE tgfoid = 'fluxcredits.charge()'::regprocedure AND tgrelid::regclass::text LIKE 'uploads%';

--------------------------------------------------------------------------
-- AI: one credit per image and period, within a statement and across
--------------------------------------------------------------------------
CREATE TABLE ai_jobs (
    id      serial PRIMARY KEY,
    account text NOT NULL,
    image   text,
    feature text
);
SELECT fluxcredits.attach('ai_jobs', 'ai', 'account', 'image');
SELECT fluxcredits.credits_open_account('ai', 'Starter', '2026-01-01 00:00+00');
-- Alt text and SEO rename of one image in one statement: 1 credit; rows
-- without an image are each charged: 1 + 2 + 1 = 4.
INSERT INTO ai_jobs (account, image, feature) VALUES
    ('ai', 'hero.jpg', 'alt text'), ('ai', 'hero.jpg', 'seo rename'),
    ('ai', NULL, 'caption'), ('ai', NULL, 'caption'), ('ai', 'logo.png', 'alt text');
SELECT * FROM used('ai');
SELECT * FROM ledger_of('ai');
-- A later statement: hero.jpg is already charged this period (no credit, no
-- ledger row), new.jpg costs one.
INSERT INTO ai_jobs (account, image, feature) VALUES
    ('ai', 'hero.jpg', 'alt text again'), ('ai', 'new.jpg', 'alt text'), ('ai', 'new.jpg', 'seo rename');
SELECT * FROM used('ai');
-- An image charged by credits_consume covers the trigger's rows, and the
-- other way round.
SELECT fluxcredits.credits_consume('ai', 'ai', image => 'by-call.jpg') > 0 AS charged;
INSERT INTO ai_jobs (account, image) VALUES ('ai', 'by-call.jpg');
SELECT * FROM used('ai');
SELECT fluxcredits.credits_consume('ai', 'ai', image => 'logo.png')
     = (SELECT id FROM fluxcredits.ledger WHERE account = 'ai' AND image = 'logo.png') AS same_charge;
SELECT * FROM used('ai');
-- Two statements of one transaction: the second sees the first's charge.
BEGIN;
INSERT INTO ai_jobs (account, image) VALUES ('ai', 'tx.jpg');
INSERT INTO ai_jobs (account, image) VALUES ('ai', 'tx.jpg'), ('ai', 'tx.jpg');
COMMIT;
SELECT * FROM used('ai');
-- A refunded charge covers the image no more: the next row charges again.
SELECT fluxcredits.credits_refund(id) > 0 AS refunded
  FROM fluxcredits.ledger WHERE account = 'ai' AND image = 'tx.jpg';
INSERT INTO ai_jobs (account, image) VALUES ('ai', 'tx.jpg'), ('ai', 'tx.jpg');
SELECT * FROM used('ai');
SELECT entry, monthly, image, charge IS NOT NULL AS names_a_charge
  FROM fluxcredits.ledger WHERE account = 'ai' AND image = 'tx.jpg' ORDER BY id;
-- Compression is never deduplicated: the same image twice costs twice.
INSERT INTO images VALUES (700, 'ai', 'hero.jpg'), (701, 'ai', 'hero.jpg');
SELECT * FROM used('ai');

-- AI drawing from the monthly allocation, then from the top-up, within one
-- statement: 198 of 200 monthly used, 5 top-up credits, 4 new images.
SELECT fluxcredits.credits_open_account('split', 'Starter', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_consume('split', 'ai', 198) > 0 AS charged;
SELECT fluxcredits.credits_topup('split', 5, 'pay-split-1') > 0 AS credited;
INSERT INTO ai_jobs (account, image) VALUES
    ('split', 's-1.jpg'), ('split', 's-2.jpg'), ('split', 's-1.jpg'), ('split', 's-3.jpg'), ('split', 's-4.jpg');
SELECT * FROM used('split');
SELECT * FROM ledger_of('split');
-- 3 top-up credits left: four new images do not fit, nothing is charged.
INSERT INTO ai_jobs (account, image) VALUES ('split', 's-5.jpg'), ('split', 's-6.jpg'),
                                            ('split', 's-7.jpg'), ('split', 's-8.jpg');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('split');
-- ... but an image already charged (twice) and three new images do.
INSERT INTO ai_jobs (account, image) VALUES ('split', 's-2.jpg'), ('split', 's-5.jpg'), ('split', 's-2.jpg'),
                                            ('split', 's-6.jpg'), ('split', 's-7.jpg');
SELECT * FROM used('split');

--------------------------------------------------------------------------
-- An idempotency key column
--------------------------------------------------------------------------
CREATE TABLE requests (
    id          serial PRIMARY KEY,
    account     text NOT NULL,
    image       text,
    request_key text
);
CREATE TRIGGER charge_requests AFTER INSERT ON requests
REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'account', 'image', 'request_key');
SELECT fluxcredits.credits_open_account('keys', 'Free', '2026-01-01 00:00+00');
-- A key charges once; a later statement with the same key charges nothing
-- (its row is inserted).
INSERT INTO requests (account, image, request_key) VALUES ('keys', 'k.png', 'req-1');
INSERT INTO requests (account, image, request_key) VALUES ('keys', 'k.png', 'req-1');
SELECT count(*) AS rows FROM requests WHERE request_key = 'req-1';
SELECT * FROM used('keys');
-- Two rows with the same key in one statement charge once; rows without a
-- key are each charged: 1 + 2.
INSERT INTO requests (account, image, request_key) VALUES
    ('keys', 'k2.png', 'req-2'), ('keys', 'k2.png', 'req-2'), ('keys', 'k3.png', NULL), ('keys', 'k3.png', NULL);
SELECT * FROM used('keys');
SELECT * FROM ledger_of('keys');
-- The same key with other arguments (another image): FC004, and the
-- statement's other rows are not charged.
INSERT INTO requests (account, image, request_key) VALUES ('keys', 'k4.png', NULL), ('keys', 'other.png', 'req-1');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('keys');
-- A statement refused for credits leaves its keys unused: 16 used of 20,
-- a key and 4 rows without one do not fit; later the key charges.
INSERT INTO requests (account) SELECT 'keys' FROM generate_series(1, 12);
INSERT INTO requests (account, request_key) VALUES ('keys', 'req-3'), ('keys', NULL), ('keys', NULL), ('keys', NULL), ('keys', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('keys');
SELECT count(*) AS key_used FROM fluxcredits.ledger WHERE idempotency_key = 'req-3';
INSERT INTO requests (account, request_key) VALUES ('keys', 'req-3');
SELECT * FROM used('keys');
-- A replayed key charges nothing even when no credit is left.
INSERT INTO requests (account, request_key) VALUES ('keys', 'req-3'), ('keys', 'req-3');
SELECT * FROM used('keys');

--------------------------------------------------------------------------
-- A charge id column: every inserted row leads to its ledger row
--------------------------------------------------------------------------
CREATE TABLE jobs (
    id          serial PRIMARY KEY,
    account     text NOT NULL,
    image       text,
    request_key text,
    note        text UNIQUE,
    charge_id   bigint
);
-- The id step alone would charge nothing: it is refused.
CREATE TRIGGER charge_jobs_id BEFORE INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request_key', 'charge_id');
\echo :LAST_ERROR_SQLSTATE
-- The statement trigger first, then the id step.
CREATE TRIGGER charge_jobs AFTER INSERT ON jobs
REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request_key', 'charge_id');
CREATE TRIGGER charge_jobs_id BEFORE INSERT ON jobs
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request_key', 'charge_id');
SELECT fluxcredits.credits_open_account('ids', 'Starter', '2026-01-01 00:00+00');
-- j2 is covered by j1 (same image); j3 has no image; j4 has a key.
INSERT INTO jobs (account, image, request_key, note) VALUES
    ('ids', 'p1.jpg', NULL, 'j1'), ('ids', 'p1.jpg', NULL, 'j2'),
    ('ids', NULL, NULL, 'j3'), ('ids', 'p2.jpg', 'req-9', 'j4');
-- Later: j5 is covered by j1 (image charged this period), j6 replays j4's key.
INSERT INTO jobs (account, image, request_key, note) VALUES
    ('ids', 'p1.jpg', NULL, 'j5'), ('ids', 'p2.jpg', 'req-9', 'j6');
SELECT * FROM used('ids');
-- Each row's charge id is its own ledger row; a row that cost nothing has a
-- zero row naming the charge that covers it.
SELECT j.note, l.entry, l.kind, l.monthly, l.topup, l.image, l.idempotency_key,
       c.note AS covered_by
  FROM jobs j
  JOIN fluxcredits.ledger l ON l.id = j.charge_id
  LEFT JOIN jobs c ON c.charge_id = l.charge
 WHERE j.account = 'ids'
 ORDER BY j.id;
SELECT count(*) AS rows, count(DISTINCT charge_id) AS charge_ids,
       count(*) FILTER (WHERE NOT EXISTS (SELECT FROM fluxcredits.ledger l WHERE l.id = j.charge_id))
           AS without_ledger_row
  FROM jobs j WHERE account = 'ids';
-- ON CONFLICT DO NOTHING: the skipped row (j1 again) leaves no ledger row,
-- the new one (j7) has its own.
INSERT INTO jobs (account, image, note) VALUES ('ids', 'p9.jpg', 'j1'), ('ids', 'p7.jpg', 'j7')
ON CONFLICT (note) DO NOTHING;
SELECT * FROM used('ids');
SELECT count(*) AS ledger_rows_of_no_row FROM fluxcredits.ledger l
 WHERE l.account = 'ids' AND NOT EXISTS (SELECT FROM jobs j WHERE j.charge_id = l.id);
SELECT j.note, l.image, l.monthly FROM jobs j JOIN fluxcredits.ledger l ON l.id = j.charge_id
 WHERE j.note = 'j7';
-- ON CONFLICT DO UPDATE: the updated row keeps its charge id and is not
-- charged again; the inserted one (j8) is charged.
INSERT INTO jobs (account, image, note) VALUES ('ids', 'p1.jpg', 'j3'), ('ids', 'p8.jpg', 'j8')
ON CONFLICT (note) DO UPDATE SET image = excluded.image;
SELECT * FROM used('ids');
SELECT count(*) AS ledger_rows_of_no_row FROM fluxcredits.ledger l
 WHERE l.account = 'ids' AND NOT EXISTS (SELECT FROM jobs j WHERE j.charge_id = l.id);
-- Without the BEFORE ROW trigger the statement trigger refuses the rows,
-- even with ids the app made up (they could be any ledger's ids).
DROP TRIGGER charge_jobs_id ON jobs;
INSERT INTO jobs (account, note) VALUES ('ids', 'j9');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO jobs (account, note, charge_id) VALUES ('ids', 'j9', 1000000);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM used('ids');

SELECT * FROM fluxcredits.credits_check();
DROP TABLE images, uploads, ai_jobs, requests, jobs;
DROP FUNCTION skip_drafts(), used(text), ledger_of(text);
DROP EXTENSION fluxcredits;
