# t/009_pgbouncer.pl: two clients behind pgbouncer in transaction pooling.
#
# pgbouncer (Debian's package, which `make test` installs) pools one
# server connection for every client, so whatever one client SETs stays on
# the connection the next client's transactions run on. Client A sets every
# session setting it can that could touch a charge (the alert thresholds,
# the search path, the time zone, the date style, float and bytea output);
# client B sets nothing, charges through credits_consume and through the
# charge() trigger, and gets exactly the charges, accounts and alerts (80%
# and 100%, the plan's) it would get on a connection of its own.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;

my $pgbouncer = '/usr/sbin/pgbouncer';
plan skip_all => "pgbouncer is not installed ($pgbouncer): make test installs it"
  unless -x $pgbouncer;

my $node = PostgreSQL::Test::Cluster->new('pooled');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fluxcredits;
	CREATE ROLE app LOGIN;
	SELECT fluxcredits.grant_app('app');
	SELECT fluxcredits.credits_open_account('7', 'Starter', now() - interval '1 day');
	CREATE TABLE uploads (id serial PRIMARY KEY, account integer NOT NULL);
	SELECT fluxcredits.attach('uploads', 'compression', 'account');
	GRANT INSERT ON uploads TO app;
	GRANT USAGE ON SEQUENCE uploads_id_seq TO app;
	-- A function a hostile search path would put before the real ones.
	CREATE FUNCTION public.now() RETURNS timestamptz LANGUAGE sql
	    AS $$ SELECT '2000-01-01'::timestamptz $$;
	GRANT EXECUTE ON FUNCTION public.now() TO app;
});

# pgbouncer, transaction pooling, one server connection for all clients.
my $dir = PostgreSQL::Test::Utils::tempdir;
my $port = PostgreSQL::Test::Cluster::get_free_port();
my $host = $node->host;
my $node_port = $node->port;
PostgreSQL::Test::Utils::append_to_file("$dir/userlist.txt", qq{"app" ""\n});
PostgreSQL::Test::Utils::append_to_file("$dir/pgbouncer.ini", <<"EOF");
[databases]
postgres = host=$host port=$node_port dbname=postgres
[pgbouncer]
listen_addr =
unix_socket_dir = $dir
listen_port = $port
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
default_pool_size = 1
max_client_conn = 20
server_reset_query =
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
system($pgbouncer, '-d', '-q', "$dir/pgbouncer.ini") == 0
  or BAIL_OUT("pgbouncer did not start: see $dir/pgbouncer.log");
END
{
	# never leave it running, whatever happened
	if (defined $dir && -f "$dir/pgbouncer.pid")
	{
		my $pid = PostgreSQL::Test::Utils::slurp_file("$dir/pgbouncer.pid");
		chomp $pid;
		kill 'TERM', $pid if $pid;
	}
}

# One statement of a client through pgbouncer (each its own transaction).
sub client
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run [ 'psql', '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
		'-h', $dir, '-p', $port, '-U', 'app', '-d', 'postgres', '-c', $sql ],
	  '>', \$out, '2>', \$err;
	chomp $out;
	return wantarray ? ($out, $err) : $out;
}

for my $try (1 .. 50)
{
	last if client('SELECT 1') eq '1';
	sleep 1;
}
is(client('SELECT 1'), '1', 'a client connects through pgbouncer');

# Client A sets what it can; SET (not SET LOCAL) stays on the server
# connection after its transaction.
my @settings = (
	q{SET fluxcredits.alert_thresholds = '5,10'},
	q{SET search_path = public, pg_catalog},
	q{SET TimeZone = 'Asia/Kathmandu'},
	q{SET DateStyle = 'SQL, DMY'},
	q{SET IntervalStyle = 'sql_standard'},
	q{SET extra_float_digits = -15},
	q{SET bytea_output = 'escape'},
);
for my $set (@settings)
{
	my ($out, $err) = client($set);
	is($err, '', "client A: $set");
}
# The clock's bound is a superuser's setting. Before the connection has
# loaded the library, SET only makes a placeholder, which PostgreSQL does
# not apply to a superuser's setting when the library loads (a warning);
# once loaded, SET is refused.
my ($out, $err) = client(q{SET fluxcredits.max_clock_skew = -1});
($out, $err) = client(q{SELECT fluxcredits.credits_consume('7', 'compression', at => '2200-01-01 00:00+00')});
like($err, qr/at is outside the times account "7" allows/,
	'client A: a charge dated 2200 is refused, whatever it SET before the library loaded');
($out, $err) = client(q{SET fluxcredits.max_clock_skew = -1});
like($err, qr/permission denied to set parameter "fluxcredits.max_clock_skew"/,
	'client A: SET of the clock\'s bound is refused once the library is loaded');

# The settings are on the connection client B gets: the test means something.
# (pgbouncer gives each client back its own TimeZone, DateStyle and a few
# other reported parameters; the rest, the search path and fluxcredits'
# settings among them, stay from client A.)
is(client('SHOW search_path'), 'public, pg_catalog', 'client B runs with client A\'s search path');
is(client('SHOW fluxcredits.alert_thresholds'), '5,10', '... and client A\'s alert thresholds setting');

# Client B: 150 of Starter's 200 compression credits (75%), then 10 (80%),
# then 40 rows through the trigger (100%), account 7 as an integer column.
is(client(q{SELECT fluxcredits.credits_consume('7', 'compression', 150) > 0}), 't',
	'client B: 150 credits');
is(client(q{SELECT fluxcredits.credits_consume('7', 'compression', 10) > 0}), 't',
	'client B: 10 more (80%)');
my (undef, $ins_err) = client(q{INSERT INTO uploads (account) SELECT 7 FROM generate_series(1, 40)});
is($ins_err, '', 'client B: 40 rows through the trigger (100%)');
my (undef, $over_err) = client(q{INSERT INTO uploads (account) VALUES (7)});
like($over_err, qr/not enough compression credits for account "7"/,
	'client B: the 201st is refused, for account 7');

# What B got, read on a connection of its own: the charges, on account 7,
# dated now (not the hostile now()); the plan's alerts, 80% and 100% only.
is($node->safe_psql('postgres', q{SELECT compressor_used FROM fluxcredits.credits_usage('7')}),
	'200', 'account 7 has 200 compression credits used');
is($node->safe_psql('postgres',
		q{SELECT string_agg(DISTINCT account, ',') || ' ' || count(*) || ' ' || bool_and(at > now() - interval '1 hour')
		    FROM fluxcredits.ledger WHERE entry = 'consume'}),
	'7 42 true', 'ledger: 42 charges (2 calls, 40 rows), all of account 7, dated now');
is($node->safe_psql('postgres',
		q{SELECT string_agg(threshold::text, ',' ORDER BY threshold) FROM fluxcredits.alerts
		   WHERE account = '7' AND kind = 'compression'}),
	'80,100', 'alerts: 80% and 100% (the plan\'s), not client A\'s 5% and 10%');
is(client(q{SELECT string_agg(threshold::text, ',' ORDER BY threshold) FROM fluxcredits.alerts WHERE account = '7'}),
	'80,100', 'client B reads its alerts from the view through the pooler');
is($node->safe_psql('postgres', 'SELECT count(*) FROM fluxcredits.credits_check()'),
	'0', 'credits_check() is empty');

$node->stop;
done_testing();
