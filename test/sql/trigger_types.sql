-- trigger_types: the column types the charge trigger takes, and what it
-- refuses when the trigger is created: an account (image, key) is the
-- column's value as credits_consume(value::text) would take it, whatever
-- the session's settings; other types, wrong trigger forms and bad
-- arguments are refused by CREATE TRIGGER (or attach()), not at the first
-- insert; an ALTER TABLE that would break a charge trigger is refused.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

--------------------------------------------------------------------------
-- Accepted account column types
--------------------------------------------------------------------------
CREATE DOMAIN slug AS text CHECK (VALUE ~ '^[a-z0-9-]+$');
CREATE DOMAIN short_slug AS slug CHECK (length(VALUE) <= 20);
CREATE DOMAIN account_no AS integer CHECK (VALUE > 0);
CREATE TABLE by_text       (account text);
CREATE TABLE by_varchar    (account varchar(20));
CREATE TABLE by_char       (account char(10));
CREATE TABLE by_smallint   (account smallint);
CREATE TABLE by_integer    (account integer);
CREATE TABLE by_bigint     (account bigint);
CREATE TABLE by_uuid       (account uuid);
CREATE TABLE by_slug       (account slug);
CREATE TABLE by_short_slug (account short_slug);
CREATE TABLE by_account_no (account account_no);
-- attach() takes every one of them.
SELECT t AS "table", fluxcredits.attach(t::regclass, 'compression', 'account')
  FROM unnest(ARRAY['by_text', 'by_varchar', 'by_char', 'by_smallint', 'by_integer', 'by_bigint',
                    'by_uuid', 'by_slug', 'by_short_slug', 'by_account_no']) t;
