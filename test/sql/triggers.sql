-- triggers: charging in the same transaction as the app's own inserts.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- A sample app: images keyed by integer accounts, AI jobs by uuid accounts.
CREATE TABLE images (
    id         bigserial PRIMARY KEY,
    account_id integer NOT NULL,
    name       text NOT NULL,
    charge_id  bigint
);
CREATE TABLE ai_jobs (
    id         bigserial PRIMARY KEY,
    account_id uuid NOT NULL,
    image      text,
    request    text
);
-- Charges made by a trigger are dated now(), so the messages that name the
-- (now-dependent) period are shown tersely.
SELECT fluxcredits.credits_open_account('42', 'Free', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_open_account('7d3c6f1e-0b8a-4c43-9a57-2f4f3f0b1a2c', 'Starter', '2026-01-01 00:00+00');

-- The statement trigger charges; with a charge id column, a row trigger
-- with the same arguments gives each row the id of its charge.
CREATE TRIGGER charge_compression AFTER INSERT ON images
REFERENCING NEW TABLE AS inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'account_id', 'name', '', 'charge_id');
CREATE TRIGGER charge_compression_id BEFORE INSERT ON images
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'account_id', 'name', '', 'charge_id');
SELECT fluxcredits.attach('ai_jobs', 'ai', 'account_id', 'image');
\d ai_jobs

-- An insert charges, and the charge id lands in the row.
INSERT INTO images (account_id, name) VALUES (42, 'cat.png') RETURNING name, charge_id > 0 AS charged;
SELECT compressor_used FROM fluxcredits.credits_usage('42');
SELECT i.name, l.entry, l.kind, l.image FROM images i JOIN fluxcredits.ledger l ON l.id = i.charge_id;

-- A multi-row INSERT that passes the limit fails whole: nothing charged.
\set VERBOSITY terse
INSERT INTO images (account_id, name) SELECT 42, 'bulk-' || g FROM generate_series(1, 25) g;
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS images, (SELECT compressor_used FROM fluxcredits.credits_usage('42')) AS used FROM images;
-- 19 fit exactly.
INSERT INTO images (account_id, name) SELECT 42, 'bulk-' || g FROM generate_series(1, 19) g;
SELECT count(*) AS images, (SELECT compressor_used FROM fluxcredits.credits_usage('42')) AS used FROM images;
-- The 21st image is rejected.
\set VERBOSITY terse
INSERT INTO images (account_id, name) VALUES (42, 'one-too-many.png');
\set VERBOSITY default
\echo :LAST_ERROR_SQLSTATE

-- A rolled-back insert leaves no charge.
SELECT fluxcredits.credits_set_plan('42', 'Starter');
BEGIN;
INSERT INTO images (account_id, name) VALUES (42, 'draft.png');
SELECT compressor_used FROM fluxcredits.credits_usage('42');
ROLLBACK;
SELECT compressor_used FROM fluxcredits.credits_usage('42');
SELECT count(*) FROM fluxcredits.ledger WHERE image = 'draft.png';

-- COPY charges too.
COPY images (account_id, name) FROM stdin;
42	copied-1.png
42	copied-2.png
42	copied-3.png
\.
SELECT compressor_used FROM fluxcredits.credits_usage('42');

-- Deleting rows refunds nothing.
DELETE FROM images WHERE name LIKE 'bulk-%';
SELECT compressor_used FROM fluxcredits.credits_usage('42');

-- AI jobs keyed by uuid: alt text and SEO rename of one image cost 1 credit.
INSERT INTO ai_jobs (account_id, image, request) VALUES
    ('7d3c6f1e-0b8a-4c43-9a57-2f4f3f0b1a2c', 'hero.jpg', 'alt text'),
    ('7d3c6f1e-0b8a-4c43-9a57-2f4f3f0b1a2c', 'hero.jpg', 'seo rename'),
    ('7d3c6f1e-0b8a-4c43-9a57-2f4f3f0b1a2c', NULL, 'bulk caption');
SELECT ia_credits_used FROM fluxcredits.credits_usage('7d3c6f1e-0b8a-4c43-9a57-2f4f3f0b1a2c');
-- An unknown account rejects the row.
INSERT INTO ai_jobs (account_id, image) VALUES ('00000000-0000-0000-0000-000000000000', 'x.jpg');
\echo :LAST_ERROR_SQLSTATE

-- Bad trigger arguments are refused when the trigger is created, naming it
-- and the table.
CREATE TABLE bad (id int, acct text, ref int);
CREATE TRIGGER t1 AFTER INSERT ON bad REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('video', 'acct');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t1 AFTER INSERT ON bad REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t1 AFTER INSERT ON bad REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t1 AFTER INSERT ON bad REFERENCING NEW TABLE AS n FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'ref');
\echo :LAST_ERROR_SQLSTATE
-- Forms that would not see the rows the statement inserted.
CREATE TRIGGER t1 AFTER INSERT ON bad FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t1 BEFORE INSERT ON bad FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t1 BEFORE UPDATE ON bad FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- 1.5's form: a row trigger charged rows that ON CONFLICT then skipped.
CREATE TRIGGER t1 BEFORE INSERT ON bad FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
SELECT tgname FROM pg_trigger WHERE tgrelid = 'bad'::regclass;
-- A NULL account in the row is an error, not a free image.
SELECT fluxcredits.attach('bad', 'compression', 'acct');
INSERT INTO bad VALUES (1, NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.charge();
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('bad', 'ai', 'nosuch');
\echo :LAST_ERROR_SQLSTATE

-- detach removes attach's trigger.
SELECT fluxcredits.detach('ai_jobs', 'ai');
INSERT INTO ai_jobs (account_id, image) VALUES ('00000000-0000-0000-0000-000000000000', 'free.jpg');
SELECT count(*) FROM ai_jobs;

SELECT * FROM fluxcredits.credits_check();
DROP TABLE images, ai_jobs, bad;
DROP EXTENSION fluxcredits;
