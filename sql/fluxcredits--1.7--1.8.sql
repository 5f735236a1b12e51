/* sql/fluxcredits--1.7--1.8.sql: fluxcredits 1.7 to 1.8 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.8'" to load this file. \quit

-- 1.8 scales out on Citus: fluxcredits.distribute() spreads the tables
-- over a cluster's nodes by account.  On a single server nothing changes
-- in what the functions do: credits_refund, credits_commit and
-- credits_release get forms that take the account too (the forms Citus can
-- run on the account's node), every statement of the writers names the
-- account, a top-up's INSERT serves either payment-reference index, and
-- credits_check() and near_limit() are written as Citus can plan them, with
-- the same results.

--------------------------------------------------------------------------
-- Top-ups: the payment reference is unique per account once distributed
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.credits_topup(account text, amount integer, reference text,
                                          at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    prior record;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('add a top-up');
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF amount IS NULL THEN
        RAISE EXCEPTION 'amount must not be null' USING ERRCODE = '22004';
    END IF;
    IF amount <= 0 THEN
        RAISE EXCEPTION 'amount must be positive'
            USING ERRCODE = '22023', DETAIL = format('The amount given is %s.', amount);
    END IF;
    PERFORM @extschema@._check_text(reference, 'reference', 256);
    PERFORM @extschema@._check_at(at);
    acc := @extschema@._lock_account(account);
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);

    -- The only unique rule a top-up row can break is the payment
    -- reference's: unique in the database on a single node, unique per
    -- account once distribute() ran (Citus enforces no unique rule without
    -- the account).  No conflict target, so that either index serves.
    INSERT INTO @extschema@.ledger AS l (at, account, entry, kind, topup, reference)
    VALUES (credits_topup.at, credits_topup.account, 'topup', 'ai',
            credits_topup.amount, credits_topup.reference)
    ON CONFLICT DO NOTHING
    RETURNING id INTO entry_id;
    IF entry_id IS NULL THEN
        -- The payment was credited before: once is enough.  Looked for in
        -- the account first (all there is to find on Citus, and a query
        -- that stays on the account's node), then, on a single node, in
        -- the other accounts.
        SELECT l.id, l.account, l.topup INTO prior FROM @extschema@.ledger l
         WHERE l.account = credits_topup.account AND l.entry = 'topup'
           AND l.reference = credits_topup.reference;
        IF NOT FOUND THEN
            SELECT l.id, l.account, l.topup INTO prior FROM @extschema@.ledger l
             WHERE l.entry = 'topup' AND l.reference = credits_topup.reference;
        END IF;
        IF NOT FOUND THEN
            -- Not the reference: the ledger's key, with an id sequence set
            -- back below the ids in use (what the INSERT raised up to 1.7).
            RAISE EXCEPTION 'the ledger already holds the id the top-up was given'
                USING ERRCODE = '23505',
                      HINT = 'Set fluxcredits.ledger_id_seq past the largest id in fluxcredits.ledger.';
        END IF;
        IF prior.account <> account OR prior.topup <> amount THEN
            RAISE EXCEPTION 'payment reference "%" was already credited with other arguments', reference
                USING ERRCODE = 'FC006',
                      DETAIL = format('Ledger entry %s credited %s AI credits to account "%s".',
                                      prior.id, prior.topup, prior.account);
        END IF;
        RETURN prior.id;
    END IF;
    UPDATE @extschema@.accounts a SET topup_balance = a.topup_balance + amount
     WHERE a.account = credits_topup.account;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_topup(text, integer, text, timestamptz) IS
'adds non-expiring AI credits bought with a payment; the same reference is credited once; returns the ledger id';

--------------------------------------------------------------------------
-- Refunds and reservations under their account
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@._release_expired(account text, at timestamptz, plan text)
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    r @extschema@.reservations;
    c @extschema@.ledger;
    n integer := 0;
BEGIN
    FOR r IN SELECT * FROM @extschema@.reservations v
              WHERE v.account = _release_expired.account AND v.state = 'held'
                AND v.expires_at <= _release_expired.at
              ORDER BY v.id FOR UPDATE
    LOOP
        SELECT * INTO c FROM @extschema@.ledger l WHERE l.account = r.account AND l.id = r.id;
        PERFORM @extschema@._give_back('release', c, r.monthly, r.topup, r.expires_at, plan);
        UPDATE @extschema@.reservations v SET state = 'expired', resolved_at = r.expires_at
         WHERE v.account = r.account AND v.id = r.id;
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
COMMENT ON FUNCTION @extschema@._release_expired(text, timestamptz, text) IS
'internal: releases the account''s holds past their ttl (caller holds the account lock)';

-- A charge is refunded under its account: credits_refund_for(account, charge)
-- finds it by both (an id of another account's charge is as unknown as one
-- that does not exist), and every statement it runs names the account, so
-- that on Citus it runs where the account's shards are.
CREATE FUNCTION @extschema@.credits_refund_for(account text, charge bigint,
                                               at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
    c @extschema@.ledger;
    hold @extschema@.reservations;
    net_monthly bigint;
    net_topup bigint;
    refund_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('refund a charge');
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF charge IS NULL THEN
        RAISE EXCEPTION 'charge must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = credits_refund_for.account AND l.id = credits_refund_for.charge;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'charge % does not exist', charge
            USING ERRCODE = 'FC005',
                  HINT = 'Pass the id that credits_consume() returned.';
    END IF;
    -- The same lock order as credits_consume: the image's lock, then the account's.
    IF c.entry IN ('consume', 'hold') AND c.kind = 'ai' AND c.image IS NOT NULL THEN
        PERFORM @extschema@._lock_image(c.account, c.image, c.period_start);
    END IF;
    -- The slots it gives back to first: a transaction that charged the account
    -- may hold one while waiting for the account (src/under_account.c).
    PERFORM @extschema@._lock_account_slots(c.account, c.kind, c.period_start);
    acc := @extschema@._lock_account(c.account);
    IF c.entry NOT IN ('consume', 'hold') OR c.charge IS NOT NULL THEN
        RAISE EXCEPTION 'ledger entry % is not a charge', charge
            USING ERRCODE = 'FC005',
                  DETAIL = CASE WHEN c.entry IN ('refund', 'release', 'commit')
                                    THEN format('It records the %s of charge %s.', c.entry, c.charge)
                                    WHEN c.charge IS NOT NULL
                                    THEN format('It records a call that charge %s already covered.', c.charge)
                                    ELSE format('It records a %s.', replace(c.entry::text, '_', ' ')) END,
                  HINT = 'Only charges made by credits_consume() or committed reservations can be refunded.';
    END IF;
    IF c.entry = 'hold' THEN
        SELECT * INTO hold FROM @extschema@.reservations v
         WHERE v.account = c.account AND v.id = c.id;
        IF hold.state <> 'committed' THEN
            RAISE EXCEPTION 'charge % is a reservation that was not committed', charge
                USING ERRCODE = 'FC005',
                      DETAIL = format('The reservation is %s.', hold.state),
                      HINT = CASE WHEN hold.state = 'held'
                                  THEN 'Release it with fluxcredits.credits_release().'
                                  ELSE 'Its credits were given back already.' END;
        END IF;
    END IF;
    IF at < c.at THEN
        RAISE EXCEPTION 'a refund cannot be dated before its charge'
            USING ERRCODE = '22023',
                  DETAIL = format('Charge %s was made at %s; the refund is dated %s.', c.id, c.at, at);
    END IF;
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
    SELECT l.id INTO refund_id FROM @extschema@.ledger l
     WHERE l.account = c.account AND l.entry = 'refund' AND l.charge = c.id;
    IF FOUND THEN
        RAISE EXCEPTION 'charge % was already refunded', charge
            USING ERRCODE = 'FC005',
                  DETAIL = format('Ledger entry %s refunded it.', refund_id);
    END IF;

    -- What the charge still holds: a committed reservation may have released a part.
    SELECT sum(l.monthly), -sum(l.topup) INTO net_monthly, net_topup
      FROM @extschema@.ledger l
     WHERE l.account = c.account AND (l.id = c.id OR (l.charge = c.id AND l.entry = 'release'));
    RETURN @extschema@._give_back('refund', c, net_monthly, net_topup, at, acc.plan);
END
$$;
COMMENT ON FUNCTION @extschema@.credits_refund_for(text, bigint, timestamptz) IS
'returns a charge of the account to where it came from (the monthly counter of its period, or the top-up balance), once; returns the ledger id of the refund';

-- The id alone: the charge's account is looked up, then the account form
-- does the work.  On Citus the lookup reads every node (the ledger is
-- spread by account), and the account form, called in a FROM clause, is
-- delegated to the node holding the account (Citus does not delegate a
-- call that PL/pgSQL evaluates as a simple expression).
CREATE OR REPLACE FUNCTION @extschema@.credits_refund(charge bigint, at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    charged text;
    refund_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('refund a charge');
    IF charge IS NULL THEN
        RAISE EXCEPTION 'charge must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT l.account INTO charged FROM @extschema@.ledger l WHERE l.id = credits_refund.charge;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'charge % does not exist', charge
            USING ERRCODE = 'FC005',
                  HINT = 'Pass the id that credits_consume() returned.';
    END IF;
    SELECT r INTO refund_id FROM @extschema@.credits_refund_for(charged, charge, at) r;
    RETURN refund_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_refund(bigint, timestamptz) IS
'returns a charge to where it came from (the monthly counter of its period, or the top-up balance), once; returns the ledger id of the refund';

CREATE OR REPLACE FUNCTION @extschema@.credits_reserve(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            ttl interval DEFAULT '15 minutes',
                                            at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    hold_id bigint;
    c @extschema@.ledger;
BEGIN
    PERFORM @extschema@._check_writable('reserve credits');
    IF ttl IS NULL THEN
        RAISE EXCEPTION 'ttl must not be null' USING ERRCODE = '22004',
            HINT = 'Leave it out for 15 minutes.';
    END IF;
    IF ttl <= interval '0' OR NOT isfinite(at + ttl) THEN
        RAISE EXCEPTION 'ttl must be a positive, finite interval'
            USING ERRCODE = '22023', DETAIL = format('The ttl given is %s.', ttl);
    END IF;
    -- Read-outs look for an account's held reservations only once it has
    -- reserved (src/account.c, fc_account_may_hold): mark it first, in this
    -- transaction, so that whoever sees the hold sees the mark.  The
    -- account's row is locked before the hold locks its slot, in the order
    -- every writer takes them; only an account's first reservation writes.
    UPDATE @extschema@.accounts a SET has_reserved = true
     WHERE a.account = credits_reserve.account AND NOT a.has_reserved;
    hold_id := @extschema@._hold(account, kind, amount, image, idempotency_key, at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = credits_reserve.account AND l.id = hold_id;
    IF c.entry = 'hold' THEN
        -- No conflict target: the key is (id) on a single node, (account, id)
        -- once distribute() ran.
        INSERT INTO @extschema@.reservations (id, account, kind, period_start, monthly, topup, expires_at)
        VALUES (c.id, c.account, c.kind, c.period_start, c.monthly, -c.topup, at + ttl)
        ON CONFLICT DO NOTHING;
    END IF;
    RETURN hold_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_reserve(text, @extschema@.credit_kind, integer, text, text, interval, timestamptz) IS
'holds credits for ttl (they count as used) without charging them yet; returns the reservation id';

-- _lock_reservation takes the account: the id alone could name another
-- account's reservation.
DROP FUNCTION @extschema@._lock_reservation(bigint, timestamptz);

-- The held reservation of the account, locked, for credits_commit and
-- credits_release.  An id that is not a reservation's is refused before
-- anything is locked: a charge (credits_reserve returns one for an AI image
-- a charge already covers, or for a key a charge used) has nothing held to
-- commit or release.  An id of another account's reservation is as unknown
-- as one that does not exist.
CREATE FUNCTION @extschema@._lock_reservation(account text, reservation bigint, at timestamptz,
                                              OUT r @extschema@.reservations,
                                              OUT c @extschema@.ledger,
                                              OUT plan text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    acc @extschema@.accounts;
BEGIN
    PERFORM @extschema@._check_text(account, 'account', 256);
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT * INTO c FROM @extschema@.ledger l
     WHERE l.account = _lock_reservation.account AND l.id = reservation;
    IF FOUND AND c.entry = 'consume' AND c.charge IS NULL THEN
        RAISE EXCEPTION 'ledger entry % is a charge, not a reservation', reservation
            USING ERRCODE = 'FC009',
                  DETAIL = 'Only a held reservation can be committed or released.',
                  HINT = 'credits_reserve() returns a charge''s id when the charge already covers the AI image, or used the idempotency key: nothing is held then.  Refund a charge with fluxcredits.credits_refund().';
    END IF;
    IF NOT FOUND OR c.entry <> 'hold' OR c.charge IS NOT NULL THEN
        RAISE EXCEPTION 'reservation % does not exist', reservation
            USING ERRCODE = 'FC009',
                  HINT = 'Pass the id that credits_reserve() returned.';
    END IF;
    IF c.kind = 'ai' AND c.image IS NOT NULL THEN
        PERFORM @extschema@._lock_image(c.account, c.image, c.period_start);
    END IF;
    PERFORM @extschema@._lock_account_slots(c.account, c.kind, c.period_start);
    acc := @extschema@._lock_account(c.account);
    plan := acc.plan;
    PERFORM @extschema@._check_clock(acc.account, at, acc.anchor, acc.anchor_since);
    SELECT * INTO r FROM @extschema@.reservations v
     WHERE v.account = c.account AND v.id = reservation FOR UPDATE;
    IF r.state <> 'held' THEN
        RAISE EXCEPTION 'reservation % was already %', reservation, r.state
            USING ERRCODE = 'FC009',
                  DETAIL = format('It was %s at %s.', r.state, r.resolved_at);
    END IF;
END
$$;
COMMENT ON FUNCTION @extschema@._lock_reservation(text, bigint, timestamptz) IS
'internal: a held reservation of the account, with the image, account and reservation locks taken in order';

-- The account of a reservation given by its id alone, for the id forms of
-- credits_commit and credits_release, which then call the account forms
-- (as credits_refund(charge) does, and for the same reason: on Citus the
-- lookup reads every node, the account form runs on the account's).
CREATE FUNCTION @extschema@._reservation_account(reservation bigint, at timestamptz)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
BEGIN
    IF reservation IS NULL THEN
        RAISE EXCEPTION 'reservation must not be null' USING ERRCODE = '22004';
    END IF;
    PERFORM @extschema@._check_at(at);
    SELECT l.account INTO held FROM @extschema@.ledger l WHERE l.id = reservation;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'reservation % does not exist', reservation
            USING ERRCODE = 'FC009',
                  HINT = 'Pass the id that credits_reserve() returned.';
    END IF;
    RETURN held;
END
$$;
COMMENT ON FUNCTION @extschema@._reservation_account(bigint, timestamptz) IS
'internal: the account of the ledger entry reservation (raises FC009 when there is none), for the id forms of credits_commit and credits_release';

CREATE FUNCTION @extschema@.credits_commit_for(account text, reservation bigint,
                                               amount integer DEFAULT NULL,
                                               at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    lr record;
    held bigint;
    give_topup bigint;
    give_monthly bigint;
BEGIN
    PERFORM @extschema@._check_writable('commit a reservation');
    lr := @extschema@._lock_reservation(account, reservation, at);
    IF at >= (lr.r).expires_at THEN
        RAISE EXCEPTION 'reservation % expired at %', reservation, (lr.r).expires_at
            USING ERRCODE = 'FC009',
                  DETAIL = format('Its credits went back when its ttl ran out; the commit came at %s.', at),
                  HINT = 'Reserve again, or charge with fluxcredits.credits_consume().';
    END IF;
    held := (lr.r).monthly + (lr.r).topup;
    IF amount IS NULL THEN
        amount := held;
    END IF;
    IF amount < 1 OR amount > held THEN
        RAISE EXCEPTION 'amount must be between 1 and the % credits held', held
            USING ERRCODE = '22023',
                  DETAIL = format('The amount given is %s.', amount),
                  HINT = 'Release the whole reservation with fluxcredits.credits_release().';
    END IF;
    IF amount < held THEN
        -- The unused part goes back, top-up credits first (they were drawn last).
        give_topup := least((lr.r).topup, held - amount);
        give_monthly := held - amount - give_topup;
        PERFORM @extschema@._give_back('release', lr.c, give_monthly, give_topup, at, lr.plan);
    END IF;
    INSERT INTO @extschema@.ledger (at, account, entry, kind, period_start, image, charge)
    VALUES (at, credits_commit_for.account, 'commit', (lr.c).kind, (lr.c).period_start, (lr.c).image, reservation);
    UPDATE @extschema@.reservations v
       SET state = 'committed', committed = amount, resolved_at = at
     WHERE v.account = credits_commit_for.account AND v.id = reservation;
    RETURN reservation;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_commit_for(text, bigint, integer, timestamptz) IS
'turns a reservation of the account into a charge (of amount, releasing the rest); returns the charge id, which is the reservation id';

CREATE OR REPLACE FUNCTION @extschema@.credits_commit(reservation bigint, amount integer DEFAULT NULL,
                                           at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
    charge_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('commit a reservation');
    held := @extschema@._reservation_account(reservation, at);
    SELECT c INTO charge_id FROM @extschema@.credits_commit_for(held, reservation, amount, at) c;
    RETURN charge_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_commit(bigint, integer, timestamptz) IS
'turns a reservation into a charge (of amount, releasing the rest); returns the charge id, which is the reservation id';

CREATE FUNCTION @extschema@.credits_release_for(account text, reservation bigint,
                                                at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    lr record;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('release a reservation');
    lr := @extschema@._lock_reservation(account, reservation, at);
    entry_id := @extschema@._give_back('release', lr.c, (lr.r).monthly, (lr.r).topup, at, lr.plan);
    UPDATE @extschema@.reservations v SET state = 'released', resolved_at = at
     WHERE v.account = credits_release_for.account AND v.id = reservation;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_release_for(text, bigint, timestamptz) IS
'gives a reservation of the account''s credits back; returns the ledger id of the release';

CREATE OR REPLACE FUNCTION @extschema@.credits_release(reservation bigint, at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    held text;
    entry_id bigint;
BEGIN
    PERFORM @extschema@._check_writable('release a reservation');
    held := @extschema@._reservation_account(reservation, at);
    SELECT e INTO entry_id FROM @extschema@.credits_release_for(held, reservation, at) e;
    RETURN entry_id;
END
$$;
COMMENT ON FUNCTION @extschema@.credits_release(bigint, timestamptz) IS
'gives a reservation''s credits back; returns the ledger id of the release';

-- Not for PUBLIC, as every function of the extension.
REVOKE ALL ON FUNCTION @extschema@._lock_reservation(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@._reservation_account(bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.credits_refund_for(text, bigint, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.credits_commit_for(text, bigint, integer, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION @extschema@.credits_release_for(text, bigint, timestamptz) FROM PUBLIC;

-- grant_app() gives the account forms too.
CREATE OR REPLACE FUNCTION @extschema@._role_privileges(role_kind text)
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

-- The roles it was given to before get them here, as does any role a DBA
-- gave an id form to.
DO $$
DECLARE
    g record;
BEGIN
    FOR g IN SELECT DISTINCT a.grantee::regrole AS grantee, n.account_form
               FROM (VALUES ('@extschema@.credits_refund(bigint, timestamptz)'::regprocedure,
                             '@extschema@.credits_refund_for(text, bigint, timestamptz)'::regprocedure),
                            ('@extschema@.credits_commit(bigint, integer, timestamptz)',
                             '@extschema@.credits_commit_for(text, bigint, integer, timestamptz)'),
                            ('@extschema@.credits_release(bigint, timestamptz)',
                             '@extschema@.credits_release_for(text, bigint, timestamptz)')) n(id_form, account_form)
               JOIN pg_catalog.pg_proc p ON p.oid = n.id_form,
                    pg_catalog.aclexplode(p.proacl) a
              WHERE a.privilege_type = 'EXECUTE' AND a.grantee <> p.proowner AND a.grantee <> 0
              ORDER BY 1, 2
    LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO %s', g.account_form, g.grantee);
    END LOOP;
END
$$;

--------------------------------------------------------------------------
-- Read-outs that a Citus coordinator can plan, with the same results
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@.credits_check()
RETURNS TABLE (account text, kind @extschema@.credit_kind, period_start timestamptz,
               item text, stored bigint, from_ledger bigint)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH l AS (
        SELECT l.account, l.kind, l.period_start,
               sum(l.monthly)::bigint AS used, (-sum(l.topup))::bigint AS topup_used
          FROM @extschema@.ledger l
         WHERE l.entry IN ('consume', 'refund', 'hold', 'release')
         GROUP BY 1, 2, 3
    ), c AS (
        SELECT c.account, c.kind, c.period_start,
               sum(c.used)::bigint AS used, sum(c.topup_used)::bigint AS topup_used
          FROM @extschema@.counters c
         GROUP BY 1, 2, 3
    ), j AS (
        SELECT coalesce(c.account, l.account) AS account,
               coalesce(c.kind, l.kind) AS kind,
               coalesce(c.period_start, l.period_start) AS period_start,
               coalesce(c.used, 0) AS c_used, coalesce(l.used, 0) AS l_used,
               coalesce(c.topup_used, 0) AS c_topup, coalesce(l.topup_used, 0) AS l_topup
          FROM c FULL JOIN l
            ON c.account = l.account AND c.kind = l.kind AND c.period_start = l.period_start
    ), b AS (
        -- one pass over the ledger, not one sum per account
        SELECT a.account, a.topup_balance AS stored, coalesce(t.topup, 0)::bigint AS from_ledger
          FROM @extschema@.accounts a
          LEFT JOIN (SELECT l.account, sum(l.topup) AS topup
                       FROM @extschema@.ledger l
                      GROUP BY l.account) t ON t.account = a.account
    )
    SELECT j.account, j.kind, j.period_start, 'used', j.c_used, j.l_used
      FROM j WHERE j.c_used <> j.l_used
    UNION ALL
    SELECT j.account, j.kind, j.period_start, 'topup_used', j.c_topup, j.l_topup
      FROM j WHERE j.c_topup <> j.l_topup
    UNION ALL
    SELECT b.account, NULL, NULL, 'topup_balance', b.stored, b.from_ledger
      FROM b WHERE b.stored <> b.from_ledger
    UNION ALL
    -- Every join names the account (on Citus each then stays within one
    -- node's colocated shards), and the commits and releases of each
    -- reservation are one grouped pass, not a subquery per reservation.
    SELECT v.account, v.kind, v.period_start, format('reservation %s %s', v.id, v.state), NULL, NULL
      FROM @extschema@.reservations v
      LEFT JOIN @extschema@.ledger h ON h.account = v.account AND h.id = v.id AND h.entry = 'hold'
      LEFT JOIN (SELECT x.account, x.charge,
                        bool_or(x.entry = 'commit') AS has_commit,
                        bool_or(x.entry = 'release') AS has_release
                   FROM @extschema@.ledger x
                  WHERE x.entry IN ('commit', 'release')
                  GROUP BY x.account, x.charge) e ON e.account = v.account AND e.charge = v.id
     WHERE h.id IS NULL OR h.monthly <> v.monthly OR -h.topup <> v.topup
        OR CASE v.state WHEN 'held' THEN coalesce(e.has_commit OR e.has_release, false)
                        WHEN 'committed' THEN NOT coalesce(e.has_commit, false)
                        ELSE coalesce(e.has_commit, false) OR NOT coalesce(e.has_release, false) END
    UNION ALL
    SELECT a.account, NULL, NULL, 'held reservations, has_reserved false', NULL, count(*)
      FROM @extschema@.accounts a
      JOIN @extschema@.reservations r ON r.account = a.account AND r.state = 'held'
     WHERE NOT a.has_reserved
     GROUP BY a.account
    UNION ALL
    SELECT l.account, NULL, NULL, 'unknown account', NULL, count(*)
      FROM @extschema@.ledger l
     WHERE NOT EXISTS (SELECT FROM @extschema@.accounts a WHERE a.account = l.account)
     GROUP BY l.account
    ORDER BY 1, 3, 2, 4
$$;
COMMENT ON FUNCTION @extschema@.credits_check() IS
'recomputes every counter and top-up balance from the ledger; one row per disagreement, none when healthy';

CREATE OR REPLACE FUNCTION @extschema@.near_limit(share numeric DEFAULT 0.8)
RETURNS TABLE (account text, plan text, kind @extschema@.credit_kind, used bigint,
               monthly_limit bigint, percent numeric,
               period_start timestamptz, period_end timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF share IS NULL THEN
        RAISE EXCEPTION 'share must not be null' USING ERRCODE = '22004',
            HINT = 'Leave it out for 0.8 (80%).';
    END IF;
    IF share <= 0 OR share = 'NaN' THEN
        RAISE EXCEPTION 'share must be positive'
            USING ERRCODE = '22023',
                  DETAIL = format('The share given is %s.', share),
                  HINT = 'A share is a fraction of the limit: 0.8 is 80%, 1 is the limit itself.';
    END IF;
    RETURN QUERY
    SELECT u.account, u.plan, k.kind, k.used, k.lim,
           round(100.0 * k.used / k.lim, 1), u.period_start, u.period_end
      FROM @extschema@.usage u
      -- a plain join (usage_history has one row per account and period):
      -- Citus plans no lateral outer join over distributed views
      LEFT JOIN @extschema@.usage_history h
        ON h.account = u.account AND h.period_start = u.period_start
     CROSS JOIN LATERAL (VALUES ('compression'::@extschema@.credit_kind, u.compressor_used, u.compressor_limit),
                                ('ai', coalesce(h.ia_credits_used - h.ia_topup_used, 0), u.ia_credits_monthly)) k(kind, used, lim)
     WHERE k.lim > 0 AND k.used >= near_limit.share * k.lim
     ORDER BY k.used::numeric / k.lim DESC, u.account, k.kind;
END
$$;
COMMENT ON FUNCTION @extschema@.near_limit(numeric) IS
'accounts whose current-period use of a monthly limit (compression, monthly AI) is at least share of it, worst first';

--------------------------------------------------------------------------
-- A change of a plan's limits on Citus: each node recaps its own accounts
--------------------------------------------------------------------------

CREATE OR REPLACE FUNCTION @extschema@._plans_changed() RETURNS trigger
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
