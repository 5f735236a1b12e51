--------------------------------------------------------------------------
-- Internal checks shared with the C code (src/args.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@._check_text(value text, what text, maxlen integer)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_text_sql'
LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_text(text, text, integer) IS
'internal: raises unless value is a non-empty string of at most maxlen bytes';

CREATE FUNCTION @extschema@._check_time_zone(tz text)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_time_zone_sql_1_7'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_time_zone(text) IS
'internal: raises 22023 unless tz may be an account''s time zone: a name pg_timezone_names lists, not a leap-second (right/) zone';

CREATE FUNCTION @extschema@._check_at(at timestamptz, what text DEFAULT 'at')
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF at IS NULL THEN
        RAISE EXCEPTION '% must not be null', what
            USING ERRCODE = '22004',
                  HINT = CASE WHEN what = 'at' THEN 'Leave it out to use now().'
                              ELSE format('Give the %s as a finite timestamp.', what) END;
    END IF;
    IF NOT isfinite(at) THEN
        RAISE EXCEPTION '% must be a finite timestamp', what USING ERRCODE = '22008';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_at(timestamptz, text) IS
'internal: raises unless at is a finite timestamp';

CREATE FUNCTION @extschema@._check_anchor(anchor timestamptz, what text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM @extschema@._check_at(anchor, what);
    IF anchor > now() + interval '1 year' THEN
        RAISE EXCEPTION '% is too far in the future', what
            USING ERRCODE = '22008',
                  DETAIL = format('The %s is %s; it may be at most one year after now().', what, anchor),
                  HINT = 'The anchor is when the account subscribed.';
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._check_anchor(timestamptz, text) IS
'internal: raises unless anchor is finite and at most one year ahead';

-- What every writer checks first (src/writer_checks.c): that it may write,
-- before it takes any lock or a transaction id; and, once it has read the
-- account, that at lies within the account's life.
CREATE FUNCTION @extschema@._check_writable(action text)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_writable_sql'
LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_writable(text) IS
'internal: raises 25006 on a hot standby or in a read-only transaction (action: what was refused)';

CREATE FUNCTION @extschema@._check_clock(account text, at timestamptz, anchor timestamptz,
                                         anchor_since timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_check_clock_sql'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._check_clock(text, timestamptz, timestamptz, timestamptz) IS
'internal: raises 22023 unless at lies from the account''s anchor (anchor_since, once set) to the current time plus fluxcredits.max_clock_skew';

CREATE FUNCTION @extschema@._lock_account(account text)
RETURNS @extschema@.accounts
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
BEGIN
    PERFORM @extschema@._check_text(account, 'account', 256);
    SELECT * INTO acc FROM @extschema@.accounts a
     WHERE a.account = _lock_account.account FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', account
            USING ERRCODE = 'FC002',
                  HINT = 'Open it first with fluxcredits.credits_open_account().';
    END IF;
    RETURN acc;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_account(text) IS
'internal: the account''s row, locked FOR NO KEY UPDATE (the first lock of every writer)';

CREATE FUNCTION @extschema@._lock_image(account text, image text, period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_image_sql_1_6'
LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@._lock_image(text, text, timestamptz) IS
'internal: the transaction-level advisory lock that serialises AI charges and refunds of one image in one period';

CREATE FUNCTION @extschema@._lock_account_slots(account text, kind @extschema@.credit_kind,
                                                period_start timestamptz)
RETURNS void
AS 'MODULE_PATHNAME', 'fc_lock_account_slots'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) IS
'internal: the account''s row and its counter slots of kind in the period (NULL: all), never holding the account while waiting for a slot (src/under_account.c)';

CREATE FUNCTION @extschema@._plan_limit(plan text, kind @extschema@.credit_kind)
RETURNS bigint
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE kind WHEN 'compression' THEN p.compression_limit ELSE p.ai_monthly END
      FROM @extschema@.plans p WHERE p.name = plan
$$;
COMMENT ON FUNCTION @extschema@._plan_limit(text, @extschema@.credit_kind) IS
'internal: the monthly limit of a kind on a plan (NULL: unlimited)';

-- Sets the caps of one account's counter slots of one kind and period so
-- that they share what the limit leaves evenly; with grow, doubles the slots
-- (up to fluxcredits.counter_slots).  The caller holds the account's row lock.
CREATE FUNCTION @extschema@._rebalance(account text, kind @extschema@.credit_kind,
                                       period_start timestamptz, period_end timestamptz,
                                       lim bigint, grow boolean)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    n integer;
    total bigint;
    room bigint;
    max_slots integer := coalesce(nullif(current_setting('fluxcredits.counter_slots', true), '')::integer, 16);
BEGIN
    SELECT count(*), coalesce(sum(c.used), 0) INTO n, total
      FROM (SELECT c.used FROM @extschema@.counters c
             WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
               AND c.period_start = _rebalance.period_start
             ORDER BY c.slot FOR UPDATE) c;
    IF lim IS NULL THEN
        UPDATE @extschema@.counters c SET cap = NULL
         WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
           AND c.period_start = _rebalance.period_start AND c.cap IS NOT NULL;
        RETURN;
    END IF;
    IF n = 0 AND NOT grow THEN
        RETURN;
    END IF;
    IF grow AND n < max_slots THEN
        INSERT INTO @extschema@.counters (account, kind, period_start, slot, period_end, used, cap)
        SELECT _rebalance.account, _rebalance.kind, _rebalance.period_start, g.slot,
               _rebalance.period_end, 0, 0
          FROM generate_series(0, max_slots - 1) AS g(slot)
         WHERE NOT EXISTS (SELECT FROM @extschema@.counters c
                            WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
                              AND c.period_start = _rebalance.period_start AND c.slot = g.slot)
         ORDER BY g.slot
         LIMIT least(max_slots, greatest(2 * n, 2)) - n;   -- double, to reach the clients soon
    END IF;
    room := greatest(lim - total, 0);
    UPDATE @extschema@.counters c
       SET cap = c.used + r.room / r.n + CASE WHEN r.rn <= r.room % r.n THEN 1 ELSE 0 END
      FROM (SELECT c2.slot, row_number() OVER (ORDER BY c2.slot) AS rn,
                   count(*) OVER () AS n, room AS room
              FROM @extschema@.counters c2
             WHERE c2.account = _rebalance.account AND c2.kind = _rebalance.kind
               AND c2.period_start = _rebalance.period_start) r
     WHERE c.account = _rebalance.account AND c.kind = _rebalance.kind
       AND c.period_start = _rebalance.period_start AND c.slot = r.slot;
END
$$;
COMMENT ON FUNCTION @extschema@._rebalance(text, @extschema@.credit_kind, timestamptz, timestamptz, bigint, boolean) IS
'internal: shares what the limit leaves among the counter slots of a period (caller holds the account lock)';

-- Shares out the caps of every counter period of an account again for plan
-- (after a plan change, or a change of the plan's limits).  The caller holds
-- the account's row lock.
CREATE FUNCTION @extschema@._recap_account(account text, plan text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    PERFORM @extschema@._rebalance(_recap_account.account, p.kind, p.period_start, p.period_end,
                                   @extschema@._plan_limit(_recap_account.plan, p.kind), false)
       FROM (SELECT DISTINCT c.kind, c.period_start, c.period_end
               FROM @extschema@.counters c
              WHERE c.account = _recap_account.account
              ORDER BY c.period_start, c.kind) p;
END
$$;
COMMENT ON FUNCTION @extschema@._recap_account(text, text) IS
'internal: shares out the caps of all of an account''s counter periods for plan (caller holds the account lock)';

-- A DBA may change a plan's limits: the caps of every account on it follow.
-- On Citus (after distribute()) plans is a reference table: this trigger
-- fires on each node's copy of it, and nowhere else, so each node re-shares
-- the caps of the accounts in its own shards of accounts, read by the
-- shard's name; a query on fluxcredits.accounts from here would be a
-- distributed one, which Citus refuses in a trigger on a shard.  The
-- accounts' own statements name the account, and run on this node.
CREATE FUNCTION @extschema@._plans_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    shard regclass;
BEGIN
    IF NOT @extschema@._on_citus() THEN
        PERFORM @extschema@._lock_account_slots(a.account, NULL, NULL),
                @extschema@._lock_account(a.account), @extschema@._recap_account(a.account, a.plan)
           FROM (SELECT a.account, a.plan
                   FROM @extschema@.accounts a
                   JOIN new_plans n ON n.name = a.plan
                   JOIN old_plans o ON o.name = n.name
                  WHERE (n.compression_limit, n.ai_monthly) IS DISTINCT FROM (o.compression_limit, o.ai_monthly)
                  ORDER BY a.account) a;
        RETURN NULL;
    END IF;
    FOR shard IN EXECUTE
        'SELECT pg_catalog.to_regclass(pg_catalog.format(''@extschema@.%I'', ''accounts_'' || s.shardid))
           FROM pg_catalog.pg_dist_shard s
           JOIN pg_catalog.pg_dist_placement p ON p.shardid = s.shardid
          WHERE s.logicalrelid = $1 AND p.shardstate = 1
            AND p.groupid = (SELECT g.groupid FROM pg_catalog.pg_dist_local_group g)
          ORDER BY s.shardid'
        USING '@extschema@.accounts'::regclass
    LOOP
        CONTINUE WHEN shard IS NULL;
        EXECUTE format(
            'SELECT @extschema@._lock_account_slots(a.account, NULL, NULL),
                    @extschema@._lock_account(a.account), @extschema@._recap_account(a.account, a.plan)
               FROM (SELECT a.account, a.plan
                       FROM %s a
                       JOIN new_plans n ON n.name = a.plan
                       JOIN old_plans o ON o.name = n.name
                      WHERE (n.compression_limit, n.ai_monthly) IS DISTINCT FROM (o.compression_limit, o.ai_monthly)
                      ORDER BY a.account) a', shard);
    END LOOP;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION @extschema@._plans_changed() IS
'internal: re-shares the counter caps of the accounts of plans whose limits changed (on Citus: the accounts in this node''s shards)';

-- The internal helpers are called by the extension's own functions, which
-- run as the extension's owner; nobody else needs them.
REVOKE ALL ON FUNCTION @extschema@._check_text(text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_time_zone(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_at(timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_anchor(timestamptz, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_writable(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._check_clock(text, timestamptz, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_account(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_image(text, text, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._lock_account_slots(text, @extschema@.credit_kind, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._plan_limit(text, @extschema@.credit_kind) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._rebalance(text, @extschema@.credit_kind, timestamptz, timestamptz, bigint, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._ledger_append_only() FROM PUBLIC;
