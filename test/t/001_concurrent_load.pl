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
use IPC::Run;
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

# One busy account: 16 clients charging the same account at once, unlimited
# compression and a limited AI allocation, while its counter grows slots.
# No deadlock, no failed transaction, the AI limit holds.
$node->safe_psql('postgres', q{
	INSERT INTO fluxcredits.plans VALUES ('Hot', NULL, 3000);
	SELECT fluxcredits.credits_open_account('hot', 'Hot', now() - interval '3 days');
});
FluxLoad::write_file($node->basedir . '/hot.sql', q{
\set k random(0, 1)
SELECT fluxcredits.credits_try_consume('hot', (CASE :k WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind);
});
my ($out, $err) = ('', '');
IPC::Run::run([ 'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', 16, '-j', 2,
		'-T', 8, '-f', $node->basedir . '/hot.sql', 'postgres' ], '>', \$out, '2>', \$err);
my ($hot_failed) = $out =~ /^number of failed transactions: (\d+)/m;
my ($hot_tx) = $out =~ /^number of transactions actually processed: (\d+)/m;
is($hot_failed, 0, "one account, 16 clients: $hot_tx transactions, none failed (no deadlock)")
  or diag("pgbench:\n$out$err\nserver log:\n",
	join('', grep { /deadlock|^\tProcess \d+/ } split /^/m, slurp_file($node->logfile)));
is($node->safe_psql('postgres', 'SELECT count(*) FROM fluxcredits.credits_check()'), '0',
	'one account, 16 clients: counters equal the ledger');
my ($ai_used, $slots) = split /\|/, $node->safe_psql('postgres', q{
	SELECT (SELECT ia_credits_used FROM fluxcredits.credits_usage('hot')),
	       (SELECT count(*) FROM fluxcredits.counters WHERE account = 'hot' AND kind = 'compression')});
cmp_ok($ai_used, '<=', 3000, "one account, 16 clients: $ai_used AI credits used of 3000");
cmp_ok($slots, '>', 1, "one account, 16 clients: its compression counter grew to $slots slots");

# One account charged several times per transaction (as the charge() trigger
# does on a multi-row INSERT) by one client, while 15 clients charge it one
# call at a time; both kinds limited (and soon used up), so charges keep
# taking the exact path.
# The multi-charge transaction holds its first charge's slot while a later
# charge needs the account's lock: no deadlock, no failed transaction.
$node->safe_psql('postgres', q{
	INSERT INTO fluxcredits.plans VALUES ('Busy', 5000, 1000);
	SELECT fluxcredits.credits_open_account('busy', 'Busy', now() - interval '3 days');
});
FluxLoad::write_file($node->basedir . '/single.sql', q{
\set k random(0, 1)
SELECT fluxcredits.credits_try_consume('busy', (CASE :k WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind);
});
FluxLoad::write_file($node->basedir . '/multi.sql', q{
\set k1 random(0, 1)
\set k2 random(0, 1)
\set n random(1, 20)
BEGIN;
SELECT fluxcredits.credits_try_consume('busy', (CASE :k1 WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind);
SELECT fluxcredits.credits_try_consume('busy', (CASE :k2 WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind, :n);
SELECT fluxcredits.credits_try_consume('busy', 'ai');
COMMIT;
});
my ($mout, $merr, $sout, $serr) = ('', '', '', '');
my $multi = IPC::Run::start([ 'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', 1,
		'-T', 8, '-f', $node->basedir . '/multi.sql', 'postgres' ], '>', \$mout, '2>', \$merr);
IPC::Run::run([ 'pgbench', '-n', '-h', $node->host, '-p', $node->port, '-c', 15, '-j', 2,
		'-T', 8, '-f', $node->basedir . '/single.sql', 'postgres' ], '>', \$sout, '2>', \$serr);
$multi->finish;
my ($m_failed) = $mout =~ /^number of failed transactions: (\d+)/m;
my ($m_tx) = $mout =~ /^number of transactions actually processed: (\d+)/m;
my ($s_failed) = $sout =~ /^number of failed transactions: (\d+)/m;
my ($s_tx) = $sout =~ /^number of transactions actually processed: (\d+)/m;
ok(defined $m_failed && defined $s_failed && $m_failed == 0 && $s_failed == 0 && $m_tx > 0,
	"three charges per transaction (" . ($m_tx // '?') . " transactions) among 15 single-charge clients ("
	  . ($s_tx // '?') . "): none failed (no deadlock)")
  or diag("pgbench (multi):\n$mout$merr\npgbench (single):\n$sout$serr\nserver log:\n",
	join('', grep { /deadlock|^\tProcess \d+/ } split /^/m, slurp_file($node->logfile)));
is($node->safe_psql('postgres', 'SELECT count(*) FROM fluxcredits.credits_check()'), '0',
	'three charges per transaction: counters equal the ledger');
my ($busy_ai, $busy_comp) = split /\|/, $node->safe_psql('postgres', q{
	SELECT ia_credits_used, compressor_used FROM fluxcredits.credits_usage('busy')});
ok($busy_ai <= 1000 && $busy_comp <= 5000,
	"three charges per transaction: $busy_ai AI credits used of 1000, $busy_comp compression of 5000 (no limit passed)");

$node->stop;
done_testing();
