-- privileges: PUBLIC gets nothing; grant_app() and grant_reader() give an app
-- role and an analysts' role what they need and no more; a hostile caller's
-- own functions, operators and search_path cannot change what a charge does.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

--------------------------------------------------------------------------
-- What CREATE EXTENSION leaves to PUBLIC: nothing
--------------------------------------------------------------------------

-- Every privilege PUBLIC holds on the schema and on every relation,
-- sequence, function and type in it (a NULL acl is the built-in default,
-- which gives PUBLIC EXECUTE on functions and USAGE on types): none, but
-- USAGE on the row types of tables and views, which keep their default
-- (1.6: pg_dump warns of an initial privilege recorded on one), and which
-- nobody can name without USAGE on the schema.
SELECT 'schema' AS object, n.nspname::text AS name, a.privilege_type
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
 WHERE n.nspname = 'fluxcredits' AND a.grantee = 0
UNION ALL
SELECT 'relation', c.oid::regclass::text, a.privilege_type
  FROM pg_class c,
       aclexplode(coalesce(c.relacl, acldefault((CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END)::"char",
                                                c.relowner))) a
 WHERE c.relnamespace = 'fluxcredits'::regnamespace AND c.relkind <> 'i' AND a.grantee = 0
UNION ALL
SELECT 'function', p.oid::regprocedure::text, a.privilege_type
  FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
 WHERE p.pronamespace = 'fluxcredits'::regnamespace AND a.grantee = 0
UNION ALL
SELECT 'type', t.oid::regtype::text, a.privilege_type
  FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
 WHERE t.typnamespace = 'fluxcredits'::regnamespace AND t.typcategory <> 'A' AND a.grantee = 0
   AND NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c');
