# t/004_dump_restore.pl: pg_dump and restore of a database using fluxcredits.
#
# A database with every kind of user data the extension keeps (the seeded
# plans, one of them changed by a DBA, and an added plan; accounts in several
# zones, one with a new anchor; charges, AI dedupe, idempotency keys, top-ups,
# split charges, refunds; reservations held, committed, released and
# expired; usage alerts; an app table charging through the trigger; grants
# to an app role) is dumped with pg_dump and restored into new databases,
# from the custom format with pg_restore and from the plain format with psql.
# Each restored database has the same rows in every table, the same ledger
# id sequence, the same privileges and the same usage read-outs;
# credits_check() is empty there; and it carries on: a new charge gets a
# fresh id, an idempotency key from before the dump still replays, and the
# app's trigger still charges.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql('postgres', 'CREATE ROLE regress_fc_dump_app');
$node->safe_psql('src', q{
	SET timezone = 'UTC';
	CREATE EXTENSION fluxcredits;

	-- Plans: seeded ones changed by a DBA (limits, alert thresholds), and
	-- an added one.
	UPDATE fluxcredits.plans SET compression_limit = 25, alert_thresholds = '{50,90,100}'
	 WHERE name = 'Free';
	UPDATE fluxcredits.plans SET alert_thresholds = '{}' WHERE name = 'Agency';
	INSERT INTO fluxcredits.plans VALUES ('Team', 500, 2000, '{75}');

	SELECT fluxcredits.credits_open_account('free-1', 'Free', '2026-01-15 10:00+00');
	SELECT fluxcredits.credits_open_account('starter-1', 'Starter', '2026-01-31 08:00+00', 'Europe/Paris');
	SELECT fluxcredits.credits_open_account('team-1', 'Team', '2026-02-01 00:00+00', 'America/New_York');
	SELECT fluxcredits.credits_open_account('pro-1', 'Pro', '2026-01-01 00:00+00');

	-- Compression up to the changed Free limit: alerts at 50%, 90% and 100%.
	SELECT fluxcredits.credits_consume('free-1', 'compression', 25, at => '2026-02-01 00:00+00');
	-- AI with images (dedupe), keys, a top-up and a split charge, a refund.
	SELECT fluxcredits.credits_consume('starter-1', 'ai', image => 'img-' || i,
	                                   idempotency_key => 'key-' || i, at => '2026-02-10 00:00+00')
	  FROM generate_series(1, 150) i;
	SELECT fluxcredits.credits_consume('starter-1', 'ai', image => 'img-7', at => '2026-02-10 00:01+00');
	SELECT fluxcredits.credits_topup('starter-1', 40, 'pay-1', '2026-02-10 01:00+00');
	SELECT fluxcredits.credits_consume('starter-1', 'ai', 70, at => '2026-02-11 00:00+00');
	SELECT fluxcredits.credits_refund(id, '2026-02-12 00:00+00')
	  FROM fluxcredits.ledger WHERE idempotency_key = 'key-3';
	SELECT fluxcredits.credits_consume('starter-1', 'compression', 3, at => d)
	  FROM generate_series('2026-02-01'::timestamptz, '2026-06-01', '9 days') d;
	-- A new anchor.
	SELECT fluxcredits.credits_consume('team-1', 'ai', 1900, at => '2026-02-05 00:00+00');
	SELECT fluxcredits.credits_set_plan('team-1', 'Pro', '2026-02-20 00:00+00', '2026-02-20 00:00+00');
	SELECT fluxcredits.credits_consume('team-1', 'compression', 1000, at => '2026-02-21 00:00+00');
	-- Reservations: committed (in part), released, expired, and one still held.
	SELECT fluxcredits.credits_commit(fluxcredits.credits_reserve('pro-1', 'ai', 5, at => '2026-03-01 00:00+00'),
	                                  3, '2026-03-01 00:05+00');
	SELECT fluxcredits.credits_release(fluxcredits.credits_reserve('pro-1', 'ai', 2, at => '2026-03-01 01:00+00'),
	                                   '2026-03-01 01:01+00');
	SELECT fluxcredits.credits_reserve('pro-1', 'compression', 4, at => '2026-03-01 02:00+00');
	-- A charge that needs the top-up takes the exact path, which releases
	-- the expired hold.
	SELECT fluxcredits.credits_topup('pro-1', 10, 'pay-2', '2026-03-01 03:00+00');
	SELECT fluxcredits.credits_consume('pro-1', 'ai', 1000, at => '2026-03-02 00:00+00');
	SELECT fluxcredits.credits_reserve('pro-1', 'compression', 6, ttl => '100 years',
	                                   at => '2026-03-03 00:00+00');

	-- The app's own table, charging through the trigger.
	CREATE TABLE images (id bigserial PRIMARY KEY, account text NOT NULL, charge_id bigint);
	CREATE TRIGGER charge_compression AFTER INSERT ON images
	REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT
	EXECUTE FUNCTION fluxcredits.charge('compression', 'account', '', '', 'charge_id');
	CREATE TRIGGER charge_compression_id BEFORE INSERT ON images FOR EACH ROW
	EXECUTE FUNCTION fluxcredits.charge('compression', 'account', '', '', 'charge_id');
	INSERT INTO images (account) SELECT 'pro-1' FROM generate_series(1, 20);
	-- A partitioned one: attach() gives the partitions their trigger, and
	-- so does the event trigger to a partition made later.
	CREATE TABLE shots (id int, account text NOT NULL) PARTITION BY RANGE (id);
	CREATE TABLE shots_1 PARTITION OF shots FOR VALUES FROM (0) TO (1000);
	SELECT fluxcredits.attach('shots', 'compression', 'account');
	CREATE TABLE shots_2 PARTITION OF shots FOR VALUES FROM (1000) TO (2000);
	INSERT INTO shots VALUES (1, 'pro-1'), (1001, 'pro-1');

	SELECT fluxcredits.grant_app('regress_fc_dump_app');
});

