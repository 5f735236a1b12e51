# t/008_standby.pl: fluxcredits on a streaming standby.
#
# A primary with accounts, charges, a top-up, a reservation and an app table
# with the charge() trigger; a standby made with pg_basebackup -R (what
# PostgreSQL::Test::Cluster's backup and init_from_backup with streaming
# do), fed by streaming replication. On the standby every read (functions
# and views) answers what the primary answers, and every function that
# writes refuses with 25006 (read_only_sql_transaction), not with an
# internal error. Then the standby is promoted, and charges.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->start;
$primary->safe_psql('postgres', q{
	CREATE EXTENSION fluxcredits;
	SELECT fluxcredits.credits_open_account('acme', 'Starter', now() - interval '3 days');
	SELECT fluxcredits.credits_open_account('solo', 'Free', now() - interval '3 days');
	SELECT fluxcredits.credits_consume('solo', 'compression', 17);
	SELECT fluxcredits.credits_consume('acme', 'compression', 3);
	SELECT fluxcredits.credits_consume('acme', 'ai', image => 'hero.jpg');
	SELECT fluxcredits.credits_topup('acme', 50, 'pay-1');
	CREATE TABLE charges_made (what text PRIMARY KEY, id bigint);
	INSERT INTO charges_made
	VALUES ('charge', fluxcredits.credits_consume('acme', 'compression')),
	       ('reservation', fluxcredits.credits_reserve('acme', 'ai', 2, ttl => '1 day'));
	CREATE TABLE images (id serial PRIMARY KEY, account text NOT NULL);
	SELECT fluxcredits.attach('images', 'compression', 'account');
	INSERT INTO images (account) SELECT 'acme' FROM generate_series(1, 4);
});

$primary->backup('b');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'b', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'the standby is in recovery');

my $charge = $primary->safe_psql('postgres', q{SELECT id FROM charges_made WHERE what = 'charge'});
my $reservation = $primary->safe_psql('postgres', q{SELECT id FROM charges_made WHERE what = 'reservation'});

# Every read, on the standby as on the primary.
my %reads = (
	'credits_usage' => q{SELECT * FROM fluxcredits.credits_usage('acme')},
	'credits_usage_json' => q{SELECT fluxcredits.credits_usage_json('acme') - 'period_start' - 'period_end'},
	'billing_period' => q{SELECT fluxcredits.billing_period('2026-01-31 08:00+00', '2026-02-28 09:00+00', 'Europe/Paris')},
	'credits_check' => q{SELECT count(*) FROM fluxcredits.credits_check()},
	'view usage' => q{SELECT account, plan, compressor_used, ia_credits_used FROM fluxcredits.usage ORDER BY account},
	'view usage_history' => q{SELECT * FROM fluxcredits.usage_history ORDER BY 1, 2},
	'view near_limit' => q{SELECT count(*) FROM fluxcredits.near_limit},
	'near_limit()' => q{SELECT count(*) FROM fluxcredits.near_limit(0.01)},
	'view plan_summary' => q{SELECT * FROM fluxcredits.plan_summary ORDER BY 1},
	'view alerts' => q{SELECT account, kind, threshold, used, "limit" FROM fluxcredits.alerts ORDER BY 1, 2, 3},
	'ledger' => q{SELECT entry, kind, monthly, topup FROM fluxcredits.ledger ORDER BY id},
);
for my $what (sort keys %reads)
{
	my $want = $primary->safe_psql('postgres', $reads{$what});
	my ($ret, $got, $err) = $standby->psql('postgres', $reads{$what});
	is($ret, 0, "standby: $what runs") or diag($err);
	is($got, $want, "standby: $what answers what the primary answers");
}

# Every function that writes: 25006, with nothing else on the way.
my %writes = (
	'credits_open_account' => q{SELECT fluxcredits.credits_open_account('new', 'Free')},
	'credits_consume' => q{SELECT fluxcredits.credits_consume('acme', 'compression')},
	'credits_try_consume' => q{SELECT fluxcredits.credits_try_consume('acme', 'ai')},
	'credits_topup' => q{SELECT fluxcredits.credits_topup('acme', 5, 'pay-2')},
	'credits_refund' => qq{SELECT fluxcredits.credits_refund($charge)},
	'credits_set_plan' => q{SELECT fluxcredits.credits_set_plan('acme', 'Pro')},
	'credits_reserve' => q{SELECT fluxcredits.credits_reserve('acme', 'ai')},
	'credits_commit' => qq{SELECT fluxcredits.credits_commit($reservation, 1)},
	'credits_release' => qq{SELECT fluxcredits.credits_release($reservation)},
	'the charge trigger' => q{INSERT INTO images (account) VALUES ('acme')},
);
for my $what (sort keys %writes)
{
	my ($ret, $out, $err) = $standby->psql('postgres',
		"\\set VERBOSITY verbose\n$writes{$what}");
	isnt($ret, 0, "standby: $what is refused");
	like($err, qr/ERROR:  25006:/, "standby: $what is refused with 25006")
	  or diag($err);
}

# Promoted, it is a primary: it charges, and the books still balance.
$standby->promote;
$standby->poll_query_until('postgres', 'SELECT NOT pg_is_in_recovery()')
  or die 'the standby was not promoted';
is($standby->safe_psql('postgres',
		q{SELECT fluxcredits.credits_consume('acme', 'compression') > 0}),
	't', 'promoted: credits_consume charges');
is($standby->safe_psql('postgres',
		qq{SELECT fluxcredits.credits_commit($reservation, 1) > 0}),
	't', 'promoted: the reservation made on the old primary commits');
$standby->safe_psql('postgres', q{INSERT INTO images (account) VALUES ('acme'), ('acme')});
is($standby->safe_psql('postgres', q{SELECT compressor_used FROM fluxcredits.credits_usage('acme')}),
	'11', 'promoted: 3 + 1 + 4 before, then 1 + 2: 11 compression credits used');
is($standby->safe_psql('postgres', 'SELECT count(*) FROM fluxcredits.credits_check()'),
	'0', 'promoted: credits_check() is empty');

$standby->stop;
$primary->stop;
done_testing();