-- The row types: they are the relations', named only through the schema.
SELECT t.oid::regtype AS row_type_of_a_relation, a.privilege_type
  FROM pg_type t, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
 WHERE t.typnamespace = 'fluxcredits'::regnamespace AND a.grantee = 0
   AND EXISTS (SELECT FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
 ORDER BY t.oid::regtype::text COLLATE "C";

-- Every SECURITY DEFINER function sets search_path = pg_catalog, pg_temp,
-- and so does every function not written in C (the C ones without it run
-- no SQL, or are internal ones called from a function that sets it), but
-- the three charge functions in C: they put the path pg_catalog in force
-- themselves while they run (the hostile caller below is their test).
-- Their C names end in _1_6, which the older libraries lack (1.1 does not
-- set the path; 1.2 crashed writing the slot of a counters table with 1.3's
-- expression index; up to 1.5 an AI image's lock is taken without the lock
-- on all the account's images that a 1.6 trigger statement takes), so a
-- session still running one after an update cannot call them.
SELECT p.oid::regprocedure AS missing_search_path, p.prosrc AS c_function
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'fluxcredits'::regnamespace
   AND (p.prosecdef OR l.lanname <> 'c')
   AND p.proconfig IS DISTINCT FROM ARRAY['search_path=pg_catalog, pg_temp']
 ORDER BY p.proname;
-- The functions that run with the extension owner's rights: every API
-- function that writes the extension's tables (the charge() trigger too),
-- credits_usage_json() and credits_check(), and the event trigger's
-- _charge_ddl(), which checks any role's CREATE TRIGGER and ALTER TABLE
-- against charge() triggers and gives new partitions theirs.
-- (credits_usage() reads the tables without SQL and checks no table
-- privilege: EXECUTE on it is its access control.)
SELECT p.proname, l.lanname AS language
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'fluxcredits'::regnamespace AND p.prosecdef
 ORDER BY p.proname;

--------------------------------------------------------------------------
-- Three roles: the app, an analyst, and one with nothing
--------------------------------------------------------------------------

CREATE ROLE regress_fc_app;
CREATE ROLE regress_fc_reader;
CREATE ROLE regress_fc_nobody;
SELECT fluxcredits.grant_app('regress_fc_app');
SELECT fluxcredits.grant_reader('regress_fc_reader');
SELECT fluxcredits.grant_app(NULL);

-- What each was given.
SELECT r.rolname, p.privilege, p.object_type, p.object
  FROM pg_roles r
 CROSS JOIN (SELECT 'app' AS k UNION ALL SELECT 'reader') k
 CROSS JOIN LATERAL fluxcredits._role_privileges(k.k) p
 WHERE r.rolname IN ('regress_fc_app', 'regress_fc_reader', 'regress_fc_nobody')
   AND CASE p.object_type
       WHEN 'SCHEMA' THEN has_schema_privilege(r.oid, p.object, p.privilege)
       WHEN 'TABLE' THEN has_table_privilege(r.oid, p.object, p.privilege)
       ELSE has_function_privilege(r.oid, p.object, p.privilege) END
 GROUP BY 1, 2, 3, 4
 ORDER BY 1, 3, 4;

-- A DBA creates the app's images table with a charge trigger (creating one
-- needs EXECUTE on fluxcredits.charge(); firing it needs nothing).
CREATE TABLE regress_fc_images (id bigserial PRIMARY KEY, account text NOT NULL, charge bigint);
ALTER TABLE regress_fc_images OWNER TO regress_fc_app;
CREATE TRIGGER charge_compression AFTER INSERT ON regress_fc_images
REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
EXECUTE FUNCTION fluxcredits.charge('compression', 'account', '', '', 'charge');
CREATE TRIGGER charge_compression_id BEFORE INSERT ON regress_fc_images FOR EACH ROW
EXECUTE FUNCTION fluxcredits.charge('compression', 'account', '', '', 'charge');

--------------------------------------------------------------------------
-- The app: the credit functions and the usage view, no table
--------------------------------------------------------------------------

SET ROLE regress_fc_app;
SELECT fluxcredits.credits_open_account('app-1', 'Starter', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_consume('app-1', 'compression', at => '2026-01-02 00:00+00') AS c1 \gset
SELECT fluxcredits.credits_try_consume('app-1', 'ai', 2, at => '2026-01-02 00:00+00') AS charged;
SELECT fluxcredits.credits_topup('app-1', 10, 'pay-app-1', '2026-01-02 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_refund(:c1, '2026-01-02 01:00+00') > 0 AS refunded;
SELECT fluxcredits.credits_reserve('app-1', 'ai', 3, at => '2026-01-02 02:00+00') AS r1 \gset
SELECT fluxcredits.credits_commit(:r1, 2, '2026-01-02 02:05+00') = :r1 AS committed;
SELECT fluxcredits.credits_reserve('app-1', 'ai', 1, at => '2026-01-02 03:00+00') AS r2 \gset
SELECT fluxcredits.credits_release(:r2, '2026-01-02 03:05+00') > 0 AS released;
SELECT fluxcredits.credits_set_plan('app-1', 'Pro', '2026-01-03 00:00+00') > 0 AS changed;
SELECT compressor_used, ia_credits_used, ia_topup_credits
  FROM fluxcredits.credits_usage('app-1', '2026-01-03 00:00+00');
SELECT fluxcredits.credits_usage_json('app-1', '2026-01-03 00:00+00') ->> 'plan' AS plan;
SELECT fluxcredits.billing_period('2026-01-31 00:00+00', '2026-02-15 00:00+00');
SELECT account, plan FROM fluxcredits.usage;
-- The alerts view (1.7), read with the view owner's rights: the app needs
-- no privilege on alerts_sent, and gets none.
SELECT count(*) FROM fluxcredits.alerts;
SELECT count(*) FROM fluxcredits.alerts_sent;
\echo :LAST_ERROR_SQLSTATE
-- The charge trigger on its own table charges.
INSERT INTO regress_fc_images (account) VALUES ('app-1') RETURNING charge > 0 AS charged;
-- Refused: every table and sequence, so no ledger row can be forged or
-- erased and no counter or balance changed but through the functions.
SELECT count(*) FROM fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fluxcredits.ledger (at, account, entry, kind, topup) VALUES (now(), 'app-1', 'topup', 'ai', 1000);
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.ledger SET topup = 1000;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
TRUNCATE fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.accounts SET topup_balance = 1000000;
\echo :LAST_ERROR_SQLSTATE
DELETE FROM fluxcredits.counters;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fluxcredits.plans VALUES ('Gratis', NULL, 1000000);
\echo :LAST_ERROR_SQLSTATE
UPDATE fluxcredits.reservations SET state = 'released';
\echo :LAST_ERROR_SQLSTATE
SELECT nextval('fluxcredits.ledger_id_seq');
\echo :LAST_ERROR_SQLSTATE
-- Refused: the DBA views other than usage, the check, the internal
-- functions, the grant functions, and creating charge triggers.
SELECT count(*) FROM fluxcredits.usage_history;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.near_limit;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.plan_summary;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.credits_check();
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits._rebalance('app-1', 'ai', '2026-01-01', '2026-02-01', 0, true);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits._give_back('refund', NULL, 0, 1000, '2026-01-02', 'Pro');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.grant_reader('regress_fc_app');
\echo :LAST_ERROR_SQLSTATE
CREATE TRIGGER charge_ai AFTER INSERT ON regress_fc_images REFERENCING NEW TABLE AS n
FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('ai', 'account');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.attach('regress_fc_images', 'ai', 'account');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--------------------------------------------------------------------------
-- The reader: the four views, nothing else
--------------------------------------------------------------------------

SET ROLE regress_fc_reader;
SELECT account, plan FROM fluxcredits.usage;
SELECT account, period_start, plan, compressor_used, ia_credits_used, ia_topup_used
  FROM fluxcredits.usage_history WHERE period_start = '2026-01-01 00:00+00';
SELECT count(*) FROM fluxcredits.near_limit;
SELECT count(*) FROM fluxcredits.near_limit(0.5);
SELECT plan, accounts FROM fluxcredits.plan_summary;
SELECT count(*) FROM fluxcredits.alerts;
-- Refused: the tables, every function that writes, the check.
SELECT count(*) FROM fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.accounts;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.counters;
\echo :LAST_ERROR_SQLSTATE
INSERT INTO fluxcredits.plans VALUES ('Gratis', NULL, 1000000);
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_open_account('reader-1');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('app-1', 'compression');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_topup('app-1', 1000, 'pay-reader');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage_json('app-1');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.credits_check();
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--------------------------------------------------------------------------
-- The role with nothing: not even the schema
--------------------------------------------------------------------------

SET ROLE regress_fc_nobody;
SELECT count(*) FROM fluxcredits.usage;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.alerts;
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_usage('app-1');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('app-1', 'compression');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.billing_period(now(), now());
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM fluxcredits.ledger;
\echo :LAST_ERROR_SQLSTATE
SELECT 'compression'::fluxcredits.credit_kind;
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

--------------------------------------------------------------------------
-- A hostile caller: its own now(), string functions, current_setting() and
-- operators in public and pg_temp, first in its search_path, in a new
-- session (so that the extension prepares its statements under its eyes)
--------------------------------------------------------------------------

CREATE ROLE regress_fc_hostile;
SELECT fluxcredits.grant_app('regress_fc_hostile');
GRANT CREATE ON SCHEMA public TO regress_fc_hostile;
CREATE TABLE regress_fc_hostile_images (id bigserial PRIMARY KEY, account text NOT NULL);
ALTER TABLE regress_fc_hostile_images OWNER TO regress_fc_hostile;
SELECT fluxcredits.attach('regress_fc_hostile_images', 'ai', 'account');

\c -
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET ROLE regress_fc_hostile;
CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT '2000-01-01 00:00+00'::timestamptz $$;
CREATE FUNCTION public.current_setting(text, boolean) RETURNS text LANGUAGE sql
    AS $$ SELECT '1000000' $$;
CREATE FUNCTION public.strpos(text, text) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE FUNCTION public.isfinite(timestamptz) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE FUNCTION public.generate_series(integer, integer) RETURNS SETOF integer LANGUAGE sql
    AS $$ SELECT 0 WHERE false $$;
CREATE FUNCTION public.always(text, text) RETURNS boolean LANGUAGE sql AS $$ SELECT true $$;
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.always);
CREATE FUNCTION public.plus_million(bigint, bigint) RETURNS bigint LANGUAGE sql
    AS $$ SELECT pg_catalog.int8pl(pg_catalog.int8pl($1, $2), 1000000) $$;
CREATE OPERATOR public.+ (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.plus_million);
CREATE FUNCTION public.minus_zero(bigint, bigint) RETURNS bigint LANGUAGE sql AS $$ SELECT $1 $$;
CREATE OPERATOR public.- (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = public.minus_zero);
CREATE FUNCTION pg_temp.now() RETURNS timestamptz LANGUAGE sql
    AS $$ SELECT '2000-01-01 00:00+00'::timestamptz $$;
CREATE FUNCTION pg_temp.strpos(text, text) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$;
CREATE TEMP TABLE ledger (id bigint, account text);
CREATE TEMP TABLE accounts (account text, plan text);
SET search_path = public, pg_temp, pg_catalog;
-- In its own session they win: unqualified now() and = are its own.
SELECT now() = '2000-01-01 00:00+00'::timestamptz AS "now() = 2000-01-01", 'a'::text = 'b'::text AS "'a' = 'b'";
SELECT (1::bigint + 1::bigint) AS "1 + 1";

SELECT fluxcredits.credits_open_account('hostile-1', 'Free', '2026-01-01 00:00 Europe/Paris', 'Europe/Paris');
SELECT fluxcredits.credits_open_account('hostile-2');
-- Its functions do not let a POSIX specification through as an account's zone.
SELECT fluxcredits.credits_open_account('hostile-3', tz => 'UTC+3');
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.credits_consume('hostile-1', 'compression', 19, at => '2026-01-02 00:00+00') AS h1 \gset
SELECT fluxcredits.credits_consume('hostile-1', 'compression', 2, at => '2026-01-02 00:00+00');
SELECT fluxcredits.credits_try_consume('hostile-1', 'compression', 2, at => '2026-01-02 00:00+00') AS charged;
SELECT fluxcredits.credits_try_consume('hostile-1', 'ai', at => '2026-01-02 00:00+00') AS charged;
SELECT fluxcredits.credits_topup('hostile-1', 3, 'pay-hostile-1', '2026-01-02 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_consume('hostile-1', 'ai', 2, image => NULL, at => '2026-01-02 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_refund(:h1, '2026-01-02 01:00+00') > 0 AS refunded;
SELECT fluxcredits.credits_consume('hostile-1', 'compression', 5) > 0 AS charged_now;
INSERT INTO regress_fc_hostile_images (account) VALUES ('hostile-1');
SELECT compressor_used, compressor_limit, ia_credits_used, ia_topup_credits, ia_credits_remaining
  FROM fluxcredits.credits_usage('hostile-1', '2026-01-02 00:00+00');
RESET search_path;
RESET ROLE;

-- As the superuser: every charge was exact.  The ledger has the right
-- times (now() was the server's, not 2000-01-01), amounts and sources;
-- counters and balances agree with it; the account's zone was checked.
SELECT entry, kind, monthly, topup, at = '2026-01-02 00:00+00' AS at_given,
       at > '2020-01-01' AS at_real, charge IS NOT NULL AS has_charge
  FROM fluxcredits.ledger WHERE account = 'hostile-1' ORDER BY id;
SELECT account, plan, tz, anchor > '2020-01-01' AS anchor_real, topup_balance
  FROM fluxcredits.accounts WHERE account LIKE 'hostile-%' ORDER BY account;
SELECT kind, sum(used) AS used, sum(topup_used) AS topup_used
  FROM fluxcredits.counters WHERE account = 'hostile-1' AND period_start = '2025-12-31 23:00+00'
 GROUP BY kind ORDER BY kind;
SELECT compressor_used, ia_credits_used, ia_topup_credits
  FROM fluxcredits.credits_usage('hostile-1', '2026-01-02 00:00+00');
SELECT * FROM fluxcredits.credits_check();

-- A DBA's trigger on the ledger runs with the extension owner's rights when
-- a charge writes its row (through SQL then); the names it resolves are
-- pg_catalog's, not the caller's, though it sets no search_path of its own:
-- the hostile caller's now() and strpos() are first in its path, in a new
-- session again.
CREATE TABLE regress_fc_ledger_audit (id bigint, seen timestamptz, pos integer, who name);
CREATE FUNCTION regress_fc_audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.regress_fc_ledger_audit VALUES (NEW.id, now(), strpos('abc', 'c'), current_user);
    RETURN NEW;
END
$$;
CREATE TRIGGER regress_fc_audit AFTER INSERT ON fluxcredits.ledger
    FOR EACH ROW EXECUTE FUNCTION public.regress_fc_audit();
\c -
SET ROLE regress_fc_hostile;
SET search_path = public, pg_temp, pg_catalog;
SELECT now() = '2000-01-01 00:00+00'::timestamptz AS "now() = 2000-01-01", strpos('abc', 'c') AS "strpos('abc', 'c')";
SELECT fluxcredits.credits_consume('hostile-2', 'compression') > 0 AS charged;
SELECT fluxcredits.credits_try_consume('hostile-2', 'compression') AS charged;
RESET search_path;
RESET ROLE;
-- Two rows, each with the server's now(), pg_catalog's strpos() and the
-- owner's rights.
SELECT seen > '2020-01-01' AS now_real, pos, who <> 'regress_fc_hostile' AS as_owner
  FROM regress_fc_ledger_audit ORDER BY id;
DROP TRIGGER regress_fc_audit ON fluxcredits.ledger;
DROP TABLE regress_fc_ledger_audit;
DROP FUNCTION regress_fc_audit();

--------------------------------------------------------------------------
-- revoke_app() and revoke_reader()
--------------------------------------------------------------------------

-- A role that is both keeps what the other set gives.
SELECT fluxcredits.grant_reader('regress_fc_app');
SELECT fluxcredits.revoke_reader('regress_fc_app');
SELECT has_schema_privilege('regress_fc_app', 'fluxcredits', 'USAGE') AS schema,
       has_table_privilege('regress_fc_app', 'fluxcredits.usage', 'SELECT') AS usage,
       has_table_privilege('regress_fc_app', 'fluxcredits.alerts', 'SELECT') AS alerts,
       has_table_privilege('regress_fc_app', 'fluxcredits.usage_history', 'SELECT') AS usage_history,
       has_function_privilege('regress_fc_app', 'fluxcredits.near_limit(numeric)', 'EXECUTE') AS near_limit;
SELECT fluxcredits.revoke_app('regress_fc_app');
SELECT fluxcredits.revoke_reader('regress_fc_reader');
SELECT fluxcredits.revoke_app('regress_fc_hostile');
-- Nothing is left to any of them.
SELECT c.oid::regclass::text AS object, a.grantee::regrole, a.privilege_type
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relnamespace = 'fluxcredits'::regnamespace AND a.grantee <> c.relowner
UNION ALL
SELECT p.oid::regprocedure::text, a.grantee::regrole, a.privilege_type
  FROM pg_proc p, aclexplode(p.proacl) a
 WHERE p.pronamespace = 'fluxcredits'::regnamespace AND a.grantee <> p.proowner
UNION ALL
SELECT 'schema fluxcredits', a.grantee::regrole, a.privilege_type
  FROM pg_namespace n, aclexplode(n.nspacl) a
 WHERE n.nspname = 'fluxcredits' AND a.grantee <> n.nspowner;
SET ROLE regress_fc_app;
SELECT fluxcredits.credits_consume('app-1', 'compression', at => '2026-01-03 00:00+00');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

DROP TABLE regress_fc_images, regress_fc_hostile_images;
DROP OWNED BY regress_fc_app, regress_fc_reader, regress_fc_nobody, regress_fc_hostile;
DROP ROLE regress_fc_app, regress_fc_reader, regress_fc_nobody, regress_fc_hostile;

DROP EXTENSION fluxcredits;
