# t/003_fuzz.pl: a bounded randomized fuzz run.
#
# For a bounded time (FC_FUZZ_SECONDS, default 60) one session after another
# runs batches of random statements: every fluxcredits function, in
# positional, named and mixed call forms, with arguments drawn from pools of
# edge values (NULL anywhere, '', 10 kB and boundary-length strings, quotes,
# backslashes and unicode, unknown accounts, plans, kinds and zones, extreme
# amounts and timestamps, times at month ends and DST changes, charge ids of
# every kind of ledger entry), reservations (holds committed, released or
# left to expire); the usage view; UPDATE, DELETE, TRUNCATE and
# MERGE on the ledger; the charge trigger (attach, detach, CREATE TRIGGER
# with random arguments, inserts into the app's tables, and attached to the
# extension's own tables in transactions that roll back); upserts into two
# tables charged by attach()'s trigger (compression and AI): several rows of
# up to three accounts, some conflicting with rows already there or with each
# other, with ON CONFLICT DO NOTHING, DO UPDATE or none. The statements are
# wrapped in transactions that commit or roll back, savepoints, DO blocks
# that catch errors and multi-statement messages, under changing session
# settings (TimeZone, DateStyle, timezone_abbreviations, search_path,
# fluxcredits.counter_slots and alert_thresholds, LISTEN, DISCARD). Errors
# are expected; afterwards:
#
#  - the server is up and its log shows no crash, assertion failure or PANIC;
#  - no statement raised an internal error (XX000 and friends) or hung;
#  - credits_check() is empty and no charge took a counter over the limit of
#    the plan the account was on when it was made (replayed from the ledger);
#  - a few more ledger invariants, and billing_period() agrees with its SQL
#    definition on every input the fuzzer gave it;
#  - each upsert checked against the model of the charge trigger
#    (public.fuzz_upsert) charged exactly the rows it inserted, not those
#    ON CONFLICT skipped or updated (a compression credit each; an AI credit
#    per row without an image and per image no charge of the period covers
#    yet), and was refused whole (FC001) exactly when one of its accounts
#    lacked the credits (credits_usage() just before).
#
# The run is reproducible: the seed (FC_FUZZ_SEED, default below) is printed,
# and the same seed generates the same statements in the same order (only
# now() moves, and charge ids follow the ledger's size, read between
# batches). A finding prints its statement; the batch files of the first ten
# findings are kept beside the node's data directory (tmp_check).
use strict;
use warnings;
use utf8;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time);

my $seconds = $ENV{FC_FUZZ_SECONDS} // 60;
my $seed    = $ENV{FC_FUZZ_SEED}    // 20240229;
my $batch_size = 300;
srand($seed);
note("fuzz seed $seed (replay with FC_FUZZ_SEED=$seed), $seconds seconds");

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
# Neither statements (10 kB literals) nor ERRORs (psql's stderr has them) go
# to the server log: LOG and above stay, which is where crashes are reported.
$node->append_conf('postgresql.conf', qq{
log_statement = none
log_min_messages = log
log_min_error_statement = panic
statement_timeout = '20s'
# the fuzz dates writes anywhere: no upper bound on at (the lower one, the
# account's anchor, stays)
fluxcredits.max_clock_skew = -1
});
$node->start;

#-------------------------------------------------------------------------
# Set-up: plans, accounts on each plan, the oracle for billing_period().
#-------------------------------------------------------------------------