is($node->safe_psql('src', 'SELECT count(*) FROM fluxcredits.credits_check()'),
	'0', 'source: credits_check() is empty');
is( $node->safe_psql(
		'src', q{SELECT count(*) FROM fluxcredits.reservations WHERE state = 'expired'}),
	'1',
	'source: a reservation expired');

# What must survive: every table's rows, hashed in order, and more.
my %tables = (
	plans => 'name',
	accounts => 'account',
	counters => 'account, period_start, kind, slot',
	ledger => 'id',
	reservations => 'id',
	alerts_sent => 'account, kind, period_start, threshold');
my %checks;
for my $t (sort keys %tables)
{
	$checks{"table $t"} =
	  "SELECT count(*) || ' rows ' || md5(coalesce(string_agg(t::text, E'\\n' ORDER BY $tables{$t}), ''))"
	  . " FROM fluxcredits.$t t";
}
$checks{'app table images'} =
  q{SELECT count(*) || ' rows ' || md5(string_agg(t::text, E'\n' ORDER BY id)) FROM images t};
$checks{'ledger id sequence'} =
  'SELECT last_value || \' \' || is_called FROM fluxcredits.ledger_id_seq';
$checks{'usage read-outs'} = q{
	SELECT string_agg(a.account || ' ' || fluxcredits.credits_usage_json(a.account, '2026-03-05 00:00+00')::text,
	                  E'\n' ORDER BY a.account)
	  FROM fluxcredits.accounts a};
$checks{'privileges'} = q{
	SELECT string_agg(o, E'\n' ORDER BY o) FROM (
	    SELECT format('%s %s', c.oid::regclass, c.relacl) AS o FROM pg_class c
	     WHERE c.relnamespace = 'fluxcredits'::regnamespace
	    UNION ALL
	    SELECT format('%s %s', p.oid::regprocedure, p.proacl) FROM pg_proc p
	     WHERE p.pronamespace = 'fluxcredits'::regnamespace
	    UNION ALL
	    SELECT format('%s %s', t.oid::regtype, t.typacl) FROM pg_type t
	     WHERE t.typnamespace = 'fluxcredits'::regnamespace
	    UNION ALL
	    SELECT format('schema %s', n.nspacl) FROM pg_namespace n WHERE n.nspname = 'fluxcredits') s};
$checks{'extension objects'} = q{
	SELECT count(*) FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
	 WHERE e.extname = 'fluxcredits' AND d.deptype = 'e'};
$checks{'charge trigger'} = q{
	SELECT tgname || ' ' || tgfoid::regprocedure FROM pg_trigger WHERE tgrelid = 'images'::regclass
	 ORDER BY tgname};
$checks{'partition triggers'} = q{
	SELECT string_agg(pg_get_triggerdef(oid), E'\n' ORDER BY tgrelid::regclass::text)
	  FROM pg_trigger WHERE tgrelid::regclass::text LIKE 'shots%'};

my %want;
$want{$_} = $node->safe_psql('src', "SET timezone = 'UTC'; $checks{$_}") for keys %checks;
like($want{'table plans'}, qr/^5 rows /, 'source: five plans');
like($want{'table ledger'}, qr/^[1-9]\d{2} rows /, 'source: hundreds of ledger rows');
like($want{'table reservations'}, qr/^4 rows /, 'source: four reservations');
like($want{$_}, qr/^[1-9]\d* rows /, "source: $_ has rows")
  for ('table accounts', 'table counters', 'table alerts_sent', 'app table images');

