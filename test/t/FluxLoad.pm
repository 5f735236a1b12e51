# t/FluxLoad.pm: a concurrent credit workload for the TAP tests.
#
# Sets up a few hundred accounts near their limits, runs pgbench clients that
# consume with idempotency keys (each charge is retried once with the same
# key, as an app retries after a timeout) and buy top-ups, and records every
# result a client saw in the table "acks", committed after the charge's own
# commit. check_state() then compares what clients saw with what survived.
package FluxLoad;

use strict;
use warnings;
use IPC::Run;
use Test::More;

our $ACCOUNTS = 300;

sub setup
{
	my ($node) = @_;
	$node->safe_psql('postgres', qq{
		CREATE EXTENSION fluxcredits;
		CREATE TABLE acks (key text PRIMARY KEY, account text, id1 bigint, id2 bigint);
		-- credits_consume, with "not enough credits" turned into -1 so that a
		-- refused charge is a result the client records, not an abort.
		CREATE FUNCTION t_consume(a text, k fluxcredits.credit_kind, n int, key text)
		RETURNS bigint LANGUAGE plpgsql AS \$\$
		BEGIN
			RETURN fluxcredits.credits_consume(a, k, n, NULL, key);
		EXCEPTION WHEN SQLSTATE 'FC001' THEN
			RETURN -1;
		END \$\$;
		-- A third of the accounts each on Free, Starter and Pro, near the limits.
		SELECT fluxcredits.credits_open_account('acct-' || i,
		           (ARRAY['Free', 'Starter', 'Pro'])[i % 3 + 1], now() - interval '40 days')
		  FROM generate_series(1, $ACCOUNTS) i;
		SELECT fluxcredits.credits_consume('acct-' || i, 'compression', 15)
		  FROM generate_series(1, $ACCOUNTS) i WHERE i % 3 = 0;
		SELECT fluxcredits.credits_consume('acct-' || i, 'ai', 190),
		       fluxcredits.credits_topup('acct-' || i, 20, 'seed-' || i)
		  FROM generate_series(1, $ACCOUNTS) i WHERE i % 3 = 1;
		SELECT fluxcredits.credits_consume('acct-' || i, 'ai', 990)
		  FROM generate_series(1, $ACCOUNTS) i WHERE i % 3 = 2;
	});

	my $dir = $node->basedir;
	write_file("$dir/consume.sql", q{
\set a random(1, } . $ACCOUNTS . q{)
\set n random(1, 3)
\set k random(0, 1)
\set r random(1, 2000000000)
SELECT t_consume('acct-' || :a, (CASE :k WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind, :n, 'r' || :round || '-' || :client_id || '-' || :r) AS id1 \gset
SELECT t_consume('acct-' || :a, (CASE :k WHEN 0 THEN 'compression' ELSE 'ai' END)::fluxcredits.credit_kind, :n, 'r' || :round || '-' || :client_id || '-' || :r) AS id2 \gset
INSERT INTO acks (key, account, id1, id2) VALUES ('r' || :round || '-' || :client_id || '-' || :r, 'acct-' || :a, :id1, :id2);
});
	write_file("$dir/topup.sql", q{
\set a random(1, } . $ACCOUNTS . q{)
\set r random(1, 2000000000)
SELECT fluxcredits.credits_topup('acct-' || :a, 2, 'pay-r' || :round || '-' || :client_id || '-' || :r);
});
	return;
}

sub write_file
{
	my ($path, $text) = @_;
	open(my $fh, '>', $path) or die "cannot write $path: $!";
	print $fh $text;
	close($fh);
	return;
}

# Start pgbench in the background: $clients clients for $seconds seconds.
sub start_load
{
	my ($node, $round, $clients, $seconds) = @_;
	my $dir = $node->basedir;
	my ($out, $err) = ('', '');
	my @cmd = (
		'pgbench', '-n', '-h', $node->host, '-p', $node->port,
		'-c', $clients, '-j', 2, '-T', $seconds, '-D', "round=$round",
		'-f', "$dir/consume.sql\@10", '-f', "$dir/topup.sql\@1", 'postgres');
	my $h = IPC::Run::start(\@cmd, '>', \$out, '2>', \$err);
	return { harness => $h, out => \$out, err => \$err };
}

sub finish_load
{
	my ($load) = @_;
	$load->{harness}->finish;
	return ${ $load->{out} } . ${ $load->{err} };
}

# Assertions about the state after a load (and maybe a crash).
sub check_state
{
	my ($node, $label) = @_;
	my $q = sub { $node->safe_psql('postgres', shift) };

	is($q->('SELECT count(*) FROM fluxcredits.credits_check()'), '0',
		"$label: credits_check() finds every counter and balance equal to the ledger");
	is($q->(q{
		SELECT count(*)
		  FROM fluxcredits.counters c
		  JOIN fluxcredits.accounts a USING (account)
		  JOIN fluxcredits.plans p ON p.name = a.plan
		 WHERE (c.kind = 'compression' AND c.used > p.compression_limit)
		    OR (c.kind = 'ai' AND c.used > p.ai_monthly)
		    OR c.used < 0 OR c.topup_used < 0}), '0',
		"$label: no counter is over its plan's limit or below zero");
	is($q->('SELECT count(*) FROM fluxcredits.accounts WHERE topup_balance < 0'), '0',
		"$label: no top-up balance is below zero");
	# id2 is what the client saw last for its key: the first call's charge
	# replayed, or (when the first call was refused, which leaves no key) the
	# retry's own charge or refusal.
	is($q->(q{
		SELECT count(*) FROM acks k
		 WHERE k.id2 > 0
		   AND NOT EXISTS (SELECT FROM fluxcredits.ledger l
		                    WHERE l.id = k.id2 AND l.idempotency_key = k.key
		                      AND l.account = k.account AND l.entry = 'consume')}), '0',
		"$label: every charge a client saw committed is in the ledger");
	is($q->('SELECT count(*) FROM acks WHERE id1 > 0 AND id2 IS DISTINCT FROM id1'), '0',
		"$label: every retry of a charge with the same key returned the first call's id");
	is($q->(q{
		SELECT count(*) FROM acks k
		 WHERE k.id2 = -1
		   AND EXISTS (SELECT FROM fluxcredits.ledger l
		                WHERE l.account = k.account AND l.idempotency_key = k.key)}), '0',
		"$label: no charge is in the ledger that a client saw refused");
	is($q->(q{
		SELECT count(*) FROM fluxcredits.ledger l
		 WHERE l.idempotency_key IS NOT NULL
		 GROUP BY l.account, l.idempotency_key HAVING count(*) > 1}), '',
		"$label: no key was charged twice");
	return;
}

1;
