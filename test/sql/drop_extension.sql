-- drop_extension: DROP EXTENSION fluxcredits removes everything that
-- CREATE EXTENSION made, and nothing else.
CREATE EXTENSION fluxcredits;
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
\set SHOW_CONTEXT never

-- The members of the extension, by catalog.
SELECT d.classid::regclass AS catalog, count(*) > 0 AS has_members
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
 WHERE e.extname = 'fluxcredits' AND d.deptype = 'e'
 GROUP BY 1 ORDER BY 1::text;
DROP EXTENSION fluxcredits;
-- The schema stays after DROP EXTENSION (see the end): start without it.
DROP SCHEMA fluxcredits;

-- Every user object of this database, and every catalog row that records a
-- dependency, comment, initial privilege or role reference of one.
CREATE TEMP TABLE snapshot (label text, catalog text, key text, descr text);
CREATE TEMP VIEW objects AS
WITH o AS (
          SELECT 'pg_class'::regclass AS catalog, oid FROM pg_class WHERE oid >= 16384
UNION ALL SELECT 'pg_proc'::regclass, oid FROM pg_proc WHERE oid >= 16384
UNION ALL SELECT 'pg_type'::regclass, oid FROM pg_type WHERE oid >= 16384
UNION ALL SELECT 'pg_namespace'::regclass, oid FROM pg_namespace WHERE oid >= 16384
UNION ALL SELECT 'pg_operator'::regclass, oid FROM pg_operator WHERE oid >= 16384
UNION ALL SELECT 'pg_cast'::regclass, oid FROM pg_cast WHERE oid >= 16384
UNION ALL SELECT 'pg_trigger'::regclass, oid FROM pg_trigger WHERE oid >= 16384
UNION ALL SELECT 'pg_event_trigger'::regclass, oid FROM pg_event_trigger WHERE oid >= 16384
UNION ALL SELECT 'pg_constraint'::regclass, oid FROM pg_constraint WHERE oid >= 16384
UNION ALL SELECT 'pg_attrdef'::regclass, oid FROM pg_attrdef WHERE oid >= 16384
UNION ALL SELECT 'pg_rewrite'::regclass, oid FROM pg_rewrite WHERE oid >= 16384
UNION ALL SELECT 'pg_policy'::regclass, oid FROM pg_policy WHERE oid >= 16384
UNION ALL SELECT 'pg_extension'::regclass, oid FROM pg_extension WHERE oid >= 16384
)
SELECT o.catalog::text, o.oid::text AS key, pg_describe_object(o.catalog, o.oid, 0) AS descr FROM o
UNION ALL
SELECT 'pg_enum', oid::text, format('label %s of %s', enumlabel, pg_describe_object('pg_type'::regclass, enumtypid, 0))
  FROM pg_enum WHERE oid >= 16384
UNION ALL
SELECT 'pg_depend', concat_ws(' ', classid, objid, objsubid, refclassid, refobjid, refobjsubid, deptype),
       pg_describe_object(classid, objid, objsubid) || ' -> ' || pg_describe_object(refclassid, refobjid, refobjsubid)
  FROM pg_depend WHERE objid >= 16384 OR refobjid >= 16384
UNION ALL
SELECT 'pg_description', concat_ws(' ', objoid, classoid, objsubid), pg_describe_object(classoid, objoid, objsubid)
  FROM pg_description WHERE objoid >= 16384
UNION ALL
SELECT 'pg_init_privs', concat_ws(' ', objoid, classoid, objsubid), pg_describe_object(classoid, objoid, objsubid)
  FROM pg_init_privs WHERE objoid >= 16384
UNION ALL
SELECT 'pg_shdepend', concat_ws(' ', classid, objid, objsubid, refclassid, refobjid, deptype),
       CASE deptype WHEN 'a' THEN 'privileges' WHEN 'o' THEN 'owner' ELSE deptype::text END
       || ' of ' || pg_describe_object(classid, objid, objsubid)
       || ' -> ' || pg_describe_object(refclassid, refobjid, 0)
  FROM pg_shdepend WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database());

