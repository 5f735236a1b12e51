/* sql/fluxcredits--1.5--1.6.sql: fluxcredits 1.5 to 1.6 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.6'" to load this file. \quit

-- 1.6 charges the rows a statement inserts, once the statement has inserted
-- them: charge() becomes an AFTER INSERT ... REFERENCING NEW TABLE ... FOR
-- EACH STATEMENT trigger (src/trigger.c).  The BEFORE INSERT FOR EACH ROW
-- triggers of 1.5 charged rows that ON CONFLICT then skipped or turned into
-- updates, and rows that a later BEFORE trigger dropped; this script moves
-- every one of them to the new form, under the same name, enabled as it
-- was.  A trigger with a charge id column also gets a BEFORE INSERT FOR
-- EACH ROW trigger, named after it with "_id", that fills that column.
--
-- The account, image and key columns must now be of a type whose text does
-- not depend on session settings (text, varchar, char(n), smallint,
-- integer, bigint, uuid, or a domain over one of them): a trigger on
-- another type stops this update with an error (42804) naming the column;
-- change the column's type, or drop the trigger, and run the update again.
--
-- The C names of the charge functions end in _1_6: 1.6 takes an AI image's
-- lock under a shared lock on all the account's images of the period, which
-- a statement of the trigger takes whole.  A session that loaded the 1.5
-- library before the update keeps it until it reconnects and would take the
-- image's lock alone; its charges are refused instead ("could not find
-- function", 42883).  Reconnect the app's pools after the update.  The 1.6
-- library serves a 1.5 install as 1.5 behaved until this update runs.
CREATE OR REPLACE FUNCTION @extschema@.credits_consume(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            at timestamptz DEFAULT now())
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_credits_consume_1_6'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@.credits_try_consume(account text,
                                                kind @extschema@.credit_kind,
                                                amount integer DEFAULT 1,
                                                image text DEFAULT NULL,
                                                idempotency_key text DEFAULT NULL,
                                                at timestamptz DEFAULT now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'fc_credits_try_consume_1_6'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@._hold(account text, kind @extschema@.credit_kind, amount integer,
                                  image text, idempotency_key text, at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_hold_1_6'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@._lock_image(account text, image text, period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_image_sql_1_6'
LANGUAGE C VOLATILE STRICT;

CREATE OR REPLACE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_6'
LANGUAGE C SECURITY DEFINER;
COMMENT ON FUNCTION @extschema@.charge() IS
'AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT trigger charging one credit per inserted row: charge(kind, account_column [, image_column [, idempotency_key_column [, charge_id_column]]]); with a charge id column, also BEFORE INSERT FOR EACH ROW with the same arguments';

--------------------------------------------------------------------------
-- Checking charge() triggers when they are created, and when their table
-- changes (1.6)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@._charge_trigger_check(trigger oid)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_charge_trigger_check'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@._charge_trigger_check(oid) IS
'internal: raises the error that the charge() trigger would raise at its first insert (form, arguments, columns, column types)';

-- A statement trigger on a partitioned table fires for the rows inserted
-- through it (routed into its partitions), not for rows inserted into a
-- partition directly; and PostgreSQL copies only row triggers to
-- partitions.  So each partition of a table with a charge() statement
-- trigger gets one of its own, of the same name and arguments: attach()
-- makes them for the partitions there are, and the event trigger below for
-- each partition created or attached later.  (Not for a hand-written
-- CREATE TRIGGER on a partitioned table: pg_dump saves the partitions'
-- triggers too, and a restore would then make each twice.)
CREATE FUNCTION @extschema@._charge_partitions(tbl regclass)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    t record;
BEGIN
    FOR t IN
        SELECT p.relid::regclass AS part, tg.tgname, tg.tgenabled,
               substring(pg_get_triggerdef(tg.oid) FROM 'EXECUTE FUNCTION (.*)$') AS call
          FROM pg_partition_tree(coalesce(pg_partition_root(tbl), tbl)) p,
               LATERAL pg_partition_ancestors(p.relid) a
          JOIN pg_trigger tg ON tg.tgrelid = a.relid
         WHERE a.relid <> p.relid
           AND tg.tgfoid = '@extschema@.charge()'::regprocedure
           AND tg.tgtype & 1 = 0                      -- FOR EACH STATEMENT
           AND NOT EXISTS (SELECT FROM pg_trigger x
                            WHERE x.tgrelid = p.relid AND x.tgname = tg.tgname)
         ORDER BY p.level, p.relid, tg.tgname
    LOOP
        -- a partition below two charged levels: the first one made wins
        CONTINUE WHEN EXISTS (SELECT FROM pg_trigger x
                               WHERE x.tgrelid = t.part AND x.tgname = t.tgname);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS fluxcredits_inserted'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s',
                       t.tgname, t.part, t.call);
        IF t.tgenabled <> 'O' THEN
            EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.part,
                           CASE t.tgenabled WHEN 'D' THEN 'DISABLE'
                                            WHEN 'R' THEN 'ENABLE REPLICA'
                                            ELSE 'ENABLE ALWAYS' END,
                           t.tgname);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._charge_partitions(regclass) IS
'internal: gives every partition in tbl''s partition tree the charge() statement triggers of its ancestors that it lacks';

-- Runs as the extension's owner: the DDL of any role passes through it,
-- and PUBLIC has no privilege on the extension's functions.
CREATE FUNCTION @extschema@._charge_ddl()
RETURNS event_trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    cmd record;
    tg oid;
BEGIN
    -- most databases' DDL: no charge() trigger anywhere
    IF NOT EXISTS (SELECT FROM pg_trigger
                    WHERE tgfoid = '@extschema@.charge()'::regprocedure) THEN
        RETURN;
    END IF;
    FOR cmd IN SELECT c.command_tag, c.objid
                 FROM pg_event_trigger_ddl_commands() c
                WHERE c.classid IN ('pg_trigger'::regclass, 'pg_class'::regclass)
    LOOP
        IF cmd.command_tag = 'CREATE TRIGGER' THEN
            IF EXISTS (SELECT FROM pg_trigger
                        WHERE oid = cmd.objid
                          AND tgfoid = '@extschema@.charge()'::regprocedure) THEN
                PERFORM @extschema@._charge_trigger_check(cmd.objid);
                -- A statement trigger of a partition does not fire for the
                -- rows inserted through its parent: alone, it would leave
                -- those free.  A copy of its parent's is what it may be.
                IF EXISTS (SELECT FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
                            WHERE t.oid = cmd.objid AND t.tgtype & 1 = 0 AND c.relispartition
                              AND NOT EXISTS (
                                  SELECT FROM pg_partition_ancestors(t.tgrelid) a
                                    JOIN pg_trigger p ON p.tgrelid = a.relid
                                   WHERE a.relid <> t.tgrelid AND p.tgname = t.tgname
                                     AND p.tgfoid = t.tgfoid AND p.tgargs = t.tgargs
                                     AND p.tgtype & 1 = 0)) THEN
                    RAISE EXCEPTION 'trigger "%" on partition % would not charge the rows inserted through its partitioned table',
                                    (SELECT tgname FROM pg_trigger WHERE oid = cmd.objid),
                                    (SELECT tgrelid::regclass FROM pg_trigger WHERE oid = cmd.objid)
                        USING ERRCODE = '0A000',
                              DETAIL = 'A statement trigger fires for the table a statement names; rows routed into a partition fire the partitioned table''s.',
                              HINT = 'Attach the trigger to the partitioned table: fluxcredits.attach() gives each partition a copy too.';
                END IF;
            END IF;
        ELSIF EXISTS (SELECT FROM pg_class
                       WHERE oid = cmd.objid AND relkind IN ('r', 'p')) THEN
            -- a partition created or attached under a charged table (first:
            -- a charge id step cloned to it needs its statement trigger)
            PERFORM @extschema@._charge_partitions(cmd.objid::regclass);
            -- a column renamed, dropped or retyped under a charge() trigger
            FOR tg IN SELECT oid FROM pg_trigger
                       WHERE tgrelid = cmd.objid
                         AND tgfoid = '@extschema@.charge()'::regprocedure
            LOOP
                PERFORM @extschema@._charge_trigger_check(tg);
            END LOOP;
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._charge_ddl() IS
'internal: the event trigger fluxcredits_charge_ddl: checks charge() triggers when they are created and when their table is altered, and gives new partitions of a charged table their statement trigger';

CREATE EVENT TRIGGER fluxcredits_charge_ddl ON ddl_command_end
    WHEN TAG IN ('CREATE TRIGGER', 'CREATE TABLE', 'ALTER TABLE')
    EXECUTE FUNCTION @extschema@._charge_ddl();

--------------------------------------------------------------------------
-- attach() and detach(): the statement form, partitions included
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.attach("table" regclass, kind @extschema@.credit_kind,
                                   account_column name, image_column name DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trigger_name text := format('fluxcredits_charge_%s', kind);
BEGIN
    IF "table" IS NULL OR kind IS NULL OR account_column IS NULL THEN
        RAISE EXCEPTION 'table, kind and account_column must not be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_attribute
                    WHERE attrelid = "table" AND attname = account_column
                      AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', account_column, "table"
            USING ERRCODE = '42703';
    END IF;
    IF image_column IS NOT NULL AND NOT EXISTS (
           SELECT FROM pg_attribute
            WHERE attrelid = "table" AND attname = image_column
              AND attnum > 0 AND NOT attisdropped) THEN
        RAISE EXCEPTION 'column "%" of table % does not exist', image_column, "table"
            USING ERRCODE = '42703';
    END IF;
    -- the column types are checked by the event trigger fluxcredits_charge_ddl
    EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s'
                   ' REFERENCING NEW TABLE AS fluxcredits_inserted'
                   ' FOR EACH STATEMENT EXECUTE FUNCTION @extschema@.charge(%L, %L, %L)',
                   trigger_name, "table", kind, account_column, coalesce(image_column, ''));
    PERFORM @extschema@._charge_partitions("table");
    RETURN trigger_name;
END
$$;
COMMENT ON FUNCTION @extschema@.attach(regclass, @extschema@.credit_kind, name, name) IS
'creates the trigger fluxcredits_charge_<kind> that charges a credit of kind for every row a statement inserts into table (and into each of its partitions); returns its name';

CREATE OR REPLACE FUNCTION @extschema@.detach("table" regclass, kind @extschema@.credit_kind)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    trigger_name text := format('fluxcredits_charge_%s', kind);
    t record;
BEGIN
    IF "table" IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'table and kind must not be null' USING ERRCODE = '22004';
    END IF;
    EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, "table");
    -- and the copies attach() gave its partitions
    FOR t IN SELECT p.relid::regclass AS part
               FROM pg_partition_tree("table") p
               JOIN pg_trigger tg ON tg.tgrelid = p.relid
              WHERE p.relid <> "table" AND tg.tgname = trigger_name
                AND tg.tgfoid = '@extschema@.charge()'::regprocedure AND tg.tgparentid = 0
              ORDER BY p.level, p.relid
    LOOP
        EXECUTE format('DROP TRIGGER %I ON %s', trigger_name, t.part);
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@.detach(regclass, @extschema@.credit_kind) IS
'drops the trigger that attach() created for kind on table, and on its partitions';

REVOKE ALL ON FUNCTION @extschema@._charge_trigger_check(oid) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._charge_partitions(regclass) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._charge_ddl() FROM PUBLIC;

--------------------------------------------------------------------------
-- pg_dump without warnings (1.6)
--------------------------------------------------------------------------

-- Up to 1.5 the install script revoked PUBLIC's USAGE on the row types of
-- the extension's tables and views too; the initial privilege recorded for
-- each made every pg_dump of the database print "warning: unsupported
-- pg_init_privs entry" (pg_dump does not dump those types apart from their
-- relation).  1.6 leaves them alone (nobody can use them without USAGE on
-- the schema, which PUBLIC lacks); no GRANT or REVOKE gives a type back
-- its default privileges and drops the recorded entry, so the catalog rows
-- are reset to what a fresh 1.6 install has.
UPDATE pg_catalog.pg_type ty SET typacl = NULL
 WHERE ty.typnamespace = '@extschema@'::regnamespace
   AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = ty.typrelid AND c.relkind <> 'c');
DELETE FROM pg_catalog.pg_init_privs i
 USING pg_catalog.pg_type ty
 WHERE i.classoid = 'pg_catalog.pg_type'::pg_catalog.regclass AND i.objoid = ty.oid
   AND ty.typnamespace = '@extschema@'::regnamespace
   AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = ty.typrelid AND c.relkind <> 'c');

--------------------------------------------------------------------------
-- The 1.5 triggers, moved to the 1.6 form
--------------------------------------------------------------------------

DO $$
DECLARE
    t record;
    enable_as text;
    clone_parts regclass[];
    clone_states "char"[];
BEGIN
    -- A WHEN condition on a row trigger chose the rows to charge; a
    -- statement trigger cannot: moving it would charge every row.
    FOR t IN SELECT tg.tgname, tg.tgrelid::regclass AS tbl
               FROM pg_trigger tg
              WHERE tg.tgfoid = '@extschema@.charge()'::regprocedure AND tg.tgparentid = 0
                AND tg.tgqual IS NOT NULL
    LOOP
        RAISE EXCEPTION 'trigger "%" on table % charges the rows of a WHEN condition, which 1.6''s statement trigger cannot have', t.tgname, t.tbl
            USING ERRCODE = '0A000',
                  DETAIL = 'fluxcredits 1.6 charges every row a statement inserts into the table.',
                  HINT = 'Drop the trigger (or move the rows to charge to a table of their own, with its own trigger), then update again.';
    END LOOP;
    FOR t IN
        SELECT tg.oid, tg.tgname, tg.tgrelid::regclass AS tbl, tg.tgenabled,
               substring(pg_get_triggerdef(tg.oid) FROM 'EXECUTE FUNCTION (.*)$') AS call,
               coalesce((string_to_array(encode(tg.tgargs, 'escape'), '\000'))[5], '') <> '' AS has_charge_id
          FROM pg_trigger tg
         WHERE tg.tgfoid = '@extschema@.charge()'::regprocedure
           AND tg.tgparentid = 0
           AND tg.tgtype & (1 | 2 | 4) = (1 | 2 | 4)    -- BEFORE INSERT FOR EACH ROW
           AND tg.tgtype & (8 | 16 | 32 | 64) = 0         -- and nothing else
         ORDER BY tg.tgrelid, tg.tgname
    LOOP
        enable_as := CASE t.tgenabled WHEN 'O' THEN NULL
                                      WHEN 'D' THEN 'DISABLE'
                                      WHEN 'R' THEN 'ENABLE REPLICA'
                                      ELSE 'ENABLE ALWAYS' END;
        -- the state of its copies on partitions, where it differs
        SELECT coalesce(array_agg(x.tgrelid::regclass ORDER BY x.tgrelid), '{}'),
               coalesce(array_agg(x.tgenabled ORDER BY x.tgrelid), '{}')
          INTO clone_parts, clone_states
          FROM pg_trigger x
         WHERE x.tgparentid = t.oid AND x.tgenabled <> t.tgenabled;
        EXECUTE format('DROP TRIGGER %I ON %s', t.tgname, t.tbl);
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s'
                       ' REFERENCING NEW TABLE AS fluxcredits_inserted'
                       ' FOR EACH STATEMENT EXECUTE FUNCTION %s',
                       t.tgname, t.tbl, t.call);
        IF t.has_charge_id THEN
            EXECUTE format('CREATE TRIGGER %I BEFORE INSERT ON %s'
                           ' FOR EACH ROW EXECUTE FUNCTION %s',
                           left(t.tgname, 60) || '_id', t.tbl, t.call);
        END IF;
        IF enable_as IS NOT NULL THEN
            EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.tbl, enable_as, t.tgname);
            IF t.has_charge_id THEN
                EXECUTE format('ALTER TABLE %s %s TRIGGER %I', t.tbl, enable_as,
                               left(t.tgname, 60) || '_id');
            END IF;
        END IF;
        -- 1.5's row trigger on a partitioned table reached its partitions
        -- too: they get copies, in the state of the table's
        PERFORM @extschema@._charge_partitions(t.tbl);
        -- A partition's own state now governs the rows inserted into it
        -- directly; rows inserted through the partitioned table are the
        -- table's trigger's (its charge id step stays as the table's, so
        -- that those rows get their ids).
        FOR i IN 1 .. cardinality(clone_parts) LOOP
            enable_as := CASE clone_states[i] WHEN 'O' THEN 'ENABLE'
                                              WHEN 'D' THEN 'DISABLE'
                                              WHEN 'R' THEN 'ENABLE REPLICA'
                                              ELSE 'ENABLE ALWAYS' END;
            EXECUTE format('ALTER TABLE %s %s TRIGGER %I', clone_parts[i], enable_as, t.tgname);
        END LOOP;
    END LOOP;
END
$$;
