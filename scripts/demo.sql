-- scripts/demo.sql: the product's story, with real calls (run by `make demo`).
-- The `at` argument is the test clock: it moves the story through time.  An
-- app may date a write only from the account's anchor to a few minutes
-- ahead of now; the story's dates are its own, so the demo (a superuser)
-- lifts the upper bound for its session, as an app's test suite would.
\set QUIET on
\set ON_ERROR_STOP on
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE EXTENSION fluxcredits;
SET fluxcredits.max_clock_skew = -1;
\pset footer off

\echo
\echo '== 1. Billing periods: a period starts on the anchor day, clipped to short months'
SELECT anchor, tz, at, fluxcredits.billing_period(anchor, at, tz) AS period
  FROM (VALUES
    ('2026-01-31 09:00+00'::timestamptz, 'UTC', '2026-02-20 00:00+00'::timestamptz),
    ('2026-01-31 09:00+00', 'UTC', '2026-03-10 00:00+00'),
    ('2024-02-29 00:00+00', 'UTC', '2025-03-01 00:00+00'),
    ('2026-01-10 00:00-05', 'America/New_York', '2026-03-20 00:00+00'),
    ('2026-01-10 00:00-05', 'America/New_York', '2026-11-20 00:00+00')
  ) AS v(anchor, tz, at);

\echo
\echo '== 2. A Free account (20 compressions a month) uploads 21 images'
SELECT fluxcredits.credits_open_account('maria@example.com', 'Free', '2026-01-15 10:00+00');
SELECT count(*) AS compressions_charged
  FROM generate_series(1, 21) g
 WHERE fluxcredits.credits_try_consume('maria@example.com', 'compression',
                                       image => 'upload-' || g, at => '2026-02-01 12:00+00');
\echo 'The 21st is refused with SQLSTATE FC001 (here through credits_try_consume, which says false).'
\echo 'Her dashboard:'
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('maria@example.com', '2026-02-01 12:00+00');
\pset tuples_only off

\echo
\echo '== 3. A Starter account runs AI alt text and SEO rename on one image: one AI credit'
SELECT fluxcredits.credits_open_account('studio-42', 'Starter', '2026-01-31 08:00+00');
SELECT fluxcredits.credits_consume('studio-42', 'ai', image => 'hero.jpg', at => '2026-02-10 09:00+00') AS alt_text_charge,
       fluxcredits.credits_consume('studio-42', 'ai', image => 'hero.jpg', at => '2026-02-10 09:01+00') AS seo_rename_charge;
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('studio-42', '2026-02-10 09:01+00');
\pset tuples_only off

\echo
\echo '== 4. It buys a top-up of 50 AI credits (the payment webhook arrives twice: credited once)'
SELECT fluxcredits.credits_topup('studio-42', 50, 'pay_8842', '2026-02-12 00:00+00') AS first_delivery,
       fluxcredits.credits_topup('studio-42', 50, 'pay_8842', '2026-02-12 00:00:05+00') AS retried_delivery;
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('studio-42', '2026-02-12 00:00+00');
\pset tuples_only off

\echo
\echo '== 5. A bulk job of 220 AI credits: 199 monthly credits are left, so 21 come from the top-up'
SELECT fluxcredits.credits_consume('studio-42', 'ai', 220, at => '2026-02-20 00:00+00') AS charge;
SELECT entry, kind, period_start, monthly, topup FROM fluxcredits.ledger
 WHERE account = 'studio-42' ORDER BY id;
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('studio-42', '2026-02-20 00:00+00');
\pset tuples_only off

\echo
\echo '== 6. Time moves on: the next billing periods start on each anchor day (not the 1st)'
\echo 'studio-42 (anchor Jan 31): the new period runs from Feb 28 to Mar 31; the top-up balance is still there.'
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('studio-42', '2026-02-28 08:00+00');
\pset tuples_only off
\echo 'maria@example.com (anchor the 15th): compressing again on Feb 15.'
SELECT fluxcredits.credits_consume('maria@example.com', 'compression', at => '2026-02-15 10:00+00') AS charge;
\pset tuples_only on
SELECT fluxcredits.credits_usage_json('maria@example.com', '2026-02-15 10:00+00');
\pset tuples_only off

\echo
\echo '== 7. The app charges inside its own transactions: an images table with the charge() trigger'
CREATE TABLE images (id bigserial PRIMARY KEY, account_id text NOT NULL, name text NOT NULL UNIQUE, charge_id bigint);
-- The statement trigger charges the rows an INSERT inserted; the row
-- trigger with the same arguments writes each row's charge id.
CREATE TRIGGER charge_compression AFTER INSERT ON images REFERENCING NEW TABLE AS inserted
    FOR EACH STATEMENT EXECUTE FUNCTION fluxcredits.charge('compression', 'account_id', 'name', '', 'charge_id');
CREATE TRIGGER charge_compression_id BEFORE INSERT ON images FOR EACH ROW
    EXECUTE FUNCTION fluxcredits.charge('compression', 'account_id', 'name', '', 'charge_id');
SELECT fluxcredits.credits_open_account('shop-7', 'Free', date_trunc('day', now()));
\echo 'The dashboard listens for usage alerts (80% and 100% of a monthly limit):'
LISTEN fluxcredits_alert;
\echo 'One INSERT of 16 images: one limit check, 16 charges, 16 ledger rows.'
INSERT INTO images (account_id, name) SELECT 'shop-7', 'product-' || g || '.jpg' FROM generate_series(1, 16) g;
SELECT count(*) AS images, count(l.id) AS with_ledger_row FROM images i LEFT JOIN fluxcredits.ledger l ON l.id = i.charge_id;
\echo 'The app retries an upload (ON CONFLICT DO NOTHING): the row is there already, nothing is charged.'
INSERT INTO images (account_id, name) VALUES ('shop-7', 'product-1.jpg') ON CONFLICT (name) DO NOTHING;
SELECT compressor_used, compressor_limit FROM fluxcredits.credits_usage('shop-7');
\echo 'An upload past the limit is rejected with its row (SQLSTATE FC001), and nothing is charged:'
\set ON_ERROR_STOP off
INSERT INTO images (account_id, name) SELECT 'shop-7', 'bulk-' || g || '.jpg' FROM generate_series(1, 5) g;
\set ON_ERROR_STOP on
SELECT compressor_used, compressor_limit FROM fluxcredits.credits_usage('shop-7');
\echo 'A listener that missed the NOTIFY (disconnected, behind a pooler) reads the alerts view:'
SELECT account, kind, threshold, used, "limit", period_end FROM fluxcredits.alerts WHERE account = 'shop-7';

\echo
\echo '== 8. A background job reserves 3 AI credits, then commits the 2 it used'
SELECT fluxcredits.credits_reserve('studio-42', 'ai', 3, at => '2026-03-01 09:00+00') AS reservation \gset
SELECT ia_credits_used, ia_credits_reserved FROM fluxcredits.credits_usage('studio-42', '2026-03-01 09:00+00');
SELECT fluxcredits.credits_commit(:reservation, 2, '2026-03-01 09:04+00') AS charge;
SELECT ia_credits_used, ia_credits_reserved FROM fluxcredits.credits_usage('studio-42', '2026-03-01 09:04+00');

\echo
\echo '== 9. The DBA view of every account now, and the ledger check (no rows: healthy)'
SELECT account, plan, compressor_used, compressor_limit, ia_credits_used, ia_credits_remaining,
       "canCompress", "canUseIA", period_start, period_end
  FROM fluxcredits.usage ORDER BY account;
SELECT * FROM fluxcredits.credits_check();
