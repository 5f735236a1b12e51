--------------------------------------------------------------------------
-- Privileges
--------------------------------------------------------------------------

-- Privileges.  The two roles an installation grants, with what each gets.
CREATE FUNCTION @extschema@._role_privileges(role_kind text)
RETURNS TABLE (privilege text, object_type text, object text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 'USAGE', 'SCHEMA', '@extschema@'
    UNION ALL
    SELECT 'SELECT', 'TABLE', v::regclass::text
      FROM unnest(CASE role_kind
                      WHEN 'app' THEN ARRAY['@extschema@.usage', '@extschema@.alerts']
                      WHEN 'reader' THEN ARRAY['@extschema@.usage', '@extschema@.usage_history',
                                               '@extschema@.near_limit', '@extschema@.plan_summary',
                                               '@extschema@.alerts']
                  END) v
    UNION ALL
    SELECT 'EXECUTE', 'FUNCTION', p.oid::regprocedure::text
      FROM pg_proc p
     WHERE p.pronamespace = '@extschema@'::regnamespace
       AND p.proname = ANY (CASE role_kind
                                WHEN 'app' THEN ARRAY['credits_open_account', 'credits_consume',
                                    'credits_try_consume', 'credits_topup', 'credits_refund',
                                    'credits_set_plan', 'credits_usage', 'credits_usage_json',
                                    'credits_reserve', 'credits_commit', 'credits_release',
                                    'credits_refund_for', 'credits_commit_for',
                                    'credits_release_for', 'billing_period']
                                -- The views call these with the reader's rights.
                                WHEN 'reader' THEN ARRAY['credits_usage', 'near_limit']
                            END)
$$;
COMMENT ON FUNCTION @extschema@._role_privileges(text) IS
'internal: the privileges grant_app (role_kind app) and grant_reader (reader) give';

-- Grants or revokes one set.  Revoking one set leaves what the other set
-- also gives (USAGE on the schema, the views usage and alerts) to a role
-- that holds the whole other set.
CREATE FUNCTION @extschema@._set_role_privileges(role regrole, role_kind text, granted boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    priv record;
    other text := CASE role_kind WHEN 'app' THEN 'reader' ELSE 'app' END;
    keep_shared boolean;
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    keep_shared := NOT granted AND NOT EXISTS (
        SELECT FROM @extschema@._role_privileges(other) o
         WHERE NOT CASE o.object_type
                   WHEN 'SCHEMA' THEN has_schema_privilege(role, o.object, o.privilege)
                   WHEN 'TABLE' THEN has_table_privilege(role, o.object, o.privilege)
                   ELSE has_function_privilege(role, o.object, o.privilege) END);
    FOR priv IN SELECT r.privilege, r.object_type, r.object
                  FROM @extschema@._role_privileges(role_kind) r
                 ORDER BY r.object_type, r.object
    LOOP
        IF keep_shared AND EXISTS (SELECT FROM @extschema@._role_privileges(other) o
                                    WHERE (o.privilege, o.object_type, o.object)
                                        = (priv.privilege, priv.object_type, priv.object)) THEN
            CONTINUE;
        END IF;
        IF granted THEN
            EXECUTE format('GRANT %s ON %s %s TO %s', priv.privilege, priv.object_type, priv.object, role);
        ELSE
            EXECUTE format('REVOKE %s ON %s %s FROM %s', priv.privilege, priv.object_type, priv.object, role);
        END IF;
    END LOOP;
END
$$;
COMMENT ON FUNCTION @extschema@._set_role_privileges(regrole, text, boolean) IS
'internal: grants (granted) or revokes the privileges of grant_app (role_kind app) or grant_reader (reader)';

CREATE FUNCTION @extschema@.grant_app(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'app', true) $$;
COMMENT ON FUNCTION @extschema@.grant_app(regrole) IS
'lets role use the credit functions and read the views usage and alerts; it can change no table directly';

CREATE FUNCTION @extschema@.revoke_app(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'app', false) $$;
COMMENT ON FUNCTION @extschema@.revoke_app(regrole) IS 'takes back what grant_app gave';

CREATE FUNCTION @extschema@.grant_reader(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'reader', true) $$;
COMMENT ON FUNCTION @extschema@.grant_reader(regrole) IS
'lets role read the DBA views usage, usage_history, near_limit, plan_summary and alerts, and nothing else';

CREATE FUNCTION @extschema@.revoke_reader(role regrole) RETURNS void
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$ SELECT @extschema@._set_role_privileges(role, 'reader', false) $$;
COMMENT ON FUNCTION @extschema@.revoke_reader(regrole) IS 'takes back what grant_reader gave';

-- PUBLIC gets nothing: the installation decides who may do what, with the
-- functions above or its own GRANTs.  PUBLIC has no privilege on the new
-- schema, nor on new tables and sequences, but may execute new functions
-- and use new types (in a column or argument; calls and casts need no
-- privilege on a type).  These statements must come after every object
-- the script creates.
REVOKE ALL ON ALL TABLES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA @extschema@ FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA @extschema@ FROM PUBLIC;
DO $$
DECLARE
    t regtype;
BEGIN
    -- Array types follow their element type.  Not the row types of tables
    -- and views: nobody can use them without USAGE on the schema, and
    -- pg_dump, which does not dump them apart from their relation, warns
    -- of an initial privilege recorded on one ("unsupported pg_init_privs
    -- entry", up to 1.5).
    FOR t IN SELECT ty.oid FROM pg_catalog.pg_type ty
              WHERE ty.typnamespace = '@extschema@'::regnamespace AND ty.typcategory <> 'A'
                AND NOT EXISTS (SELECT FROM pg_catalog.pg_class c
                                 WHERE c.oid = ty.typrelid AND c.relkind <> 'c')
              ORDER BY ty.oid
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON TYPE %s FROM PUBLIC', t);
    END LOOP;
END
$$;
