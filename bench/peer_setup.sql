-- bench/peer_setup.sql: the peer, what a competent web developer writes
-- without fluxcredits: one PL/pgSQL function over tables of the same shapes
-- (bench/tables.sql, schema bench_peer), with the same rules:
--   * the account's row locked first (SELECT ... FOR UPDATE), with its plan;
--   * the billing period from the anchor by the SQL definition
--       start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
--     with k from age() and corrected by one either way;
--   * compression: used + amount <= limit, always when unlimited;
--   * ai: the monthly allocation first, then the top-up balance;
--   * all or nothing (an exception rolls the call back), a per-period
--     counter upserted, the top-up balance updated, one ledger row.
-- Idempotency keys and AI image dedupe are left out: the benchmark's calls
-- pass neither, so the extension skips them too.

CREATE FUNCTION bench_peer.peer_consume(p_account text,
                                        p_kind bench_peer.credit_kind,
                                        p_amount integer DEFAULT 1,
                                        p_image text DEFAULT NULL,
                                        p_at timestamptz DEFAULT now())
RETURNS bigint
LANGUAGE plpgsql
AS $$
DECLARE
    v_acc     record;
    v_local   timestamp;
    v_age     interval;
    v_k       integer;
    v_start   timestamptz;
    v_end     timestamptz;
    v_used    bigint;
    v_monthly bigint;
    v_topup   bigint;
    v_id      bigint;
BEGIN
    IF p_account IS NULL OR p_account = '' THEN
        RAISE EXCEPTION 'account must not be empty' USING ERRCODE = '22023';
    END IF;
    IF p_kind IS NULL OR p_amount IS NULL OR p_amount <= 0 THEN
        RAISE EXCEPTION 'kind and a positive amount are required' USING ERRCODE = '22023';
    END IF;

    SELECT a.anchor, a.tz, a.topup_balance, p.compression_limit, p.ai_monthly
      INTO v_acc
      FROM bench_peer.accounts a
      JOIN bench_peer.plans p ON p.name = a.plan
     WHERE a.account = p_account
       FOR UPDATE OF a;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'account "%" does not exist', p_account USING ERRCODE = 'P0002';
    END IF;

    -- The billing period containing p_at.
    v_local := v_acc.anchor AT TIME ZONE v_acc.tz;
    v_age := age(p_at AT TIME ZONE v_acc.tz, v_local);
    v_k := (extract(year FROM v_age) * 12 + extract(month FROM v_age))::integer;
    v_start := (v_local + v_k * interval '1 month') AT TIME ZONE v_acc.tz;
    IF v_start > p_at THEN
        v_k := v_k - 1;
        v_end := v_start;
        v_start := (v_local + v_k * interval '1 month') AT TIME ZONE v_acc.tz;
    ELSE
        v_end := (v_local + (v_k + 1) * interval '1 month') AT TIME ZONE v_acc.tz;
        IF v_end <= p_at THEN
            v_k := v_k + 1;
            v_start := v_end;
            v_end := (v_local + (v_k + 1) * interval '1 month') AT TIME ZONE v_acc.tz;
        END IF;
    END IF;

    SELECT c.used INTO v_used
      FROM bench_peer.counters c
     WHERE c.account = p_account AND c.period_start = v_start AND c.kind = p_kind;
    v_used := coalesce(v_used, 0);

    IF p_kind = 'compression' THEN
        IF v_acc.compression_limit IS NOT NULL
           AND v_used + p_amount > v_acc.compression_limit THEN
            RAISE EXCEPTION 'not enough compression credits for account "%"', p_account
                USING ERRCODE = 'FC001',
                      DETAIL = format('Used %s of %s.', v_used, v_acc.compression_limit);
        END IF;
        v_monthly := p_amount;
        v_topup := 0;
    ELSE
        v_monthly := least(greatest(v_acc.ai_monthly - v_used, 0), p_amount);
        v_topup := p_amount - v_monthly;
        IF v_topup > v_acc.topup_balance THEN
            RAISE EXCEPTION 'not enough AI credits for account "%"', p_account
                USING ERRCODE = 'FC001',
                      DETAIL = format('Used %s of %s monthly, %s top-up left.',
                                      v_used, v_acc.ai_monthly, v_acc.topup_balance);
        END IF;
    END IF;

    INSERT INTO bench_peer.counters AS c
           (account, kind, period_start, period_end, used, topup_used)
    VALUES (p_account, p_kind, v_start, v_end, v_monthly, v_topup)
    ON CONFLICT (account, period_start, kind) DO UPDATE
       SET used = c.used + excluded.used,
           topup_used = c.topup_used + excluded.topup_used;
    IF v_topup > 0 THEN
        UPDATE bench_peer.accounts a
           SET topup_balance = a.topup_balance - v_topup
         WHERE a.account = p_account;
    END IF;
    INSERT INTO bench_peer.ledger AS l
           (at, account, entry, kind, period_start, monthly, topup, image)
    VALUES (p_at, p_account, 'consume', p_kind, v_start, v_monthly, -v_topup, p_image)
    RETURNING l.id INTO v_id;
    RETURN v_id;
END
$$;