my @plans = qw(Free Starter Pro Agency Tiny Zero);
# [name, plan, anchor, tz]
my @setup_accounts;
{
	my @variants = (
		[ q{now() - interval '40 days'},                'UTC' ],
		[ q{'2024-01-31 23:30 America/New_York'},       'America/New_York' ],
		[ q{'2024-02-29 12:00 Asia/Kathmandu'},         'Asia/Kathmandu' ],
		[ q{'2023-10-01 02:15 Australia/Lord_Howe'},    'Australia/Lord_Howe' ],
		[ q{'2024-01-31 03:00+00'},                     'America/Panama' ],
		[ q{now() - interval '400 days'},               'Etc/GMT-14' ]);
	for my $p (@plans)
	{
		for my $i (0 .. $#variants)
		{
			push @setup_accounts, [ "fz-$p-" . ($i + 1), $p, @{ $variants[$i] } ];
		}
	}
	# Accounts whose names need quoting, and the longest allowed name.
	push @setup_accounts,
	  [ "o'brien",             'Starter', q{now() - interval '10 days'}, 'UTC' ],
	  [ 'back\\slash "dq"',    'Free',    q{now() - interval '10 days'}, 'UTC' ],
	  [ 'ユーザー😀',          'Pro',     q{now() - interval '10 days'}, 'Asia/Kathmandu' ],
	  [ 'é' x 128,             'Starter', q{now() - interval '10 days'}, 'UTC' ],
	  [ 'x' x 256,             'Tiny',    q{now() - interval '10 days'}, 'UTC' ],
	  [ "tab\there",           'Agency',  q{now() - interval '10 days'}, 'Asia/Kolkata' ],
	  [ '42',                  'Starter', q{now() - interval '5 days'},  'UTC' ];
}
my @acc_setup = map { $_->[0] } @setup_accounts;
my @acc_new   = map { "fz-new-$_" } 1 .. 40;

{
	my $sql = q{
		CREATE EXTENSION fluxcredits;
		INSERT INTO fluxcredits.plans (name, compression_limit, ai_monthly)
		VALUES ('Tiny', 2, 1), ('Zero', 0, 0);
		-- The plan each account was opened on (the ledger records only changes).
		CREATE TABLE fuzz_initial_plan (account text PRIMARY KEY, plan text NOT NULL);
		-- billing_period() against its SQL definition:
		--   start_k = ((anchor AT TIME ZONE tz) + k months) AT TIME ZONE tz.
		CREATE SEQUENCE fuzz_bp_agreed;    -- not rolled back
		CREATE TABLE fuzz_bp_mismatch (anchor timestamptz, at timestamptz, tz text,
		    c_result tstzrange, problem text, abbrevs text);
		CREATE FUNCTION public.fuzz_bp(anchor timestamptz, at timestamptz, tz text)
		RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE
		    r tstzrange;
		    la timestamp;
		    lr timestamp;
		    ya int; yr int;
		    k0 int;
		    s0 timestamptz; s1 timestamptz;
		    computed boolean := false;
		    problem text;
		BEGIN
		    r := fluxcredits.billing_period(anchor, at, tz);
		    IF r IS NULL THEN
		        RETURN 'null';
		    END IF;
		    IF NOT (at <@ r) OR lower_inf(r) OR upper_inf(r)
		       OR NOT lower_inc(r) OR upper_inc(r) THEN
		        problem := 'at is not in [start, end)';
		    ELSE
		        BEGIN
		            la := anchor AT TIME ZONE tz;
		            lr := lower(r) AT TIME ZONE tz;
		            ya := extract(year FROM la); yr := extract(year FROM lr);
		            IF ya < 0 THEN ya := ya + 1; END IF;
		            IF yr < 0 THEN yr := yr + 1; END IF;
		            k0 := (yr - ya) * 12 + extract(month FROM lr)::int - extract(month FROM la)::int;
		        EXCEPTION WHEN others THEN
		            k0 := NULL;
		        END;
		        IF k0 IS NOT NULL THEN
		            FOR k IN k0 - 1 .. k0 + 1 LOOP
		                BEGIN
		                    s0 := (la + make_interval(months => k)) AT TIME ZONE tz;
		                    s1 := (la + make_interval(months => k + 1)) AT TIME ZONE tz;
		                    computed := true;
		                    IF s0 = lower(r) AND s1 = upper(r) THEN
		                        PERFORM nextval('public.fuzz_bp_agreed');
		                        RETURN 'ok';
		                    END IF;
		                EXCEPTION WHEN others THEN
		                    NULL;
		                END;
		            END LOOP;
		        END IF;
		        problem := CASE WHEN computed THEN 'differs from the SQL definition'
		                        ELSE 'the SQL definition raised an error' END;
		    END IF;
		    INSERT INTO public.fuzz_bp_mismatch
		    VALUES (anchor, at, tz, r, problem, current_setting('timezone_abbreviations'));
		    IF problem <> 'the SQL definition raised an error' THEN
		        RAISE WARNING 'fuzz-bp-mismatch: billing_period(%, %, %) = % : %',
		            anchor, at, quote_literal(tz), r, problem;
		    END IF;
		    RETURN problem;
		END
		$f$;
	};
	for my $a (@setup_accounts)
	{
		my ($name, $plan, $anchor, $tz) = @$a;
		$sql .= sprintf("SELECT fluxcredits.credits_open_account(%s, %s, %s, %s);\n",
			sql_str($name), sql_str($plan), $anchor, sql_str($tz));
	}
	$sql .= "INSERT INTO fuzz_initial_plan SELECT account, plan FROM fluxcredits.accounts;\n";
	# The app's own tables, charged by triggers: keyed by text, by integer
	# (with a charge id column of the wrong type), and partitioned.
	$sql .= q{
		CREATE TABLE app_images (id bigserial PRIMARY KEY, account text, image text,
		                         key text, charge_id bigint, note text);
		CREATE TABLE app_int (account_id integer, img uuid, charge_id integer);
		CREATE TABLE app_part (account text, image text, charge_id bigint)
		    PARTITION BY LIST (account);
		CREATE TABLE app_part_d PARTITION OF app_part DEFAULT;
		SELECT fluxcredits.attach('app_images', 'compression', 'account', 'image');
		-- 1.6's form of a trigger with a charge id column: the statement
		-- trigger charges, the row trigger named after it fills the column.
		CREATE TRIGGER charge_ai AFTER INSERT ON app_images
		    REFERENCING NEW TABLE AS fluxcredits_inserted FOR EACH STATEMENT
		    EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'key', 'charge_id');
		CREATE TRIGGER charge_ai_id BEFORE INSERT ON app_images FOR EACH ROW
		    EXECUTE FUNCTION fluxcredits.charge('ai', 'account', 'image', 'key', 'charge_id');
		SELECT fluxcredits.attach('app_int', 'compression', 'account_id');
		SELECT fluxcredits.attach('app_part', 'ai', 'account', 'image');

		-- Upserts, checked against a model: two tables keyed by a name
		-- that the fuzzer draws from a small pool (so that rows conflict
		-- with earlier ones and with each other), each charged by
		-- attach()'s trigger; the fuzzer's DDL leaves them alone.
		CREATE TABLE app_uploads (name text PRIMARY KEY, account text, image text,
		                          hits integer NOT NULL DEFAULT 1);
		CREATE TABLE app_captions (name text PRIMARY KEY, account text, image text,
		                           hits integer NOT NULL DEFAULT 1);
		SELECT fluxcredits.attach('app_uploads', 'compression', 'account', 'image');
		SELECT fluxcredits.attach('app_captions', 'ai', 'account', 'image');
		CREATE SEQUENCE fuzz_upsert_charged;    -- statements that charged (not rolled back)
		CREATE SEQUENCE fuzz_upsert_skipped;    -- statements that inserted nothing
		CREATE SEQUENCE fuzz_upsert_refused;    -- refused (FC001), as the model said
		CREATE SEQUENCE fuzz_upsert_failed;     -- other errors the model allows
		CREATE TABLE fuzz_upsert_mismatch (stmt text, problem text);
		-- fuzz_upsert(kind, mode, names, accounts, images, stmt) runs stmt,
		-- an INSERT into app_uploads (kind compression) or app_captions
		-- (ai) of the rows (names[i], accounts[i], images[i]) in that
		-- order, with ON CONFLICT DO NOTHING (mode 'nothing'), DO UPDATE
		-- ('update') or none ('plain'), and checks it against the model:
		--  - the rows it inserts are those whose name is neither in the
		--    table nor earlier in the statement; a name that is makes a
		--    plain INSERT fail (23505), and DO UPDATE too if it is earlier
		--    in the statement (21000); nothing else decides it;
		--  - only the inserted rows are charged: a compression credit
		--    each, an AI credit per row without an image and per image
		--    that no charge of the period covers yet (the statement's own
		--    rows included), as one ledger row each;
		--  - the statement is refused whole (FC001) if and only if one of
		--    its accounts lacks the credits its inserted rows need, as
		--    credits_usage() tells them just before.
		-- An account that cannot be charged at all (unknown, NULL, an anchor
		-- or a new anchor that takes effect after now()) makes the statement fail,
		-- with any error; so does a read-only transaction (25006).
		CREATE FUNCTION public.fuzz_upsert(kind text, mode text, names text[],
		                                   accounts text[], images text[], stmt text)
		RETURNS text LANGUAGE plpgsql AS $f$
		DECLARE
		    tbl text := CASE kind WHEN 'ai' THEN 'public.app_captions' ELSE 'public.app_uploads' END;
		    existing text[];
		    max_id bigint;
		    seen text[] := '{}';
		    ins_name text[] := '{}';
		    ins_acc text[] := '{}';
		    ins_img text[] := '{}';
		    expect_state text;
		    barred boolean := false;    -- an account that cannot be charged
		    over text;
		    want text[] := '{}';
		    got text[];
		    got_names text[];
		    a text;
		    u record;
		    need bigint;
		    state text;
		    msg text;
		    problem text;
		    ro boolean := current_setting('transaction_read_only')::boolean;
		BEGIN
		    EXECUTE format('SELECT coalesce(array_agg(name), ''{}'') FROM %s', tbl) INTO existing;
		    SELECT coalesce(max(id), 0) INTO max_id FROM fluxcredits.ledger;
		    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
		        IF names[i] = ANY (seen) OR names[i] = ANY (existing) THEN
		            IF mode = 'plain' THEN
		                expect_state := coalesce(expect_state, '23505');
		            ELSIF mode = 'update' AND names[i] = ANY (seen) THEN
		                expect_state := coalesce(expect_state, '21000');
		            END IF;
		        ELSE
		            ins_name := array_append(ins_name, names[i]);
		            ins_acc := array_append(ins_acc, accounts[i]);
		            ins_img := array_append(ins_img, images[i]);
		        END IF;
		        seen := array_append(seen, names[i]);
		    END LOOP;
		    IF expect_state IS NULL THEN
		        FOR a IN SELECT DISTINCT x FROM unnest(ins_acc) x LOOP
		            IF a IS NULL THEN
		                barred := true;
		                CONTINUE;
		            END IF;
		            BEGIN
		                SELECT * INTO STRICT u FROM fluxcredits.credits_usage(a);
		            EXCEPTION WHEN others THEN
		                barred := true;
		                CONTINUE;
		            END;
		            -- a read may come before the anchor (or a new anchor's
		            -- taking effect), a charge not
		            IF EXISTS (SELECT FROM fluxcredits.accounts x
		                        WHERE x.account = a
		                          AND coalesce(x.anchor_since, x.anchor) > now()) THEN
		                barred := true;
		                CONTINUE;
		            END IF;
		            IF kind = 'compression' THEN
		                want := want || ARRAY(
		                    SELECT quote_nullable(x) || ' ' || quote_nullable(i)
		                      FROM unnest(ins_acc, ins_img) t(x, i) WHERE x = a);
		                need := (SELECT count(*) FROM unnest(ins_acc) x WHERE x = a);
		                IF u.compressor_limit IS NOT NULL
		                   AND u.compressor_used + need > u.compressor_limit THEN
		                    over := a;
		                END IF;
		            ELSE
		                need := cardinality(want);
		                want := want || ARRAY(
		                    SELECT quote_nullable(a) || ' NULL'
		                      FROM unnest(ins_acc, ins_img) t(x, i) WHERE x = a AND i IS NULL
		                    UNION ALL
		                    SELECT quote_nullable(a) || ' ' || quote_nullable(d.i)
		                      FROM (SELECT DISTINCT i FROM unnest(ins_acc, ins_img) t(x, i)
		                             WHERE x = a AND i IS NOT NULL) d
		                     WHERE NOT EXISTS (
		                           SELECT FROM fluxcredits.ledger l
		                            WHERE l.account = a AND l.image = d.i
		                              AND l.period_start = u.period_start
		                              AND l.entry IN ('consume', 'hold') AND l.kind = 'ai'
		                              AND l.charge IS NULL
		                              AND NOT EXISTS (SELECT FROM fluxcredits.ledger r
		                                               WHERE r.entry IN ('refund', 'release')
		                                                 AND r.charge = l.id)
		                              AND NOT EXISTS (SELECT FROM fluxcredits.reservations v
		                                               WHERE v.id = l.id AND v.state = 'held'
		                                                 AND v.expires_at <= now())));
		                need := cardinality(want) - need;
		                IF need > u.ia_credits_remaining THEN
		                    over := a;
		                END IF;
		            END IF;
		        END LOOP;
		    END IF;

		    BEGIN
		        EXECUTE stmt;
		    EXCEPTION WHEN others THEN
		        GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
		    END;

		    IF state IS NULL THEN
		        EXECUTE format('SELECT coalesce(array_agg(name ORDER BY name), ''{}'') FROM %s'
		                       ' WHERE name <> ALL ($1)', tbl) INTO got_names USING existing;
		        got := ARRAY(SELECT quote_nullable(l.account) || ' ' || quote_nullable(l.image)
		                       FROM fluxcredits.ledger l
		                      WHERE l.id > max_id AND l.entry = 'consume' AND l.kind::text = fuzz_upsert.kind
		                      ORDER BY 1);
		        want := ARRAY(SELECT x FROM unnest(want) x ORDER BY 1);
		        IF got_names <> ARRAY(SELECT x FROM unnest(ins_name) x ORDER BY 1) THEN
		            problem := format('inserted %s, the model %s', got_names, ins_name);
		        ELSIF expect_state IS NOT NULL THEN
		            problem := format('succeeded; the model expected %s', expect_state);
		        ELSIF barred THEN
		            problem := format('charged %s, though one of the accounts cannot be charged', got);
		        ELSIF got <> want THEN
		            problem := format('charged %s, the model %s', got, want);
		        ELSIF over IS NOT NULL THEN
		            problem := format('charged account %s past what it had', quote_literal(over));
		        END IF;
		    ELSIF state = 'FC001' THEN
		        IF expect_state IS NOT NULL THEN
		            problem := format('refused (FC001: %s); the model expected %s', msg, expect_state);
		        ELSIF over IS NULL AND NOT barred THEN
		            problem := format('refused (FC001: %s) though every account has the credits', msg);
		        END IF;
		    ELSIF state = '25006' THEN
		        NULL;
		    ELSIF expect_state IS NOT NULL THEN
		        IF state <> expect_state THEN
		            problem := format('failed with %s (%s); the model expected %s', state, msg, expect_state);
		        END IF;
		    ELSIF NOT barred THEN
		        problem := format('failed with %s (%s); the model expected it to %s', state, msg,
		                          CASE WHEN over IS NULL THEN 'succeed' ELSE 'be refused (FC001)' END);
		    END IF;

		    IF problem IS NOT NULL THEN
		        IF NOT ro THEN
		            INSERT INTO public.fuzz_upsert_mismatch VALUES (stmt, problem);
		        END IF;
		        RAISE WARNING 'fuzz-upsert-mismatch: %', problem;
		        RETURN problem;
		    END IF;
		    IF state IS NOT NULL THEN
		        -- the run's tally of errors, and its check for internal ones
		        RAISE NOTICE 'caught %: %', state, msg;
		    END IF;
		    IF NOT ro THEN
		        PERFORM nextval(CASE WHEN state = 'FC001' THEN 'public.fuzz_upsert_refused'
		                             WHEN state IS NOT NULL THEN 'public.fuzz_upsert_failed'
		                             WHEN cardinality(ins_name) = 0 THEN 'public.fuzz_upsert_skipped'
		                             ELSE 'public.fuzz_upsert_charged' END::regclass);
		    END IF;
		    RETURN coalesce(state, 'ok');
		END
		$f$;
	};
	$node->safe_psql('postgres', $sql);
}