-- The accounts, named as the values' text.
SELECT a AS opened
  FROM unnest(ARRAY['acme', 'acme-v', '42', '-32768', '2147483647', '9007199254740993',
                    'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'slug-1', 'slug-2', '7']) a,
       fluxcredits.credits_open_account(a, 'Pro', '2026-01-01 00:00+00');
-- One row each, written as the app might write it: char(10) pads '42' to
-- ten bytes, '+2147483647' and 0007 are integers, the uuid in braces and
-- upper case.
INSERT INTO by_text       VALUES ('acme');
INSERT INTO by_varchar    VALUES ('acme-v');
INSERT INTO by_char       VALUES ('42');
INSERT INTO by_smallint   VALUES (-32768);
INSERT INTO by_integer    VALUES ('+2147483647');
INSERT INTO by_bigint     VALUES (9007199254740993);
INSERT INTO by_uuid       VALUES ('{A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11}');
INSERT INTO by_slug       VALUES ('slug-1');
INSERT INTO by_short_slug VALUES ('slug-2');
INSERT INTO by_account_no VALUES (0007);
SELECT octet_length(account) AS stored_bytes, account::text AS as_text FROM by_char;
-- Each row was charged to the account named by its value as text.
CREATE VIEW typed AS
          SELECT 1 AS n, 'text' AS type, account::text AS value FROM by_text
UNION ALL SELECT 2, 'varchar',    account::text FROM by_varchar
UNION ALL SELECT 3, 'char(10)',   account::text FROM by_char
UNION ALL SELECT 4, 'smallint',   account::text FROM by_smallint
UNION ALL SELECT 5, 'integer',    account::text FROM by_integer
UNION ALL SELECT 6, 'bigint',     account::text FROM by_bigint
UNION ALL SELECT 7, 'uuid',       account::text FROM by_uuid
UNION ALL SELECT 8, 'slug',       account::text FROM by_slug
UNION ALL SELECT 9, 'short_slug', account::text FROM by_short_slug
UNION ALL SELECT 10, 'account_no', account::text FROM by_account_no;
SELECT t.type, t.value, u.compressor_used
  FROM typed t, fluxcredits.credits_usage(t.value) u ORDER BY t.n;
-- credits_consume(value::text) charges the same accounts: each has used 2.
SELECT t.type, fluxcredits.credits_consume(t.value, 'compression') > 0 AS charged
  FROM typed t ORDER BY t.n;
SELECT t.type, t.value, u.compressor_used
  FROM typed t, fluxcredits.credits_usage(t.value) u ORDER BY t.n;
-- The trigger's ledger rows name exactly these accounts.
SELECT account, count(*) AS charges FROM fluxcredits.ledger
 WHERE entry = 'consume' GROUP BY account ORDER BY account COLLATE "C";
-- Only char(n) drops trailing blanks (as its cast to text does): varchar
-- keeps them, so 'acme-v ' is another, unknown, account, as it is to
-- credits_consume; a char(10) of blanks is the empty account.
INSERT INTO by_varchar VALUES ('acme-v ');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('acme-v '::varchar, 'compression');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO by_char VALUES ('   ');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('   '::char(10), 'compression');
\echo :LAST_ERROR_SQLSTATE

-- The account does not depend on session settings: under other DateStyle,
-- IntervalStyle, extra_float_digits and bytea_output, the same values charge
-- the same accounts.
SET DateStyle = 'SQL, DMY';
SET IntervalStyle = 'sql_standard';
SET extra_float_digits = -15;
SET bytea_output = 'escape';
INSERT INTO by_integer    VALUES (2147483647);
INSERT INTO by_bigint     VALUES (9007199254740993);
INSERT INTO by_uuid       VALUES ('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
INSERT INTO by_account_no VALUES (7);
RESET DateStyle;
RESET IntervalStyle;
RESET extra_float_digits;
RESET bytea_output;
SET datestyle = 'ISO, YMD';
SELECT account, count(*) AS charges FROM fluxcredits.ledger
 WHERE entry = 'consume' GROUP BY account ORDER BY account COLLATE "C";

-- The image and key columns read the same way: a char(12) image and a uuid
-- key, charged under an integer account.
CREATE TABLE typed_ai (account integer, image char(12), request uuid);
CREATE TRIGGER charge_ai AFTER INSERT ON typed_ai
REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request');
SELECT fluxcredits.credits_open_account('5', 'Starter', '2026-01-01 00:00+00');
INSERT INTO typed_ai VALUES (5, 'pic.png', 'B1EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'), (5, 'pic.png  ', NULL);
SELECT ia_credits_used FROM fluxcredits.credits_usage('5');
SELECT account, kind, image, idempotency_key FROM fluxcredits.ledger WHERE account = '5' ORDER BY id;
-- credits_consume sees the same image and the same key: no new charge.
SELECT fluxcredits.credits_consume('5', 'ai', image => 'pic.png')
     = (SELECT id FROM fluxcredits.ledger WHERE account = '5') AS same_image;
SELECT fluxcredits.credits_consume('5', 'ai', image => 'pic.png',
                                   idempotency_key => 'b1eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')
     = (SELECT id FROM fluxcredits.ledger WHERE account = '5') AS same_key;
SELECT ia_credits_used FROM fluxcredits.credits_usage('5');

--------------------------------------------------------------------------
-- Refused column types: at CREATE TRIGGER, through attach() too
--------------------------------------------------------------------------
CREATE DOMAIN money_amount AS numeric(12, 2);
CREATE TABLE refused (
    acct    text,
    n       numeric,
    f       float8,
    d       date,
    b       bytea,
    j       json,
    dn      money_amount,
    img     numeric,
    k       numeric,
    cid     integer
);
-- A numeric account column, through attach(): 42804, with the reason.
SELECT fluxcredits.attach('refused', 'compression', 'n');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- ... and through CREATE TRIGGER.
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'n');
\echo :LAST_ERROR_SQLSTATE
-- float8, date, bytea, json and a domain over numeric: the same.
SELECT fluxcredits.attach('refused', 'compression', 'f');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'f');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('refused', 'compression', 'd');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'd');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('refused', 'compression', 'b');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'b');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('refused', 'compression', 'j');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'j');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('refused', 'compression', 'dn');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'dn');
\echo :LAST_ERROR_SQLSTATE
-- A numeric image column (the account column being fine).
SELECT fluxcredits.attach('refused', 'ai', 'acct', 'img');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'acct', 'img');
\echo :LAST_ERROR_SQLSTATE
-- A numeric idempotency key column.
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', 'k');
\echo :LAST_ERROR_SQLSTATE
-- A charge id column that is not bigint, in either trigger.
CREATE TRIGGER t AFTER INSERT ON refused REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t BEFORE INSERT ON refused
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid');
\echo :LAST_ERROR_SQLSTATE
-- None of them was created: the table has no trigger.
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'refused'::regclass;
\set VERBOSITY default

