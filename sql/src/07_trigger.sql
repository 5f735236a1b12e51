--------------------------------------------------------------------------
-- Charging from the app's own tables (src/trigger.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_7'
LANGUAGE C SECURITY DEFINER;
-- No SET search_path: see credits_consume.
COMMENT ON FUNCTION @extschema@.charge() IS
'AFTER INSERT ... REFERENCING NEW TABLE ... FOR EACH STATEMENT trigger charging one credit per inserted row: charge(kind, account_column [, image_column [, idempotency_key_column [, charge_id_column]]]); with a charge id column, also BEFORE INSERT FOR EACH ROW with the same arguments';

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

CREATE FUNCTION @extschema@.attach("table" regclass, kind @extschema@.credit_kind,
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

CREATE FUNCTION @extschema@.detach("table" regclass, kind @extschema@.credit_kind)
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