-- The app's own objects, made before the extension: they must survive it.
CREATE TABLE regress_fc_unrelated (id integer PRIMARY KEY, note text);
INSERT INTO regress_fc_unrelated VALUES (1, 'kept'), (2, 'also kept');
CREATE TABLE regress_fc_images (id bigserial PRIMARY KEY, account text NOT NULL);
CREATE FUNCTION regress_fc_double(integer) RETURNS integer LANGUAGE sql AS $$ SELECT $1 * 2 $$;
CREATE ROLE regress_fc_drop_app;
INSERT INTO snapshot SELECT 'before', * FROM objects;

CREATE EXTENSION fluxcredits;
SELECT count(*) > 0 AS created
  FROM (SELECT catalog, key FROM objects EXCEPT SELECT catalog, key FROM snapshot) added;

-- Use it: accounts, charges, a hold, a top-up, an alert, a plan a DBA
-- added, a grant, and a charge trigger on the app's table.
INSERT INTO fluxcredits.plans VALUES ('Team', 500, 2000);
SELECT fluxcredits.credits_open_account('drop-1', 'Team', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_open_account('drop-2', 'Free', '2026-01-01 00:00+00');
SELECT fluxcredits.credits_consume('drop-1', 'ai', image => 'img-1', at => '2026-01-02 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_consume('drop-2', 'compression', 18, idempotency_key => 'k1',
                                   at => '2026-01-02 00:00+00') > 0 AS charged;
SELECT fluxcredits.credits_topup('drop-2', 5, 'pay-drop-2', '2026-01-02 00:00+00') > 0 AS credited;
SELECT fluxcredits.credits_reserve('drop-1', 'compression', 2, at => '2026-01-02 00:00+00') > 0 AS held;
SELECT count(*) AS alerts FROM fluxcredits.alerts_sent;
SELECT fluxcredits.grant_app('regress_fc_drop_app');
SELECT fluxcredits.attach('regress_fc_images', 'compression', 'account');
INSERT INTO regress_fc_images (account) VALUES ('drop-1'), ('drop-1');
SELECT * FROM fluxcredits.credits_check();

-- The app's trigger uses the extension's charge(): DROP EXTENSION refuses
-- rather than drop the app's trigger with it.
DROP EXTENSION fluxcredits;
\echo :LAST_ERROR_SQLSTATE
SELECT fluxcredits.detach('regress_fc_images', 'compression');

DROP EXTENSION fluxcredits;

-- What is left: the schema CREATE EXTENSION made for the extension, with
-- the USAGE grant_app() gave on it.  PostgreSQL does not make that schema
-- a member of the extension, so DROP EXTENSION keeps it.
SELECT catalog, descr FROM (SELECT catalog, key, descr FROM objects
                            EXCEPT SELECT catalog, key, descr FROM snapshot WHERE label = 'before') s
 ORDER BY 1, 2;
SELECT count(*) AS objects_in_schema
  FROM (SELECT FROM pg_class WHERE relnamespace = 'fluxcredits'::regnamespace
        UNION ALL SELECT FROM pg_proc WHERE pronamespace = 'fluxcredits'::regnamespace
        UNION ALL SELECT FROM pg_type WHERE typnamespace = 'fluxcredits'::regnamespace
        UNION ALL SELECT FROM pg_operator WHERE oprnamespace = 'fluxcredits'::regnamespace) o;
-- It is empty: a plain DROP SCHEMA removes it, and its grants.
DROP SCHEMA fluxcredits;

-- Now nothing of the extension is left ...
SELECT catalog, descr FROM (SELECT catalog, key, descr FROM objects
                            EXCEPT SELECT catalog, key, descr FROM snapshot WHERE label = 'before') s;
-- ... and nothing else went.
SELECT catalog, descr FROM (SELECT catalog, key, descr FROM snapshot WHERE label = 'before'
                            EXCEPT SELECT catalog, key, descr FROM objects) s;
SELECT * FROM regress_fc_unrelated ORDER BY id;
SELECT count(*) AS images FROM regress_fc_images;
SELECT regress_fc_double(21);
DROP ROLE regress_fc_drop_app;

DROP TABLE regress_fc_unrelated, regress_fc_images;
DROP FUNCTION regress_fc_double(integer);