#-------------------------------------------------------------------------
# Random choices
#-------------------------------------------------------------------------

sub R      { return int(rand($_[0])); }
sub chance { return rand() < $_[0]; }
sub pick   { return $_[ R(scalar @_) ]; }

# wpick(w1 => v1, w2 => v2, ...): a value by weight; a code ref is called,
# a scalar ref is raw SQL.
sub wpick
{
	my @p = @_;
	my $total = 0;
	for (my $i = 0; $i < @p; $i += 2) { $total += $p[$i]; }
	my $r = rand($total);
	for (my $i = 0; $i < @p; $i += 2)
	{
		$r -= $p[$i];
		if ($r < 0 || $i + 2 >= @p)
		{
			my $v = $p[ $i + 1 ];
			return $v->() if ref($v) eq 'CODE';
			return $$v if ref($v) eq 'SCALAR';
			return $v;
		}
	}
	return;
}

# A plain SQL string literal (setup only).
sub sql_str
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	if ($s =~ /[\x00-\x1f\x7f\\]/)
	{
		(my $e = $s) =~ s/\\/\\\\/g;
		$e =~ s/'/\\'/g;
		$e =~ s/([\x00-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
		return "E'$e'";
	}
	(my $t = $s) =~ s/'/''/g;
	return "'$t'";
}

# A literal for string $s in one of the quoting forms, all on one line; a
# scalar ref is raw SQL, undef is NULL.
sub lit
{
	my ($s) = @_;
	return 'NULL' unless defined $s;
	return $$s if ref $s;
	if ($s =~ /[\x00-\x1f\x7f]/ || chance(0.08))
	{
		(my $e = $s) =~ s/\\/\\\\/g;
		$e =~ s/'/\\'/g;
		$e =~ s/([\x00-\x1f\x7f])/sprintf('\\x%02x', ord $1)/ge;
		return "E'$e'";
	}
	return "\$q\$$s\$q\$" if $s !~ /\$/ && chance(0.05);
	(my $t = $s) =~ s/'/''/g;
	return "'$t'";
}

# Strings that are wrong almost anywhere.
my @edge_strings = (
	undef, '', ' ', 'x' x 10240, '€' x 3414, 'x' x 255, 'x' x 256, 'x' x 257,
	'x' x 1024, 'x' x 1025, 'é' x 129, "o'brien", "it''s", 'back\\slash',
	'\\\\', q{'; DROP TABLE fluxcredits.ledger; --}, '"dq"', 'naïve café',
	'日本語のアカウント', '😀🚀', "\x{202E}rtl", "e\x{301}", "\x{FEFF}bom",
	"\x{10FFFF}", "tab\there", "nl\nhere", "\x01ctl", ' leading', 'trailing ',
	'%s%d%n', '{"json": true}', 'NULL', 'null',
	\q{E'\\xff\\xfe'}, \q{NULL::text}, \q{123}, \q{'1'::varchar},
	\q{repeat('ab', 6000)}, \q{chr(65) || chr(12354)});

sub g_edge { return lit(pick(@edge_strings)); }

sub g_account
{
	return wpick(
		70 => sub { lit(pick(@acc_setup)) },
		10 => sub { lit(pick(@acc_new)) },
		20 => sub {
			wpick(
				4 => sub { g_edge() },
				1 => sub { lit(lc(pick(@acc_setup))) },
				1 => sub { lit(pick(@acc_setup) . ' ') },
				1 => sub { lit('nobody') },
				1 => \q{(SELECT min(account) FROM fluxcredits.accounts)},
				1 => \q{(SELECT account FROM fluxcredits.accounts WHERE false)});
		});
}

sub g_kind
{
	return wpick(
		45 => q{'compression'},
		45 => q{'ai'},
		10 => sub {
			pick(q{'video'}, 'NULL', q{''}, q{'AI'}, q{'Compression'}, q{' ai'},
				q{'ai'::fluxcredits.credit_kind}, q{'compression'::text},
				q{NULL::fluxcredits.credit_kind}, q{'video'::fluxcredits.credit_kind},
				g_edge());
		});
}

sub g_amount
{
	return wpick(
		35 => '1', 25 => '2', 15 => '3', 3 => '10', 2 => '200',
		20 => sub {
			pick('0', '-1', '2147483647', '-2147483648', 'NULL', '2147483648',
				q{'1'}, '1.5', q{'x'}, 'NULL::int', '(2147483646 + 1)', '1::bigint',
				'(-2147483647 - 1)', '9223372036854775807');
		});
}

sub g_image
{
	return wpick(40 => 'NULL', 45 => sub { lit('img-' . (1 + R(8))) }, 15 => sub { g_edge() });
}

sub g_key
{
	return wpick(50 => 'NULL', 40 => sub { lit('key-' . (1 + R(400))) }, 10 => sub { g_edge() });
}

sub g_reference
{
	return wpick(85 => sub { lit('pay-' . (1 + R(500))) }, 15 => sub { g_edge() });
}

sub g_plan
{
	return wpick(
		80 => sub { lit(pick(@plans)) },
		20 => sub {
			pick('NULL', q{''}, q{'free'}, q{'Enterprise'}, q{'Free '},
				lit('x' x 64), lit('x' x 65), g_edge());
		});
}

my @good_zones = (
	'UTC', 'America/New_York', 'Australia/Lord_Howe', 'Asia/Kathmandu', 'EST',
	'Etc/GMT-14', 'posix/Europe/Paris', 'Europe/London', 'Pacific/Chatham',
	'IST', 'MSK', 'VET', 'CET-1CEST,M3.5.0,M10.5.0/3', '<+0330>-03:30', 'utc',
	'Europe/Paris', 'America/St_Johns');
my @bad_zones = (
	undef, '', 'UTC+25', 'Mars/Olympus', 'x' x 300, 'é' x 200, 'é' x 10240,
	' UTC', 'UTC ', 'America/New_York ', 'EST5EDT', 'Etc/GMT+12', 'localtime',
	'posixrules', 'Factory', '../../etc/passwd', '+14', '-12:00', 'GMT+0', 'Z',
	'z', 'America//New_York', 'america/new_york', '<+0330', 'ÉST');

sub g_tz
{
	return wpick(65 => sub { lit(pick(@good_zones)) }, 35 => sub { lit(pick(@bad_zones)) });
}

my @offsets = ('', '+00', '-05', '+05:45', '+14', '-12', ' UTC',
	' America/New_York', ' Australia/Lord_Howe', ' Asia/Kathmandu');

sub days_in
{
	my ($y, $m) = @_;
	my @d = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31);
	my $leap = ($y % 4 == 0 && $y % 100 != 0) || $y % 400 == 0;
	return $m == 2 && $leap ? 29 : $d[ $m - 1 ];
}

sub ts_random
{
	my $y = 1900 + R(201);
	my $m = 1 + R(12);
	return sprintf(q{'%04d-%02d-%02d %02d:%02d:%02d.%06d%s'},
		$y, $m, 1 + R(days_in($y, $m)), R(24), R(60), R(60), R(1000000),
		pick(@offsets));
}

sub ts_month_end
{
	my $y = chance(0.7) ? 2022 + R(6) : 1990 + R(60);
	my $m = 1 + R(12);
	my $d = days_in($y, $m) - R(4);
	$d = 31 if chance(0.03);    # sometimes a day the month lacks
	my $t = pick('00:00:00', '23:59:59.999999', '23:30', '00:00:00.000001', '12:00', '02:30');
	return sprintf(q{'%04d-%02d-%02d %s%s'}, $y, $m, $d, $t, pick(@offsets));
}

# Local times at and around DST changes (gaps and overlaps).
my @dst_times = (
	'2024-03-10 02:30 America/New_York', '2024-03-10 01:59:59.999999 America/New_York',
	'2024-03-10 03:00 America/New_York', '2024-11-03 01:30 America/New_York',
	'2024-11-03 00:59:59.999999 America/New_York', '2023-03-12 02:00 America/New_York',
	'2024-03-31 02:30 Europe/Paris', '2024-10-27 02:30 Europe/Paris',
	'2024-03-31 01:00 Europe/London', '2024-10-27 01:30 Europe/London',
	'2024-04-07 01:45 Australia/Lord_Howe', '2024-10-06 02:15 Australia/Lord_Howe',
	'2024-04-07 02:00 Australia/Lord_Howe', '2024-09-29 02:45 Pacific/Chatham',
	'2024-04-07 03:30 Pacific/Chatham', '1986-01-01 00:10 Asia/Kathmandu',
	'2011-12-29 12:00 Pacific/Apia', '2011-12-31 00:00 Pacific/Apia',
	'1883-11-18 12:03:58 America/New_York');

sub ts_dst
{
	return sprintf(q{'%s'}, pick(@dst_times));
}

sub ts_edge
{
	return pick(q{'infinity'}, q{'-infinity'}, q{'4713-01-01 BC'},
		q{'294276-12-31 23:59:59.999999+00'}, q{'4714-11-24 00:00:00+00 BC'},
		'NULL', q{'epoch'}, q{'garbage'}, q{'2024-02-30'}, q{''},
		q{'2024-01-31'::date}, q{'2024-01-31 12:00'::timestamp},
		q{'infinity'::timestamp}, q{'today'}, q{'tomorrow'}, q{'yesterday'},
		q{'294276-12-31 23:59:59.999999+00'::timestamptz - interval '40 days'},
		q{'4713-12-31 BC'::timestamptz + interval '1 month'},
		q{'2262-04-11 23:47:16.854775+00'}, q{'0001-01-01 00:00 BC'},
		q{'10000-01-31 12:00+00'}, q{now() + interval '2 years'},
		q{'2024-01-31 24:00:00'}, q{'2024-13-01'}, q{'allballs'});
}

# A time: "at" arguments, mostly near now so that limits get hit.
sub g_at
{
	return wpick(
		30 => 'now()',
		15 => sub { pick(q{now() - interval '} . R(400) . q{ days'},
				q{now() + interval '} . R(48) . q{ hours'},
				q{now() - interval '1 month' * } . R(30),
				q{clock_timestamp()}, q{now() - interval '1 microsecond'}) },
		15 => \&ts_random,
		12 => \&ts_month_end,
		10 => \&ts_dst,
		13 => \&ts_edge,
		5  => sub { ts_random() . '::timestamp' });
}

# An anchor: mostly in the past.
sub g_anchor
{
	return wpick(
		30 => sub { q{now() - interval '} . R(800) . q{ days'} },
		20 => \&ts_month_end,
		15 => \&ts_dst,
		15 => \&ts_random,
		20 => \&ts_edge);
}

# Charge ids: existing ids of every kind of ledger entry, and nonsense.
my $max_id = 0;

sub g_charge
{
	return wpick(
		30 => sub { 1 + R($max_id + 2) },
		10 => sub { $max_id },
		5  => sub { $max_id + 1 },
		25 => sub {
			'(SELECT max(id) FROM fluxcredits.ledger WHERE '
			  . pick(q{entry = 'consume'}, q{entry = 'consume' AND charge IS NULL},
				q{entry = 'consume' AND topup < 0}, q{entry = 'consume' AND kind = 'ai'},
				q{entry = 'consume' AND charge IS NOT NULL}, q{entry = 'refund'},
				q{entry = 'topup'}, q{entry = 'plan_change'},
				q{entry = 'consume' AND monthly > 0 AND topup < 0},
				q{entry = 'consume' AND id < } . (1 + R($max_id + 1)))
			  . ')';
		},
		10 => sub { '(SELECT min(id) FROM fluxcredits.ledger)' },
		20 => sub {
			pick('NULL', '0', '-1', '9223372036854775807', '-9223372036854775808',
				'9223372036854775808', q{'1'}, q{'abc'}, '1.5', 'NULL::bigint',
				'2147483648');
		});
}

#-------------------------------------------------------------------------
# Calls
#-------------------------------------------------------------------------

# call(function, [name, generator, required], ...): a call in positional,
# named (in random order, => or :=) or mixed form; optional arguments are
# left out at random, and now and then the call is malformed.
sub call
{
	my ($fn, @params) = @_;
	my @p = @params;
	my $nreq = grep { $_->[2] } @p;
	my $form = wpick(50 => 'pos', 35 => 'named', 15 => 'mixed');
	my @args;
	if ($form eq 'pos')
	{
		my $n = $nreq + R(@p - $nreq + 1);
		$n-- if $n > 0 && chance(0.02);    # a required argument missing
		@args = map { $_->[1]->() } @p[ 0 .. $n - 1 ];
	}
	else
	{
		my $k = $form eq 'mixed' ? 1 + R(scalar @p) : 0;
		@args = map { $_->[1]->() } @p[ 0 .. $k - 1 ];
		my @named = grep { $_->[2] || chance(0.5) } @p[ $k .. $#p ];
		@named = grep { !$_->[2] || !chance(0.02) } @named;
		# shuffle
		for (my $i = @named - 1; $i > 0; $i--)
		{
			my $j = R($i + 1);
			@named[ $i, $j ] = @named[ $j, $i ];
		}
		my $arrow = chance(0.1) ? ':=' : '=>';
		push @args, map { "$_->[0] $arrow " . $_->[1]->() } @named;
		push @args, 'amonut => 1' if chance(0.01);
		push @args, "$p[0][0] => " . $p[0][1]->() if chance(0.01);
	}
	push @args, '1' if chance(0.01);    # one argument too many
	return "$fn(" . join(', ', @args) . ')';
}

sub c_consume
{
	my ($fn) = @_;
	return call("fluxcredits.$fn",
		[ 'account', \&g_account, 1 ], [ 'kind', \&g_kind, 1 ],
		[ 'amount', \&g_amount, 0 ], [ 'image', \&g_image, 0 ],
		[ 'idempotency_key', \&g_key, 0 ], [ 'at', \&g_at, 0 ]);
}

sub c_topup
{
	return call('fluxcredits.credits_topup',
		[ 'account', \&g_account, 1 ], [ 'amount', \&g_amount, 1 ],
		[ 'reference', \&g_reference, 1 ], [ 'at', \&g_at, 0 ]);
}

# Reservations (1.5 marks an account at its first one): holds with ttls
# from nonsense to days, resolved by commit or release, or left to expire
# and be released by the next charge that needs their credits.
sub g_ttl
{
	return wpick(
		40 => q{interval '15 minutes'}, 15 => q{interval '1 second'},
		15 => q{interval '2 days'}, 10 => q{interval '400 days'},
		20 => sub {
			pick('NULL', q{interval '0'}, q{interval '-1 minute'}, q{'x'}, '1',
				q{interval '1 microsecond'}, q{interval '178000000 years'}, 'NULL::interval');
		});
}

sub g_reservation
{
	return wpick(
		35 => q{(SELECT max(id) FROM fluxcredits.reservations WHERE state = 'held')},
		15 => q{(SELECT min(id) FROM fluxcredits.reservations WHERE state = 'held')},
		10 => q{(SELECT max(id) FROM fluxcredits.reservations WHERE state <> 'held')},
		10 => q{(SELECT max(id) FROM fluxcredits.reservations WHERE expires_at < now())},
		30 => \&g_charge);
}

sub c_reserve
{
	return call('fluxcredits.credits_reserve',
		[ 'account', \&g_account, 1 ], [ 'kind', \&g_kind, 1 ],
		[ 'amount', \&g_amount, 0 ], [ 'image', \&g_image, 0 ],
		[ 'idempotency_key', \&g_key, 0 ], [ 'ttl', \&g_ttl, 0 ], [ 'at', \&g_at, 0 ]);
}

sub c_commit
{
	return call('fluxcredits.credits_commit',
		[ 'reservation', \&g_reservation, 1 ],
		[ 'amount', sub { chance(0.5) ? 'NULL' : g_amount() }, 0 ], [ 'at', \&g_at, 0 ]);
}

sub c_release
{
	return call('fluxcredits.credits_release',
		[ 'reservation', \&g_reservation, 1 ], [ 'at', \&g_at, 0 ]);
}

sub c_refund
{
	return call('fluxcredits.credits_refund', [ 'charge', \&g_charge, 1 ], [ 'at', \&g_at, 0 ]);
}

# A new anchor is given only to some accounts (the first two of each plan
# and the ones the fuzzer opens): the others keep theirs, so that their
# billing periods can be checked for overlaps.
my @acc_reanchor = ((grep { /^fz-\w+-[12]$/ } @acc_setup), @acc_new);

sub c_set_plan
{
	my $reanchor = chance(0.4);
	return call('fluxcredits.credits_set_plan',
		[ 'account', sub { !$reanchor ? g_account() : chance(0.97) ? lit(pick(@acc_reanchor)) : g_edge() }, 1 ],
		[ 'plan', \&g_plan, 1 ],
		[ 'at', sub { chance(0.85) ? 'now()' : g_at() }, 0 ],
		[ 'new_anchor', sub { $reanchor ? g_anchor() : 'NULL' }, 0 ]);
}

sub c_open
{
	return call('fluxcredits.credits_open_account',
		[ 'account', sub { chance(0.6) ? lit(pick(@acc_new)) : g_account() }, 1 ],
		[ 'plan', \&g_plan, 0 ], [ 'anchor', \&g_anchor, 0 ], [ 'tz', \&g_tz, 0 ]);
}

sub c_usage
{
	my ($fn) = @_;
	return call("fluxcredits.$fn", [ 'account', \&g_account, 1 ], [ 'at', \&g_at, 0 ]);
}

sub c_billing_period
{
	return call('fluxcredits.billing_period',
		[ 'anchor', sub { chance(0.5) ? g_anchor() : g_at() }, 1 ],
		[ 'at', \&g_at, 1 ], [ 'tz', \&g_tz, 0 ]);
}

# A scalar call as a statement, in one of several shapes.
sub scalar_stmt
{
	my ($expr) = @_;
	return wpick(
		75 => "SELECT $expr;",
		8  => "SELECT * FROM $expr;",
		4  => "SELECT $expr AS r FROM generate_series(1, " . (1 + R(4)) . ");",
		3  => "SELECT $expr IS NULL;",
		3  => "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT $expr;",
		3  => "SELECT count(*) FROM (SELECT $expr) s;",
		2  => "SELECT $expr WHERE false;",
		2  => "VALUES ($expr);");
}

sub s_usage
{
	my $u = c_usage('credits_usage');
	return wpick(
		30 => "SELECT * FROM $u;",
		20 => "SELECT $u;",
		15 => "SELECT ($u).*;",
		15 => qq{SELECT u.plan, u."canCompress", u."canUseIA", u.ia_credits_remaining, u.period_end - u.period_start FROM $u u;},
		10 => sub { 'SELECT a.account, u.* FROM fluxcredits.accounts a, LATERAL fluxcredits.credits_usage(a.account, ' . g_at() . ') u;' },
		10 => sub { "SELECT count(*) FROM fluxcredits.accounts a, LATERAL fluxcredits.credits_usage(a.account) u WHERE u.\"canUseIA\";" });
}

sub s_usage_json
{
	my $j = c_usage('credits_usage_json');
	return wpick(
		50 => "SELECT $j;",
		20 => "SELECT $j ->> 'canUseIA', $j -> 'compressor_limit';",
		15 => "SELECT jsonb_pretty($j);",
		15 => "SELECT * FROM jsonb_each($j);");
}

sub s_view
{
	return pick(
		'SELECT * FROM fluxcredits.usage;',
		'SELECT count(*) FROM fluxcredits.usage;',
		'SELECT * FROM fluxcredits.usage WHERE account = ' . g_account() . ';',
		q{SELECT account, "canCompress", "canUseIA" FROM fluxcredits.usage ORDER BY ia_credits_remaining DESC LIMIT 3;},
		q{SELECT plan, sum(compressor_used), sum(ia_credits_used) FROM fluxcredits.usage GROUP BY plan;});
}

sub s_billing_period
{
	my $b = c_billing_period();
	return wpick(
		50 => "SELECT $b;",
		20 => "SELECT lower($b), upper($b);",
		15 => sub { "SELECT $b @> " . g_at() . ';' },
		15 => sub { "SELECT * FROM $b;" });
}

# billing_period against its SQL definition, with all three arguments.
sub s_oracle
{
	my $anchor = chance(0.5) ? g_anchor() : g_at();
	return sprintf('SELECT public.fuzz_bp(%s, %s, %s);', $anchor, g_at(),
		chance(0.9) ? lit(pick(@good_zones)) : g_tz());
}

sub s_check
{
	return pick('SELECT count(*) FROM fluxcredits.credits_check();',
		'SELECT * FROM fluxcredits.credits_check();');
}

sub s_ledger_dml
{
	my $id = g_charge();
	return pick(
		"UPDATE fluxcredits.ledger SET monthly = 0 WHERE id = $id;",
		"UPDATE fluxcredits.ledger SET account = account WHERE false;",
		"UPDATE fluxcredits.ledger SET topup = topup - 1000 RETURNING id;",
		"DELETE FROM fluxcredits.ledger WHERE id = $id;",
		'DELETE FROM fluxcredits.ledger;',
		'TRUNCATE fluxcredits.ledger;',
		'TRUNCATE fluxcredits.ledger, fluxcredits.counters;',
		'TRUNCATE ONLY fluxcredits.ledger RESTART IDENTITY;',
		'TRUNCATE fluxcredits.ledger CASCADE;',
		"WITH d AS (DELETE FROM fluxcredits.ledger WHERE id = $id RETURNING id) SELECT count(*) FROM d;",
		"MERGE INTO fluxcredits.ledger l USING (SELECT $id AS id) s ON l.id = s.id WHEN MATCHED THEN DELETE;",
		"MERGE INTO fluxcredits.ledger l USING (SELECT $id AS id) s ON l.id = s.id WHEN MATCHED THEN UPDATE SET monthly = l.monthly + 1;");
}

sub g_counter_slots
{
	return 'SET fluxcredits.counter_slots = '
	  . pick('1', '2', '3', '16', '64', '0', '65', '-1', q{'abc'}, q{''}, '2147483648') . ';';
}

sub s_session
{
	return pick(
		g_counter_slots(), g_counter_slots(), 'RESET fluxcredits.counter_slots;',
		'SET fluxcredits.bogus = 1;',
		'SET fluxcredits.alert_thresholds = '
		  . pick(q{'80,100'}, q{''}, q{'0'}, q{'101'}, q{'50,50'}, q{'abc'}, q{'100,80'},
			q{' 80 , 100 '}, q{'-1'}, q{'2147483648'}, q{'1'}, q{'"80"'}, q{','}, q{'80,'},
			q{'80;100'}, q{'1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16'},
			q{'1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17'}, lit('1,' x 5000 . '1'))
		  . ';',
		'RESET fluxcredits.alert_thresholds;', 'LISTEN fluxcredits_alert;', 'UNLISTEN *;',
		'SET TimeZone = ' . lit(pick(@good_zones, 'UTC', 'Mars/Olympus')) . ';',
		'SET DateStyle = ' . pick(q{'ISO, DMY'}, q{'SQL, MDY'}, q{'Postgres, YMD'}, q{'German'}, q{'ISO'}) . ';',
		'SET IntervalStyle = ' . pick(q{'sql_standard'}, q{'iso_8601'}, q{'postgres_verbose'}) . ';',
		'SET timezone_abbreviations = ' . pick(q{'Default'}, q{'Australia'}, q{'India'}) . ';',
		'SET search_path = ' . pick(q{''}, 'pg_temp', 'public', 'fluxcredits', 'fluxcredits, public') . ';',
		'SET extra_float_digits = 3;',
		'RESET ALL;', 'DISCARD PLANS;', 'DISCARD ALL;', 'DISCARD TEMP;');
}

# A DO block running a few calls, catching (and reporting) their errors.
sub s_do
{
	my @calls = map { pick(c_consume('credits_consume'), c_consume('credits_try_consume'),
			c_topup(), c_refund(), c_usage('credits_usage_json'), c_set_plan()) }
	  1 .. 1 + R(3);
	my $body = join(' ', map { "PERFORM $_;" } @calls);
	my $catch = q{EXCEPTION WHEN others THEN RAISE NOTICE 'caught %: %', SQLSTATE, SQLERRM;};
	if (chance(0.5))
	{
		# one block per call: later calls run after an earlier one failed
		$body = join(' ', map { "BEGIN PERFORM $_; $catch END;" } @calls);
		return "DO \$fz\$ BEGIN $body END \$fz\$;";
	}
	return "DO \$fz\$ BEGIN $body $catch END \$fz\$;";
}

# The trigger path: the app's tables, attach/detach, CREATE TRIGGER with
# random arguments, and inserts that charge.
my @app_tables = ('app_images', 'app_int', 'app_part', 'app_part_d');

sub g_table
{
	return wpick(
		80 => sub { lit((chance(0.8) ? 'public.' : '') . pick(@app_tables)) },
		20 => sub {
			pick('NULL', q{''}, q{'nonexistent'}, q{'fluxcredits.plans'}, q{'pg_class'},
				q{'app_images'::regclass}, q{'"app_images"'}, q{'APP_IMAGES'},
				q{0::regclass}, q{'1'::oid::regclass}, g_edge());
		});
}

sub g_column
{
	return wpick(
		70 => sub { lit(pick('account', 'image', 'account_id', 'img', 'key', 'charge_id', 'id')) },
		30 => sub { pick('NULL', q{''}, q{'nope'}, q{'ctid'}, q{'xmin'}, q{'Account'},
				lit('a' x 100), g_edge()) });
}

sub g_trigger_args
{
	my @a = map {
		wpick(60 => sub { pick('compression', 'ai', 'account', 'image', 'key', 'charge_id', 'account_id', 'img', '') },
			40 => sub { pick('video', 'nope', 'ctid', 'id', 'note', 'x' x 100, "o'brien", 'é') })
	} 1 .. R(7);
	return join(', ', map { (my $t = $_) =~ s/'/''/g; "'$t'" } @a);
}

sub s_app_insert
{
	my $acc = sub { chance(0.85) ? lit(pick(@acc_setup)) : g_account() };
	return wpick(
		40 => sub {
			my @rows = map { '(' . join(', ', $acc->(), g_image(), g_key()) . ')' } 1 .. 1 + R(3);
			'INSERT INTO public.app_images (account, image, key) VALUES ' . join(', ', @rows)
			  . (chance(0.3) ? ' RETURNING id, charge_id;' : ';');
		},
		15 => sub {
			'INSERT INTO public.app_images (account, image) SELECT ' . $acc->()
			  . q{, 'img-' || g FROM generate_series(1, } . (1 + R(5)) . ') g;';
		},
		15 => sub {
			'INSERT INTO public.app_int VALUES (' . pick('42', '42', '7', 'NULL', '-1', '2147483647')
			  . ', ' . pick('NULL', q{'00000000-0000-0000-0000-00000000000} . R(8) . q{'})
			  . ', ' . pick('NULL', '1') . ');';
		},
		15 => sub {
			'INSERT INTO public.app_part (account, image) VALUES (' . $acc->() . ', ' . g_image() . ');';
		},
		5 => sub { 'UPDATE public.app_images SET note = ' . lit(pick('x', 'y')) . ' WHERE id % 7 = ' . R(7) . ';' },
		5 => sub { 'DELETE FROM public.app_images WHERE id % 5 = ' . R(5) . ';' },
		2 => sub { pick('TRUNCATE public.app_images;', 'TRUNCATE public.app_int;', 'TRUNCATE public.app_part;') });
}

sub s_app_ddl
{
	return wpick(
		30 => sub {
			scalar_stmt(call('fluxcredits.attach', [ 'table', \&g_table, 1 ],
					[ 'kind', \&g_kind, 1 ], [ 'account_column', \&g_column, 1 ],
					[ 'image_column', \&g_column, 0 ]));
		},
		30 => sub {
			scalar_stmt(call('fluxcredits.detach', [ 'table', \&g_table, 1 ], [ 'kind', \&g_kind, 1 ]));
		},
		20 => sub {
			# 1.6's forms (AFTER ... REFERENCING NEW TABLE ... FOR EACH
			# STATEMENT; BEFORE ... FOR EACH ROW filling a charge id) and others
			my $when = wpick(50 => 'BEFORE', 50 => 'AFTER');
			sprintf('CREATE TRIGGER t%d %s %s ON public.%s%s FOR EACH %s EXECUTE FUNCTION fluxcredits.charge(%s);',
				R(3), $when,
				wpick(80 => 'INSERT', 10 => 'INSERT OR UPDATE', 10 => 'DELETE'),
				pick(@app_tables),
				($when eq 'AFTER' || chance(0.05)) && chance(0.6) ? ' REFERENCING NEW TABLE AS nt' : '',
				wpick(55 => 'ROW', 45 => 'STATEMENT'), g_trigger_args());
		},
		15 => sub { sprintf('DROP TRIGGER IF EXISTS t%d ON public.%s;', R(3), pick(@app_tables)) },
		5 => sub { pick('SELECT fluxcredits.charge();', 'SELECT * FROM fluxcredits.charge();') });
}

# The charge trigger attached to one of the extension's own tables, then a
# call that writes to it; always rolled back.
sub block_attach_own
{
	my $t = pick('fluxcredits.ledger', 'fluxcredits.counters', 'fluxcredits.accounts',
		'fluxcredits.alerts_sent');
	return ('BEGIN;',
		"SELECT fluxcredits.attach('$t', " . pick(q{'compression'}, q{'ai'}) . q{, 'account');},
		pick(scalar_stmt(c_consume('credits_consume')), scalar_stmt(c_topup()),
			scalar_stmt(c_open()), scalar_stmt(c_refund()), s_app_insert()),
		'ROLLBACK;');
}

# Upserts into app_uploads (compression) and app_captions (AI), both
# charged by attach()'s trigger: several rows of up to three accounts,
# their names from a small pool so that some conflict with rows already
# there and with each other, with ON CONFLICT DO NOTHING, DO UPDATE or
# none. Most are checked against the model (public.fuzz_upsert); the rest
# are sent as the app sends them. Deletes make room for new rows.
my @upsert_accounts = grep { /^fz-(?:Free|Tiny|Zero|Starter)-/ } @acc_setup;

sub g_upsert_account
{
	return wpick(
		55 => sub { pick(@upsert_accounts) },
		30 => sub { pick(@acc_setup) },
		10 => sub { pick(@acc_new) },
		5  => sub { pick(undef, 'fz-unknown', '', 'x' x 257) });
}

sub s_upsert
{
	my $ai    = chance(0.4);
	my $table = $ai ? 'app_captions' : 'app_uploads';
	if (chance(0.12))
	{
		return pick("DELETE FROM public.$table WHERE name LIKE '_" . R(10) . "%';",
			"DELETE FROM public.$table WHERE hits > 1;",
			"DELETE FROM public.$table WHERE account = " . lit(pick(@upsert_accounts)) . ';',
			"TRUNCATE public.$table;");
	}
	my $mode = wpick(50 => 'nothing', 35 => 'update', 15 => 'plain');
	my @accs = map { g_upsert_account() } 1 .. 1 + R(3);
	my (@names, @accounts, @images);
	for (1 .. 1 + R(6))
	{
		push @names,    ($ai ? 'c' : 'u') . R(40);
		push @accounts, pick(@accs);
		push @images,   chance(0.2) ? undef : $ai ? 'img-' . R(12) : 'pic-' . R(20);
	}
	my $rows = join(', ',
		map { '(' . join(', ', lit($names[$_]), lit($accounts[$_]), lit($images[$_])) . ')' }
		  0 .. $#names);
	my $source = chance(0.7) ? "VALUES $rows" : "SELECT v.n, v.a, v.i FROM (VALUES $rows) AS v(n, a, i)";
	my $conflict =
	    $mode eq 'plain' ? ''
	  : $mode eq 'nothing' ? pick(' ON CONFLICT DO NOTHING', ' ON CONFLICT (name) DO NOTHING',
		" ON CONFLICT ON CONSTRAINT ${table}_pkey DO NOTHING")
	  : pick(' ON CONFLICT (name) DO UPDATE SET hits = t.hits + 1',
		' ON CONFLICT (name) DO UPDATE SET image = excluded.image, hits = t.hits + 1',
		' ON CONFLICT (name) DO UPDATE SET account = excluded.account, hits = t.hits + 1');
	my $stmt = "INSERT INTO public.$table AS t (name, account, image) $source$conflict"
	  . (chance(0.2) ? ' RETURNING name, hits' : '');
	return "$stmt;" if chance(0.25);
	my $array = sub { 'ARRAY[' . join(', ', map { lit($_) } @_) . ']::text[]' };
	return sprintf('SELECT public.fuzz_upsert(%s, %s, %s, %s, %s, $fzu$%s$fzu$);',
		lit($ai ? 'ai' : 'compression'), lit($mode), $array->(@names), $array->(@accounts),
		$array->(@images), $stmt);
}

# One statement (a single line).
sub statement
{
	return wpick(
		20 => sub { scalar_stmt(c_consume('credits_consume')) },
		12 => sub { scalar_stmt(c_consume('credits_try_consume')) },
		7  => sub { scalar_stmt(c_topup()) },
		8  => sub { scalar_stmt(c_refund()) },
		5  => sub { scalar_stmt(c_reserve()) },
		3  => sub { scalar_stmt(c_commit()) },
		3  => sub { scalar_stmt(c_release()) },
		4  => sub { scalar_stmt(c_set_plan()) },
		4  => sub { scalar_stmt(c_open()) },
		6  => \&s_usage,
		4  => \&s_usage_json,
		2  => \&s_view,
		5  => \&s_billing_period,
		6  => \&s_oracle,
		0.15 => \&s_check,
		3  => \&s_ledger_dml,
		2  => \&s_session,
		3  => \&s_do,
		6  => \&s_app_insert,
		5  => \&s_upsert,
		2  => \&s_app_ddl,
		2  => sub {
			# several statements in one message
			my @s = map { my $x = statement_simple(); $x =~ s/;$//; $x } 1 .. 2 + R(3);
			return join(' \\; ', @s) . ';';
		});
}

# A statement fit for a multi-statement message.
sub statement_simple
{
	return wpick(
		5 => sub { scalar_stmt(c_consume('credits_consume')) },
		3 => sub { scalar_stmt(c_consume('credits_try_consume')) },
		2 => sub { scalar_stmt(c_refund()) },
		2 => sub { scalar_stmt(c_topup()) },
		1 => sub { scalar_stmt(c_reserve()) },
		1 => sub { scalar_stmt(pick(c_commit(), c_release())) },
		2 => \&s_usage,
		2 => \&s_oracle,
		2 => \&s_session);
}

# Statements on a line: a multi-statement message counts each.
sub pieces
{
	my ($line) = @_;
	return 1 + (() = $line =~ / \\; /g);
}

# A batch: lines of SQL, each line one statement (or one message), with
# transaction blocks. Returns (lines, statements, expected-timeout lines).
sub batch
{
	my @lines = ("\\set VERBOSITY verbose", "\\set SHOW_CONTEXT never");
	push @lines, "\\set ON_ERROR_ROLLBACK on" if chance(0.3);
	push @lines, g_counter_slots() if chance(0.3);
	push @lines, 'SET timezone_abbreviations = ' . pick(q{'Australia'}, q{'India'}) . ';'
	  if chance(0.15);
	my %short_timeout;    # line numbers where a 1 ms statement_timeout may fire
	my $stmts = 0;
	while ($stmts < $batch_size)
	{
		if (chance(0.004))
		{
			push @lines, block_attach_own();
			$stmts += 4;
		}
		elsif (chance(0.04))
		{
			push @lines, pick('BEGIN;', 'BEGIN;', 'BEGIN ISOLATION LEVEL REPEATABLE READ;',
				'BEGIN ISOLATION LEVEL SERIALIZABLE;', 'BEGIN READ ONLY;',
				'START TRANSACTION;');
			$stmts++;
			my $short = 0;
			for (1 .. 1 + R(8))
			{
				my $r = rand();
				if ($r < 0.08)
				{
					push @lines, 'SAVEPOINT s' . R(3) . ';';
				}
				elsif ($r < 0.14)
				{
					push @lines, pick('ROLLBACK TO SAVEPOINT s', 'RELEASE SAVEPOINT s') . R(3) . ';';
				}
				elsif ($r < 0.16)
				{
					push @lines, q{SET LOCAL statement_timeout = '1ms';};
					$short = 1;
				}
				else
				{
					push @lines, statement();
				}
				$short_timeout{ scalar @lines } = 1 if $short;
				$stmts += pieces($lines[-1]);
			}
			push @lines, pick('COMMIT;', 'COMMIT;', 'ROLLBACK;', 'END;', 'ABORT;');
			$short_timeout{ scalar @lines } = 1 if $short;
			$stmts++;
		}
		else
		{
			push @lines, statement();
			$stmts += pieces($lines[-1]);
		}
	}
	return (\@lines, $stmts, \%short_timeout);
}

#-------------------------------------------------------------------------
# The run
#-------------------------------------------------------------------------

my $dir      = $node->basedir;
my $connstr  = $node->connstr('postgres');
my $internal = qr/cache lookup failed|unexpected|SPI_|fluxcredits: /;
my (%sqlstates, @internal, @timeouts, @bp_mismatch, @upsert_mismatch, @shrunk);
my ($total_stmts, $total_errors, $batches, $kept, $crash) = (0, 0, 0, 0, undef);
my ($ledger_rows, $ledger_prev) = (0, 0);
my $t0 = time();

local $ENV{PGCLIENTENCODING} = 'UTF8';
while (time() - $t0 < $seconds)
{
	my ($lines, $nstmts, $short) = batch();
	$batches++;
	my $file = "$dir/fuzz_batch.sql";
	open(my $fh, '>:encoding(UTF-8)', $file) or die "cannot write $file: $!";
	print $fh join("\n", @$lines), "\n";
	close($fh);

	my ($out, $err) = ('', '');
	my $rc = eval {
		IPC::Run::run(
			[ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=0', '-d', $connstr, '-o', '/dev/null', '-f', $file ],
			'<', \undef, '>', \$out, '2>', \$err,
			IPC::Run::timeout(300));
		$? >> 8;
	};
	if (!defined $rc)
	{
		$crash = "batch $batches did not finish in 300 s: $@";
		rename($file, "$dir/fuzz_finding_batch_$batches.sql");
		last;
	}
	$total_stmts += $nstmts;
	utf8::decode($err);

	my $keep = 0;
	my $at_line = sub { my ($n) = @_; return $lines->[ $n - 1 ] // '?'; };
	for my $l (split /\n/, $err)
	{
		if ($l =~ /^psql:[^:]*:(\d+): ERROR:\s+([0-9A-Z]{5}): (.*)$/)
		{
			my ($n, $state, $msg) = ($1, $2, $3);
			$total_errors++;
			$sqlstates{$state}++;
			if ($state =~ /^XX/ || $msg =~ $internal)
			{
				push @internal, "line $n: ERROR $state: $msg\n  statement: " . $at_line->($n);
				$keep = 1;
			}
			elsif ($state eq '57014' && !$short->{$n})
			{
				push @timeouts, "line $n: $msg\n  statement: " . $at_line->($n);
				$keep = 1;
			}
		}
		elsif ($l =~ /^psql:[^:]*:(\d+): NOTICE:\s+\w{5}: caught (\w{5}): (.*)$/)
		{
			my ($n, $state, $msg) = ($1, $2, $3);
			$sqlstates{"$state (caught)"}++;
			if ($state =~ /^XX/ || $msg =~ $internal)
			{
				push @internal, "line $n: caught in DO: $state: $msg\n  statement: " . $at_line->($n);
				$keep = 1;
			}
		}
		elsif ($l =~ /^psql:[^:]*:(\d+): WARNING:\s+\w{5}: (fuzz-bp-mismatch: .*)$/)
		{
			push @bp_mismatch, "line $1: $2\n  statement: " . $at_line->($1);
			$keep = 1;
		}
		elsif ($l =~ /^psql:[^:]*:(\d+): WARNING:\s+\w{5}: (fuzz-upsert-mismatch: .*)$/)
		{
			push @upsert_mismatch, "line $1: $2\n  statement: " . $at_line->($1);
			$keep = 1;
		}
		elsif ($l =~ /server closed the connection|connection to server .* lost|could not connect|terminated abnormally/)
		{
			my ($n) = $l =~ /^psql:[^:]*:(\d+):/;
			$crash //= "$l\n  statement: " . (defined $n ? $at_line->($n) : '?');
			$keep = 1;
		}
	}
	$crash //= "psql exited with code $rc: " . substr($err, -2000) if $rc != 0;
	if ($keep && ++$kept <= 10)
	{
		my $copy = "$dir/fuzz_finding_batch_$batches.sql";
		rename($file, $copy);
		note("batch $batches has a finding; kept as $copy");
	}
	last if defined $crash;

	# Between batches: remember the plans of newly opened accounts, learn the
	# ledger's size for the charge ids, and see that it never shrank.
	my $state = $node->safe_psql('postgres', q{
		INSERT INTO fuzz_initial_plan
		SELECT a.account, a.plan FROM fluxcredits.accounts a
		 WHERE NOT EXISTS (SELECT FROM fuzz_initial_plan f WHERE f.account = a.account)
		   AND NOT EXISTS (SELECT FROM fluxcredits.ledger l
		                    WHERE l.account = a.account AND l.entry = 'plan_change');
		SELECT coalesce(max(id), 0), count(*) FROM fluxcredits.ledger;});
	($max_id, $ledger_rows) = split /\|/, $state;
	push @shrunk, "after batch $batches: $ledger_prev rows, then $ledger_rows"
	  if $ledger_rows < $ledger_prev;
	$ledger_prev = $ledger_rows;
}
my $elapsed = time() - $t0;

note(sprintf("%d statements in %d batches in %.1f s (%.0f statements/s), %d errors",
	$total_stmts, $batches, $elapsed, $total_stmts / ($elapsed || 1), $total_errors));
note('errors by SQLSTATE: '
	  . join(', ', map { "$_ $sqlstates{$_}" } sort { $sqlstates{$b} <=> $sqlstates{$a} || $a cmp $b } keys %sqlstates));

#-------------------------------------------------------------------------
# Assertions
#-------------------------------------------------------------------------

my ($alive_rc, $alive_out) = $node->psql('postgres', 'SELECT 1');
ok(!defined $crash && $alive_rc == 0 && $alive_out eq '1' && $total_stmts > 0,
	"fuzz: $total_stmts statements, server alive");
diag("connection lost: $crash") if defined $crash;

my @log_bad = grep { /terminated by signal|TRAP:|PANIC|server process.*exited with exit code/ }
  split /\n/, slurp_file($node->logfile);
is(scalar @log_bad, 0, 'server log: no crash, failed assertion or PANIC');
diag($_) for @log_bad[ 0 .. ($#log_bad < 20 ? $#log_bad : 19) ];

is(scalar @internal, 0,
	'no internal error (XX000, cache lookup failed, unexpected, SPI_, "fluxcredits: ")');
diag($_) for @internal[ 0 .. ($#internal < 20 ? $#internal : 19) ];

is(scalar @timeouts, 0, 'no statement ran into the 20 s statement_timeout');
diag($_) for @timeouts[ 0 .. ($#timeouts < 10 ? $#timeouts : 9) ];

SKIP:
{
	skip 'the server is down', 5 if $alive_rc != 0;
	my $q = sub { $node->safe_psql('postgres', shift) };

	my $stats = $q->(q{
		SELECT format('%s accounts, %s ledger rows: %s charges (%s covered by an earlier AI charge of the image, %s drew on top-ups), %s refunds, %s top-ups, %s plan changes, %s holds (%s committed, %s released; %s accounts marked as reserving); %s counters',
		    (SELECT count(*) FROM fluxcredits.accounts), count(*),
		    count(*) FILTER (WHERE entry = 'consume'),
		    count(*) FILTER (WHERE entry = 'consume' AND charge IS NOT NULL),
		    count(*) FILTER (WHERE entry = 'consume' AND topup < 0),
		    count(*) FILTER (WHERE entry = 'refund'), count(*) FILTER (WHERE entry = 'topup'),
		    count(*) FILTER (WHERE entry = 'plan_change'),
		    count(*) FILTER (WHERE entry = 'hold'), count(*) FILTER (WHERE entry = 'commit'),
		    count(*) FILTER (WHERE entry = 'release'),
		    (SELECT count(*) FROM fluxcredits.accounts WHERE has_reserved),
		    (SELECT count(*) FROM fluxcredits.counters))
		  FROM fluxcredits.ledger});
	note($stats);
	note('accounts on which now() is before the anchor (or a new one) took effect: '
		  . $q->('SELECT count(*) FROM fluxcredits.accounts WHERE coalesce(anchor_since, anchor) > now()'));

	my $check = $q->('SELECT count(*) FROM fluxcredits.credits_check()');
	is($check, '0', 'credits_check() finds every counter and balance equal to the ledger');
	diag($q->('SELECT * FROM fluxcredits.credits_check() LIMIT 20')) if $check ne '0';

	# Replay the ledger: each charge (a reservation's hold too) against the
	# limit of the plan the account was on when the charge was made (the
	# last plan change before it, else the plan it was opened on); the
	# counters count what credits_check() sums: charges, refunds, holds and
	# their releases.
	my $replay = q{
		WITH r AS (
		    SELECT l.id, l.account, l.kind, l.period_start, l.monthly, l.topup,
		           l.entry, l.charge, l.at,
		           sum(l.monthly) OVER (PARTITION BY l.account, l.kind, l.period_start
		                                ORDER BY l.id) AS used_after
		      FROM fluxcredits.ledger l
		     WHERE l.entry IN ('consume', 'refund', 'hold', 'release')
		), q AS (
		    SELECT r.*,
		           coalesce((SELECT pc.reference FROM fluxcredits.ledger pc
		                      WHERE pc.entry = 'plan_change' AND pc.account = r.account
		                        AND pc.id < r.id ORDER BY pc.id DESC LIMIT 1),
		                    (SELECT f.plan FROM fuzz_initial_plan f
		                      WHERE f.account = r.account)) AS plan
		      FROM r
		     WHERE r.entry IN ('consume', 'hold') AND r.charge IS NULL
		)
	};
	my $over = $q->($replay . q{
		SELECT count(*) FROM q JOIN fluxcredits.plans p ON p.name = q.plan
		 WHERE q.monthly > 0
		   AND ((q.kind = 'compression' AND q.used_after > p.compression_limit)
		     OR (q.kind = 'ai' AND q.used_after > p.ai_monthly))});
	my $unknown = $q->($replay . 'SELECT count(*) FROM q WHERE q.plan IS NULL');
	note("charges whose plan could not be told (skipped): $unknown");
	my $neg = $q->(q{
		SELECT count(*) FROM fluxcredits.counters WHERE used < 0 OR topup_used < 0})
	  + $q->('SELECT count(*) FROM fluxcredits.accounts WHERE topup_balance < 0');
	is($over + $neg, 0,
		'no charge took a counter over its plan limit; no counter or balance below zero');
	if ($over + $neg)
	{
		diag($q->($replay . q{
			SELECT q.id, q.account, q.kind, q.period_start, q.at, q.plan, q.monthly,
			       q.used_after, p.compression_limit, p.ai_monthly
			  FROM q JOIN fluxcredits.plans p ON p.name = q.plan
			 WHERE q.monthly > 0
			   AND ((q.kind = 'compression' AND q.used_after > p.compression_limit)
			     OR (q.kind = 'ai' AND q.used_after > p.ai_monthly))
			 ORDER BY q.id LIMIT 20}));
	}

	my $early_topup = $q->($replay . q{
		SELECT count(*) FROM q JOIN fluxcredits.plans p ON p.name = q.plan
		 WHERE q.kind = 'ai' AND q.topup < 0 AND q.used_after < p.ai_monthly});
	is($early_topup, '0', 'AI charges draw on top-ups only when the monthly allocation is used up');

	my $dedupe = $q->(q{
		SELECT count(*) FROM (
		    SELECT 1 FROM fluxcredits.ledger l
		     WHERE l.entry = 'consume' AND l.kind = 'ai' AND l.image IS NOT NULL
		       AND l.charge IS NULL AND l.monthly - l.topup > 0
		       AND NOT EXISTS (SELECT FROM fluxcredits.ledger r
		                        WHERE r.entry = 'refund' AND r.charge = l.id)
		     GROUP BY l.account, l.image, l.period_start HAVING count(*) > 1) d});
	is($dedupe, '0', 'at most one unrefunded AI charge per account, image and billing period');
	diag($q->(q{
		SELECT l.account, l.image, l.period_start, array_agg(l.id ORDER BY l.id)
		  FROM fluxcredits.ledger l
		 WHERE l.entry = 'consume' AND l.kind = 'ai' AND l.image IS NOT NULL
		   AND l.charge IS NULL AND l.monthly - l.topup > 0
		   AND NOT EXISTS (SELECT FROM fluxcredits.ledger r WHERE r.entry = 'refund' AND r.charge = l.id)
		 GROUP BY 1, 2, 3 HAVING count(*) > 1 LIMIT 10})) if $dedupe ne '0';

	# With an anchor that never changed, an account's billing periods are a
	# partition of time: no two of its counters' periods overlap (nor do two
	# counters of one period disagree about its end).
	my $overlap_sql = q{
		FROM fluxcredits.counters a
		JOIN fluxcredits.counters b
		  ON b.account = a.account AND b.kind = a.kind
		 AND ((a.period_start < b.period_start AND b.period_start < a.period_end)
		   OR (a.period_start = b.period_start AND a.period_end < b.period_end))
		JOIN fluxcredits.accounts x ON x.account = a.account
		WHERE x.anchor_since IS NULL};
	my $overlap = $q->("SELECT count(*) $overlap_sql");
	is($overlap, '0', 'the billing periods of an account with a fixed anchor do not overlap');
	diag($q->("SELECT DISTINCT a.account, x.anchor, x.tz, a.kind, a.period_start, a.period_end, b.period_start, b.period_end $overlap_sql LIMIT 10"))
	  if $overlap ne '0';
}

is(scalar @shrunk, 0, 'the ledger never lost a row');
diag($_) for @shrunk;

my (undef, $bp_stats) = $node->psql('postgres', q{
	SELECT format('%s agreed with the SQL definition; %s raised an error only in the SQL definition',
	    (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM fuzz_bp_agreed),
	    (SELECT count(*) FROM fuzz_bp_mismatch WHERE problem = 'the SQL definition raised an error'))});
note('billing_period oracle: ' . ($bp_stats // '?'));
is(scalar @bp_mismatch, 0, 'billing_period() agrees with its SQL definition on every fuzzed input');
diag($_) for @bp_mismatch[ 0 .. ($#bp_mismatch < 20 ? $#bp_mismatch : 19) ];

my (undef, $upsert_stats) = $node->psql('postgres', q{
	SELECT format('%s charged, %s inserted nothing, %s refused (FC001), %s failed otherwise',
	    (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM fuzz_upsert_charged),
	    (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM fuzz_upsert_skipped),
	    (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM fuzz_upsert_refused),
	    (SELECT last_value - CASE WHEN is_called THEN 0 ELSE 1 END FROM fuzz_upsert_failed))});
note('upserts checked against the model: ' . ($upsert_stats // '?'));
is(scalar @upsert_mismatch, 0,
	'upserts charge exactly the rows they insert, and are refused whole when they do not fit');
diag($_) for @upsert_mismatch[ 0 .. ($#upsert_mismatch < 20 ? $#upsert_mismatch : 19) ];

$node->stop('fast', fail_ok => 1);
done_testing();