--------------------------------------------------------------------------
-- Refused trigger forms (39P01), at CREATE TRIGGER
--------------------------------------------------------------------------
CREATE TABLE forms (acct text, cid bigint);
-- BEFORE INSERT FOR EACH ROW without a charge id column (the 1.5 form).
CREATE TRIGGER t BEFORE INSERT ON forms
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- AFTER INSERT FOR EACH ROW, with or without a transition table.
CREATE TRIGGER t AFTER INSERT ON forms
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- AFTER INSERT FOR EACH STATEMENT without REFERENCING NEW TABLE.
CREATE TRIGGER t AFTER INSERT ON forms
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- BEFORE INSERT FOR EACH STATEMENT.
CREATE TRIGGER t BEFORE INSERT ON forms
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- AFTER UPDATE with a NEW TABLE.
CREATE TRIGGER t AFTER UPDATE ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- The charge id step on anything but INSERT.
CREATE TRIGGER t BEFORE INSERT OR UPDATE ON forms
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t BEFORE UPDATE ON forms
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid');
\echo :LAST_ERROR_SQLSTATE
-- INSTEAD OF INSERT on a view.
CREATE VIEW forms_view AS SELECT * FROM forms;
CREATE TRIGGER t INSTEAD OF INSERT ON forms_view
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid IN ('forms'::regclass, 'forms_view'::regclass);

--------------------------------------------------------------------------
-- Bad arguments, at CREATE TRIGGER and in attach()
--------------------------------------------------------------------------
-- An unknown kind.
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('video', 'acct');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('forms', 'video', 'acct');
\echo :LAST_ERROR_SQLSTATE
-- A missing account, image or key column.
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'acct', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('forms', 'compression', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('forms', 'ai', 'acct', 'nosuch');
\echo :LAST_ERROR_SQLSTATE
-- An empty account column, too few and too many arguments.
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', '');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER t AFTER INSERT ON forms REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'acct', '', '', 'cid', 'extra');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('forms', 'compression', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'forms'::regclass;
\set VERBOSITY default
-- charge() is not a function to call.
SELECT fluxcredits.charge();
\echo :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- ALTER TABLE under a charge trigger
--------------------------------------------------------------------------
CREATE TABLE altered (
    id          integer,
    account     text,
    image       text,
    request_key text,
    charge_id   bigint
);
CREATE TRIGGER charge_altered AFTER INSERT ON altered REFERENCING NEW TABLE AS fluxcredits_inserted
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request_key', 'charge_id');
CREATE TRIGGER charge_altered_id BEFORE INSERT ON altered
FOR EACH ROW EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'request_key', 'charge_id');
CREATE VIEW altered_columns AS
SELECT attname, format_type(atttypid, atttypmod) AS type
  FROM pg_attribute WHERE attrelid = 'altered'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
-- Retyping the account column to numeric is refused, and changes nothing.
ALTER TABLE altered ALTER COLUMN account TYPE numeric USING account::numeric;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- So are retyping the key column to json and the charge id column to
-- integer, renaming the image column and dropping the key column.
ALTER TABLE altered ALTER COLUMN request_key TYPE json USING to_json(request_key);
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE altered ALTER COLUMN charge_id TYPE integer;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE altered RENAME COLUMN image TO picture;
\echo :LAST_ERROR_SQLSTATE
ALTER TABLE altered DROP COLUMN request_key;
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
SELECT * FROM altered_columns;
-- Retyping to another accepted type, and changes to other columns, pass.
ALTER TABLE altered ALTER COLUMN account TYPE varchar(64);
ALTER TABLE altered ALTER COLUMN id TYPE numeric, ADD COLUMN note json;
ALTER TABLE altered RENAME COLUMN id TO job;
SELECT * FROM altered_columns;
-- ... and the triggers still charge.
SELECT fluxcredits.credits_open_account('alt', 'Starter', '2026-01-01 00:00+00');
INSERT INTO altered (job, account, image) VALUES (1, 'alt', 'a.png'), (2, 'alt', 'a.png');
SELECT ia_credits_used FROM fluxcredits.credits_usage('alt');
SELECT a.job, l.monthly, l.image, l.charge IS NOT NULL AS covered
  FROM altered a JOIN fluxcredits.ledger l ON l.id = a.charge_id ORDER BY a.job;

SELECT * FROM fluxcredits.credits_check();
DROP VIEW typed, altered_columns, forms_view;
DROP TABLE by_text, by_varchar, by_char, by_smallint, by_integer, by_bigint, by_uuid,
           by_slug, by_short_slug, by_account_no, typed_ai, refused, forms, altered;
DROP DOMAIN short_slug, slug, account_no, money_amount;
DROP EXTENSION fluxcredits;
