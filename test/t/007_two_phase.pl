# t/007_two_phase.pl: charges in two-phase transactions.
#
# A server with max_prepared_transactions, as an XA transaction manager
# needs. One prepared transaction charges with every kind of call (consume,
# reserve, the charge trigger) and crosses both alert thresholds of both
# kinds; the server restarts with it prepared (immediate stop: a crash);
# COMMIT PREPARED then makes the charges and their alerts visible together,
# the alerts in fluxcredits.alerts with the figures of the charges that
# raised them. A prepared transaction rolled back leaves neither.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('two_phase');
$node->init;
$node->append_conf('postgresql.conf', 'max_prepared_transactions = 5');
$node->start;
$node->safe_psql('postgres', q{
	CREATE EXTENSION fluxcredits;
	SELECT fluxcredits.credits_open_account('xa', 'Starter', now() - interval '1 day');
	SELECT fluxcredits.credits_open_account('xb', 'Free', now() - interval '1 day');
	CREATE TABLE images (id serial PRIMARY KEY, account text NOT NULL);
	SELECT fluxcredits.attach('images', 'compression', 'account');
});

# 1. Both thresholds of both kinds, crossed in one prepared transaction.
my ($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT fluxcredits.credits_consume('xa', 'ai', 150);       -- 75%
	SELECT fluxcredits.credits_consume('xa', 'ai', 20);        -- 85%: 80
	SELECT fluxcredits.credits_reserve('xa', 'ai', 30);        -- 100%: 100
	SELECT fluxcredits.credits_consume('xa', 'compression', 150);
	INSERT INTO images (account) SELECT 'xa' FROM generate_series(1, 50);  -- 200: 80, 100
	PREPARE TRANSACTION 'fc_xa_1';
});
is($ret, 0, 'a transaction whose charges cross both thresholds prepares') or diag($err);
is($node->safe_psql('postgres', q{SELECT count(*) FROM fluxcredits.alerts}),
	'0', 'prepared: no alert is visible yet');
is($node->safe_psql('postgres', q{SELECT compressor_used FROM fluxcredits.credits_usage('xa')}),
	'0', 'prepared: no charge is visible yet');

# A crash with the transaction prepared: it survives, alerts included.
$node->stop('immediate');
$node->start;
is($node->safe_psql('postgres', q{SELECT gid FROM pg_prepared_xacts}),
	'fc_xa_1', 'the prepared transaction survived the crash');
$node->safe_psql('postgres', q{COMMIT PREPARED 'fc_xa_1'});
is($node->safe_psql('postgres', q{
	SELECT string_agg(format('%s %s%%: %s of %s', kind, threshold, used, "limit"), ', '
	                  ORDER BY kind, threshold)
	  FROM fluxcredits.alerts WHERE account = 'xa'}),
	'compression 80%: 200 of 200, compression 100%: 200 of 200, ai 80%: 170 of 200, ai 100%: 200 of 200',
	'committed: the four alerts are in fluxcredits.alerts, each with the usage that raised it');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM fluxcredits.alerts a, fluxcredits.credits_usage('xa') u
	 WHERE a.account = 'xa' AND (a.period_start, a.period_end) IS DISTINCT FROM
	       (u.period_start, u.period_end)}),
	'0', 'committed: each alert names the current billing period');
is($node->safe_psql('postgres', q{
	SELECT compressor_used || ' ' || ia_credits_used || ' ' || ia_credits_reserved
	  FROM fluxcredits.credits_usage('xa')}),
	'200 200 30', 'committed: 200 compressions used; 200 AI credits used, 30 of them reserved');

# 2. ROLLBACK PREPARED: neither charges nor alerts.
($ret, $out, $err) = $node->psql('postgres', q{
	BEGIN;
	SELECT fluxcredits.credits_consume('xb', 'compression', 20);
	PREPARE TRANSACTION 'fc_xa_2';
});
is($ret, 0, 'a charge to 100% of a Free account prepares') or diag($err);
$node->safe_psql('postgres', q{ROLLBACK PREPARED 'fc_xa_2'});
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM fluxcredits.alerts WHERE account = 'xb'}),
	'0', 'rolled back: no alert');
is($node->safe_psql('postgres', q{
	SELECT fluxcredits.credits_consume('xb', 'compression', 20) > 0}),
	't', 'rolled back: the 20 credits are still there');
is($node->safe_psql('postgres', q{
	SELECT string_agg(threshold::text, ',' ORDER BY threshold) FROM fluxcredits.alerts WHERE account = 'xb'}),
	'80,100', 'the same charge, committed: its alerts');

is($node->safe_psql('postgres', 'SELECT count(*) FROM fluxcredits.credits_check()'),
	'0', 'credits_check() is empty');
$node->stop;
done_testing();
