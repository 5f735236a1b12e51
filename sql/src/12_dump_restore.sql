--------------------------------------------------------------------------
-- Dump and restore
--------------------------------------------------------------------------

-- Dump and restore.  pg_dump saves the rows of the tables registered below,
-- and a restore runs CREATE EXTENSION (which seeds the four plans) before it
-- loads them.  Every plan row is dumped, so that a seeded plan a DBA changed
-- comes back as changed: a row inserted with the name of a seeded plan whose
-- row still holds its seeded limits replaces those limits instead of
-- colliding with it.  Any other duplicate plan name is still an error.
CREATE FUNCTION @extschema@._plans_insert_seeded() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The seed of the plans table, as inserted at the top of this script.
    UPDATE @extschema@.plans p
       SET compression_limit = NEW.compression_limit, ai_monthly = NEW.ai_monthly,
           alert_thresholds = NEW.alert_thresholds
      FROM (VALUES ('Free', 20, 0), ('Starter', 200, 200),
                   ('Pro', NULL, 1000), ('Agency', NULL, 10000)) AS s(name, compression_limit, ai_monthly)
     WHERE p.name = NEW.name AND s.name = p.name
       AND (p.compression_limit, p.ai_monthly, p.alert_thresholds)
           IS NOT DISTINCT FROM (s.compression_limit, s.ai_monthly, '{80,100}'::integer[]);
    IF FOUND THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION @extschema@._plans_insert_seeded() IS
'internal: an INSERT of a seeded plan still at its seeded limits and alert thresholds sets them (how a restore brings back a changed seeded plan)';

CREATE TRIGGER plans_insert_seeded
    BEFORE INSERT ON @extschema@.plans
    FOR EACH ROW EXECUTE FUNCTION @extschema@._plans_insert_seeded();

-- The user data pg_dump saves: every table the extension's functions or a
-- DBA write, and the ledger's id sequence, so that ids after a restore do
-- not collide with restored ones.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.plans', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.accounts', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.counters', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ledger', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.ledger_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reservations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.alerts_sent', '');
