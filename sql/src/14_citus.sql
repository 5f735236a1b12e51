--------------------------------------------------------------------------
-- Scale-out on Citus: distribute() (1.8)
--------------------------------------------------------------------------

-- Citus is not a dependency: every statement that names one of its
-- functions or catalogs is run with EXECUTE, so that the extension installs
-- and works on a server without it, where none of them is ever reached.

CREATE FUNCTION @extschema@._on_citus()
RETURNS boolean
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    distributed boolean := false;
BEGIN
    IF to_regclass('pg_catalog.pg_dist_partition') IS NOT NULL THEN
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1)'
           INTO distributed USING '@extschema@.accounts'::regclass;
    END IF;
    RETURN distributed;
END
$$;
COMMENT ON FUNCTION @extschema@._on_citus() IS
'internal: true when fluxcredits.accounts is a Citus table (distribute() ran)';

-- What distribute() does on each node by itself, coordinator and workers
-- alike: the ledger's ids of this node come from its own range, the range
-- Citus gives a bigserial on the node's group, [(group << 48) + 1,
-- (group + 1) << 48] (the coordinator's group is 0), so that ids are unique
-- across the cluster; and the extension's own tables on this node are
-- emptied where they are not the data (Citus reads and writes the shards;
-- the tables are their "shells"), so that nothing reads rows there that no
-- query of Citus sees (the coordinator's rows from before distribution, a
-- worker's copy of the seeded plans).  Returns what it changed, empty when
-- nothing.
CREATE FUNCTION @extschema@._distribute_node()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    grp bigint;
    lo bigint;
    hi bigint;
    seq record;
    last_id bigint;
    shells text[];
    full_shells text[];
    saved_role text;
    saved_ddl text := current_setting('citus.enable_ddl_propagation');
    done text[] := '{}';
BEGIN
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO grp;
    lo := (grp << 48) + 1;
    hi := (grp + 1) << 48;
    -- Not propagated: each node sets its own sequence (Citus refuses a
    -- plain ALTER SEQUENCE of a distributed table's sequence).
    PERFORM set_config('citus.enable_ddl_propagation', 'off', true);
    SELECT s.seqmin, s.seqmax INTO seq FROM pg_sequence s
     WHERE s.seqrelid = '@extschema@.ledger_id_seq'::regclass;
    IF (seq.seqmin, seq.seqmax) IS DISTINCT FROM (lo, hi) THEN
        SELECT CASE WHEN q.is_called THEN q.last_value ELSE q.last_value - 1 END
          INTO last_id FROM @extschema@.ledger_id_seq q;
        IF last_id > hi THEN
            RAISE EXCEPTION 'the ledger ids of this node are past its range'
                USING ERRCODE = '55000',
                      DETAIL = format('The last id given is %s; the range of node group %s ends at %s.',
                                      last_id, grp, hi);
        END IF;
        EXECUTE format('ALTER SEQUENCE @extschema@.ledger_id_seq MINVALUE %s MAXVALUE %s START WITH %s%s',
                       lo, hi, lo, CASE WHEN last_id < lo THEN format(' RESTART WITH %s', lo) ELSE '' END);
        done := done || format('ledger ids from %s to %s', greatest(last_id + 1, lo), hi);
    END IF;
    -- The extension's own tables only (the shards of a worker live in the
    -- same schema).  A worker's copies are never the data (before
    -- distribution it is on the coordinator, after it in the shards); the
    -- coordinator's are emptied only once Citus distributed them.  All of
    -- them in one TRUNCATE, so that the foreign keys between them allow it.
    EXECUTE 'SELECT array_agg(c.oid::regclass::text ORDER BY c.relname)
               FROM pg_catalog.pg_depend d
               JOIN pg_catalog.pg_class c ON c.oid = d.objid
              WHERE d.classid = ''pg_catalog.pg_class''::regclass AND d.deptype = ''e''
                AND d.refclassid = ''pg_catalog.pg_extension''::regclass
                AND d.refobjid = (SELECT e.oid FROM pg_catalog.pg_extension e
                                   WHERE e.extname = ''fluxcredits'')
                AND c.relkind = ''r''
                AND ($1 <> 0 OR EXISTS (SELECT FROM pg_catalog.pg_dist_partition p
                                         WHERE p.logicalrelid = c.oid))'
       INTO shells USING grp;
    SELECT array_agg(t ORDER BY t) INTO full_shells FROM unnest(shells) t
     WHERE pg_relation_size(t::regclass) > 0;
    IF full_shells IS NOT NULL THEN
        -- As truncate_local_data_after_distributing_table() does, but on a
        -- worker too, and past the ledger's append-only trigger: no trigger
        -- fires (Citus's own truncate trigger would empty the shards).
        saved_role := current_setting('session_replication_role');
        PERFORM set_config('session_replication_role', 'replica', true);
        EXECUTE 'TRUNCATE ONLY ' || array_to_string(shells, ', ');
        PERFORM set_config('session_replication_role', saved_role, true);
        done := done || format('emptied %s', array_to_string(full_shells, ', '));
    END IF;
    PERFORM set_config('citus.enable_ddl_propagation', saved_ddl, true);
    RETURN array_to_string(done, '; ');
END
$$;
COMMENT ON FUNCTION @extschema@._distribute_node() IS
'internal: on this Citus node, the ledger ids of its group''s range and the extension''s local tables emptied where they are not the data; returns what it changed';

-- The scale-out on a Citus cluster, run once on the coordinator after the
-- workers were added, and again after a node is added or a restore (a dump
-- keeps none of it).  In the order Citus needs (plans first, as the
-- reference table accounts' foreign key points to; accounts in a
-- colocation group of its own, which the app's tables may join; the rest
-- colocated with it), with the keys Citus can enforce: a unique rule must
-- include the account, so the ledger's and the reservations' keys become
-- (account, id), a charge is refunded once and a payment reference credited
-- once per account (ids stay unique by the nodes' ranges).  Then every
-- function whose first argument is the account runs on the node holding
-- the account, inside a transaction block too (force_delegation).  Each
-- step is skipped when done already.  Superusers only: it changes the
-- extension's tables and sets session_replication_role, a superuser's
-- setting, to empty the ledger's local copies past its append-only trigger.
CREATE FUNCTION @extschema@.distribute()
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    done text[] := '{}';
    grp bigint;
    workers integer;
    node record;
    tbl regclass;
    is_citus boolean;
    f regprocedure;
    changed text;
    saved_triggers text;
    saved_fkeys text;
    saved_messages text;
BEGIN
    IF NOT (SELECT r.rolsuper FROM pg_roles r WHERE r.rolname = current_user) THEN
        RAISE EXCEPTION 'permission denied to distribute the fluxcredits tables'
            USING ERRCODE = '42501',
                  DETAIL = 'It changes the tables'' keys, empties their local copies and sets the ledger''s id sequence on every node.',
                  HINT = 'Call it as a superuser.';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_extension e WHERE e.extname = 'citus') THEN
        RAISE EXCEPTION 'Citus is not installed in this database'
            USING ERRCODE = '0A000',
                  DETAIL = 'fluxcredits.distribute() spreads the fluxcredits tables over the nodes of a Citus cluster; a single server needs nothing of it.',
                  HINT = 'Add citus to shared_preload_libraries, run CREATE EXTENSION citus and add the workers with citus_add_node(), then call it again.';
    END IF;
    IF current_setting('citus.version', true) IS NULL THEN
        RAISE EXCEPTION 'Citus is installed in this database but not loaded'
            USING ERRCODE = '0A000',
                  HINT = 'Add citus to shared_preload_libraries and restart the server.';
    END IF;
    EXECUTE 'SELECT g.groupid FROM pg_catalog.pg_dist_local_group g' INTO grp;
    IF grp <> 0 THEN
        RAISE EXCEPTION 'fluxcredits.distribute() runs on the Citus coordinator'
            USING ERRCODE = '55000',
                  DETAIL = format('This node is a worker (node group %s).', grp),
                  HINT = 'Connect to the coordinator and call it there.';
    END IF;
    EXECUTE 'SELECT count(*) FROM pg_catalog.pg_dist_node n
              WHERE n.groupid <> 0 AND n.noderole = ''primary'' AND n.isactive'
       INTO workers;
    IF workers = 0 THEN
        RAISE EXCEPTION 'the Citus cluster has no worker node'
            USING ERRCODE = '55000',
                  DETAIL = 'The accounts are spread over the workers; this coordinator has none.',
                  HINT = 'Add them with citus_add_node() first.';
    END IF;

    -- The workers first, before this transaction holds anything there
    -- (run_command_on_workers uses connections of its own): their ids, and
    -- their copies of the tables, emptied (the propagated CREATE EXTENSION
    -- seeded the plans in each).
    FOR node IN EXECUTE 'SELECT w.nodename, w.nodeport, w.success, w.result
                           FROM pg_catalog.run_command_on_workers(
                                    ''SELECT @extschema@._distribute_node()'') w
                          ORDER BY w.nodename, w.nodeport'
    LOOP
        IF NOT node.success THEN
            RAISE EXCEPTION 'could not prepare worker %:% for fluxcredits', node.nodename, node.nodeport
                USING ERRCODE = '55000', DETAIL = node.result;
        END IF;
        IF node.result <> '' THEN
            done := done || format('worker %s:%s: %s', node.nodename, node.nodeport, node.result);
        END IF;
    END LOOP;

    saved_triggers := current_setting('citus.enable_unsafe_triggers');
    saved_fkeys := current_setting('citus.enable_local_reference_table_foreign_keys');
    -- The ledger's append-only trigger and the plans' limits trigger go to
    -- the shards, which Citus allows only so.
    PERFORM set_config('citus.enable_unsafe_triggers', 'on', true);
    -- Else Citus turns accounts and counters, which reference plans, into
    -- Citus local tables as plans becomes a reference table, dropping and
    -- creating again the views on them, which the extension owns (2BP01).
    PERFORM set_config('citus.enable_local_reference_table_foreign_keys', 'off', true);
    -- Citus's notices tell to empty the local tables: done below.
    saved_messages := current_setting('client_min_messages');
    PERFORM set_config('client_min_messages', 'warning', true);

    FOREACH tbl IN ARRAY ARRAY['@extschema@.plans', '@extschema@.accounts', '@extschema@.counters',
                               '@extschema@.ledger', '@extschema@.reservations',
                               '@extschema@.alerts_sent']::regclass[]
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid = $1)'
           INTO is_citus USING tbl;
        CONTINUE WHEN is_citus;
        IF tbl = '@extschema@.plans'::regclass THEN
            -- Restore-only (see _plans_insert_seeded): copied to the
            -- placements, it would run a distributed UPDATE inside the COPY
            -- that fills them.
            DROP TRIGGER IF EXISTS plans_insert_seeded ON @extschema@.plans;
            EXECUTE 'SELECT pg_catalog.create_reference_table($1)' USING tbl;
            done := done || format('%s: reference table', tbl);
            CONTINUE;
        END IF;
        IF tbl = '@extschema@.ledger'::regclass THEN
            IF pg_get_indexdef('@extschema@.ledger_pkey'::regclass) NOT LIKE '%(account, id)' THEN
                ALTER TABLE @extschema@.ledger DROP CONSTRAINT ledger_pkey,
                    ADD CONSTRAINT ledger_pkey PRIMARY KEY (account, id);
            END IF;
            -- for the id forms of credits_refund, credits_commit, credits_release
            CREATE INDEX IF NOT EXISTS ledger_id ON @extschema@.ledger (id);
            IF pg_get_indexdef('@extschema@.ledger_refund_once'::regclass) NOT LIKE '%(account, charge)%' THEN
                DROP INDEX @extschema@.ledger_refund_once;
                CREATE UNIQUE INDEX ledger_refund_once ON @extschema@.ledger (account, charge)
                    WHERE entry = 'refund';
            END IF;
            IF pg_get_indexdef('@extschema@.ledger_payment_reference'::regclass) NOT LIKE '%(account, reference)%' THEN
                DROP INDEX @extschema@.ledger_payment_reference;
                CREATE UNIQUE INDEX ledger_payment_reference ON @extschema@.ledger (account, reference)
                    WHERE entry = 'topup';
            END IF;
        ELSIF tbl = '@extschema@.reservations'::regclass THEN
            IF pg_get_indexdef('@extschema@.reservations_pkey'::regclass) NOT LIKE '%(account, id)' THEN
                ALTER TABLE @extschema@.reservations DROP CONSTRAINT reservations_pkey,
                    ADD CONSTRAINT reservations_pkey PRIMARY KEY (account, id);
            END IF;
            CREATE INDEX IF NOT EXISTS reservations_id ON @extschema@.reservations (id);
        END IF;
        EXECUTE 'SELECT pg_catalog.create_distributed_table($1, ''account'', colocate_with => $2)'
          USING tbl, CASE WHEN tbl = '@extschema@.accounts'::regclass THEN 'none'
                          ELSE '@extschema@.accounts' END;
        done := done || format('%s: distributed by account', tbl);
    END LOOP;

    -- This node's ids, and the rows the tables held here before, now in
    -- their shards.
    changed := @extschema@._distribute_node();
    IF changed <> '' THEN
        done := done || ('coordinator: ' || changed);
    END IF;

    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
              WHERE p.pronamespace = '@extschema@'::regnamespace AND p.proname !~ '^_'
                AND p.pronargs > 0 AND p.proargtypes[0] = 'text'::regtype
                AND p.proargnames[1] = 'account'
              ORDER BY p.proname, p.oid
    LOOP
        EXECUTE 'SELECT EXISTS (SELECT FROM pg_catalog.pg_dist_object o
                                 WHERE o.classid = ''pg_catalog.pg_proc''::regclass AND o.objid = $1
                                   AND o.distribution_argument_index = 0 AND o.force_delegation
                                   AND o.colocationid = (SELECT p.colocationid FROM pg_catalog.pg_dist_partition p
                                                          WHERE p.logicalrelid = $2))'
           INTO is_citus USING f, '@extschema@.accounts'::regclass;
        CONTINUE WHEN is_citus;
        EXECUTE 'SELECT pg_catalog.create_distributed_function($1, ''$1'', colocate_with => $2,
                                                                force_delegation => true)'
          USING f, '@extschema@.accounts';
        done := done || format('%s: runs on the account''s node', f);
    END LOOP;

    PERFORM set_config('client_min_messages', saved_messages, true);
    PERFORM set_config('citus.enable_unsafe_triggers', saved_triggers, true);
    PERFORM set_config('citus.enable_local_reference_table_foreign_keys', saved_fkeys, true);
    IF cardinality(done) = 0 THEN
        RETURN 'fluxcredits is distributed already: nothing changed';
    END IF;
    RETURN array_to_string(done, E'\n');
END
$$;
COMMENT ON FUNCTION @extschema@.distribute() IS
'on a Citus coordinator with workers: distributes the fluxcredits tables by account (plans a reference table), delegates the account''s functions to its node, gives each node its own ledger ids; idempotent; returns what it did';

-- Not for PUBLIC (sql/src/13_privileges.sql revoked the functions made
-- before this file).
REVOKE ALL ON FUNCTION @extschema@._on_citus() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._distribute_node() FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.distribute() FROM PUBLIC;
