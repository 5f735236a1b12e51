# t/001_concurrent_load.pl: real concurrent load.
#
# 8 pgbench clients hammer 300 accounts near their limits for a while, each
# charge retried once with its idempotency key, with top-ups arriving at the
# same time. Afterwards every counter equals its ledger sum, no account is
# over a limit or below a zero top-up balance, and every charge a client saw
# is in the ledger exactly once.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FluxLoad;

my $node = PostgreSQL::Test::Cluster->new('load');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\n");
$node->start;
FluxLoad::setup($node);

my $load = FluxLoad::start_load($node, 0, 8, 15);
my $output = FluxLoad::finish_load($load);
my ($failed) = $output =~ /^number of failed transactions: (\d+)/m;
is($failed, 0, 'pgbench: no transaction failed');
note($output);

my $acks = $node->safe_psql('postgres', 'SELECT count(*) FROM acks');
cmp_ok($acks, '>', 500, "clients recorded $acks charges");
my $refused = $node->safe_psql('postgres', 'SELECT count(*) FROM acks WHERE id1 = -1');
cmp_ok($refused, '>', 0, "$refused charges were refused at a limit (the limits were reached)");
my $split = $node->safe_psql('postgres',
	"SELECT count(*) FROM fluxcredits.ledger WHERE entry = 'consume' AND monthly > 0 AND topup < 0");
note("charges split between monthly and top-up: $split");

FluxLoad::check_state($node, 'after the load');

$node->stop;
done_testing();
