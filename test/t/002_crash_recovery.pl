# t/002_crash_recovery.pl: crash safety.
#
# Under the concurrent load of t/FluxLoad.pm, the server is stopped in
# immediate mode (what a power cut is to PostgreSQL) at five different
# moments, each after the clients have recorded a different number of
# charges, then restarted. Each time: credits_check() is empty, every charge
# a client saw committed survived, and none that a client saw refused exists.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use FluxLoad;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', "max_connections = 40\nrestart_after_crash = off\n");
$node->start;
FluxLoad::setup($node);

my $rounds = 5;
for my $round (1 .. $rounds)
{
	my $before = $node->safe_psql('postgres', 'SELECT count(*) FROM acks');
	# Kill after this round's clients have recorded 40, 80, ... more charges.
	my $target = $before + 40 * $round;
	my $load = FluxLoad::start_load($node, $round, 8, 60);
	my $seen = $before;
	for (my $i = 0; $i < 6000 && $seen < $target; $i++)
	{
		usleep(10_000);
		$seen = $node->safe_psql('postgres', 'SELECT count(*) FROM acks');
	}
	cmp_ok($seen, '>=', $target, "round $round: load reached $seen acknowledged charges");
	$node->stop('immediate');
	FluxLoad::finish_load($load);
	$node->start;
	FluxLoad::check_state($node, "round $round, after the crash");
}

$node->stop;
done_testing();