my $dir = PostgreSQL::Test::Utils::tempdir;
# A DBA's nightly backup job mails what pg_dump prints on stderr: nothing.
$node->command_checks_all(
	[ 'pg_dump', '-Fc', '-f', "$dir/src.dump", '-d', $node->connstr('src') ],
	0, [qr/\A\z/], [qr/\A\z/],
	'pg_dump, custom format');
$node->command_checks_all(
	[ 'pg_dump', '-Fp', '-f', "$dir/src.sql", '-d', $node->connstr('src') ],
	0, [qr/\A\z/], [qr/\A\z/],
	'pg_dump, plain format');
# And a database that was created at 1.5 (whose row types had an initial
# privilege recorded) and updated.
$node->safe_psql('postgres', 'CREATE DATABASE updated');
$node->safe_psql('updated',
	q{CREATE EXTENSION fluxcredits VERSION '1.5'; ALTER EXTENSION fluxcredits UPDATE});
$node->command_checks_all(
	[ 'pg_dump', '-Fc', '-f', "$dir/updated.dump", '-d', $node->connstr('updated') ],
	0, [qr/\A\z/], [qr/\A\z/],
	'pg_dump of a database updated from 1.5');

$node->safe_psql('postgres', 'CREATE DATABASE dst_custom');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst_custom'), "$dir/src.dump" ],
	'pg_restore into a new database');
$node->safe_psql('postgres', 'CREATE DATABASE dst_plain');
$node->command_ok(
	[
		'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('dst_plain'),
		'-f', "$dir/src.sql"
	],
	'psql restores the plain dump into a new database');

for my $db ('dst_custom', 'dst_plain')
{
	for my $check (sort keys %checks)
	{
		is($node->safe_psql($db, "SET timezone = 'UTC'; $checks{$check}"),
			$want{$check}, "$db: same $check");
	}
	is($node->safe_psql($db, 'SELECT count(*) FROM fluxcredits.credits_check()'),
		'0', "$db: credits_check() is empty");
	is( $node->safe_psql(
			$db, q{SELECT compression_limit FROM fluxcredits.plans WHERE name = 'Free'}),
		'25',
		"$db: the changed seeded plan is restored as changed");

	# It carries on where the source stopped.
	my $max = $node->safe_psql($db, 'SELECT max(id) FROM fluxcredits.ledger');
	my $id = $node->safe_psql($db,
		q{SELECT fluxcredits.credits_consume('pro-1', 'compression', at => '2026-03-04 00:00+00')});
	is($id, $max + 1, "$db: a new charge gets the next fresh id");
	is( $node->safe_psql(
			$db, q{SELECT fluxcredits.credits_consume('starter-1', 'ai', image => 'img-9',
			                                         idempotency_key => 'key-9', at => '2026-03-04 00:00+00')
			       = (SELECT id FROM fluxcredits.ledger WHERE idempotency_key = 'key-9')}),
		't',
		"$db: an idempotency key from before the dump replays");
	is( $node->safe_psql(
			$db, q{INSERT INTO images (account) VALUES ('pro-1') RETURNING charge_id}),
		$max + 2,
		"$db: the app's trigger charges");
	is( $node->safe_psql(
			$db, q{SET ROLE regress_fc_dump_app;
			       SELECT fluxcredits.credits_consume('free-1', 'compression', at => '2026-03-20 00:00+00')}),
		$max + 3,
		"$db: the app role charges");
	is( $node->safe_psql(
			$db, qq{INSERT INTO shots VALUES (2, 'pro-1'), (1002, 'pro-1');
			        INSERT INTO shots_2 VALUES (1003, 'pro-1');
			        SELECT count(*) FROM fluxcredits.ledger WHERE id > $max + 3}),
		'3',
		"$db: a partitioned table charges each row once, inserted through it or into a partition");
	is($node->safe_psql($db, 'SELECT count(*) FROM fluxcredits.credits_check()'),
		'0', "$db: credits_check() is still empty");
}

# A plan a DBA inserts with a seeded name is still refused once the seeded
# row was changed (the restore rule only takes the place of untouched seeds).
my ($ret, $stdout, $stderr) = $node->psql('dst_custom',
	q{INSERT INTO fluxcredits.plans VALUES ('Free', 30, 0)});
isnt($ret, 0, 'a duplicate plan is refused');
like($stderr, qr/duplicate key value violates unique constraint "plans_pkey"/, '... as a duplicate key');

$node->stop;
done_testing();
