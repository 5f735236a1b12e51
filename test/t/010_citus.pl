# t/010_citus.pl: fluxcredits distributed on Citus (issue 21).
#
# A coordinator and two workers on loopback (t/CitusCluster.pm).
# fluxcredits.distribute() (twice: the second call changes nothing), an app
# table distributed by account, colocated with fluxcredits.accounts, with the
# charge trigger (attach()). 1,000 accounts over the shards: 999 on Free (20
# compression credits a month) and one on Pro (unlimited compression).
# 16 clients on the coordinator send every Free account 24 one-credit
# charges (half credits_consume, half INSERTs into the app table), in an
# order shuffled over the clients, and each client sends the Pro account 40;
# while they run, the shard group holding the Pro account moves to the
# other worker (citus_move_shard_placement, force_logical). A charge that
# reaches the old node after the move fails with 40001, which the clients
# retry, as a client of a Citus cluster does (up to 3 times).
# Afterwards: exactly 20 charges of every Free account went through and
# exactly 4 were refused with FC001; the Pro account got every charge;
# credits_usage, the ledger, credits_check(), the views, the alerts from the
# coordinator agree; ids are unique over the nodes; an id-only refund from
# the coordinator reaches the right account; a worker is an entry node as
# good as the coordinator; and no row is in any shell table (the extension's
# own tables, which on a Citus node hold nothing once distributed: a write
# there is invisible to Citus and lost) of any node.
use strict;
use warnings;
use FindBin;
use lib $FindBin::RealBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use List::Util qw(shuffle sum);
use CitusCluster;

my ($have_citus, $why) = CitusCluster::available();
plan skip_all => $why unless $have_citus;

my $FREE = 999;          # Free accounts f1 .. f999, and one Pro account: pro
my $PER_FREE = 24;       # charges sent to each Free account (20 fit)
my $CLIENTS = 16;
my $PER_CLIENT_PRO = 40; # charges each client sends the Pro account
my @TABLES = qw(accounts alerts_sent counters ledger plans reservations);

my $cluster = CitusCluster->new(prefix => 'citus');
my $coord = $cluster->coordinator;
my @workers = $cluster->workers;
my $dir = $coord->basedir;
my $q = sub { $coord->safe_psql('postgres', shift) };
# For the read-outs: the result, or the error as the result (the assertion
# fails, naming it, and the test goes on to the next one).
my $try = sub {
	my ($sql, $node) = @_;
	my ($rc, $out, $err) = ($node // $coord)->psql('postgres', $sql);
	return $rc == 0 ? $out : "ERROR: $err";
};

# ---------------------------------------------------------------------------
# The cluster and the extension.
# ---------------------------------------------------------------------------
is($q->("SELECT string_agg(nodeport::text || ':' || noderole || ':' || shouldhaveshards, ',' ORDER BY groupid)
           FROM pg_dist_node"),
	join(',', $coord->port . ':primary:false', map { $_->port . ':primary:true' } @workers),
	'Citus: the coordinator (no shards) and two workers are in the metadata');

$q->('CREATE EXTENSION fluxcredits');
my $version = $q->("SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits'");
foreach my $w (@workers)
{
	is($w->safe_psql('postgres', "SELECT extversion FROM pg_extension WHERE extname = 'fluxcredits'"),
		$version, "CREATE EXTENSION fluxcredits on the coordinator reaches the worker on port " . $w->port);
}

my ($rc, $out, $err) = $coord->psql('postgres', 'SELECT fluxcredits.distribute()');
is($rc, 0, "distribute() on the coordinator: $out") or diag($err);
my $dist_sql = q{
	SELECT string_agg(format('%s:%s:%s:%s', logicalrelid, partmethod, repmodel,
	                         CASE WHEN colocationid = (SELECT colocationid FROM pg_dist_partition
	                                                    WHERE logicalrelid = 'fluxcredits.accounts'::regclass)
	                              THEN 'with-accounts' ELSE 'other' END), ',' ORDER BY logicalrelid::text)
	  FROM pg_dist_partition WHERE logicalrelid::text LIKE 'fluxcredits.%'};
my $dist = $q->($dist_sql);
is($dist, join(',',
		'fluxcredits.accounts:h:s:with-accounts', 'fluxcredits.alerts_sent:h:s:with-accounts',
		'fluxcredits.counters:h:s:with-accounts', 'fluxcredits.ledger:h:s:with-accounts',
		'fluxcredits.plans:n:t:other', 'fluxcredits.reservations:h:s:with-accounts'),
	'distribute(): the account tables hash-distributed and colocated, plans a reference table');
my $shards_before = $q->('SELECT count(*) FROM pg_dist_shard');
($rc, $out, $err) = $coord->psql('postgres', 'SELECT fluxcredits.distribute()');
is($rc, 0, "distribute() a second time: $out") or diag($err);
ok($dist ne '' && $q->($dist_sql) . ' ' . $q->('SELECT count(*) FROM pg_dist_shard') eq "$dist $shards_before",
	'distribute() a second time changes no table and no shard');

# The app's table: distributed by account, colocated, the charge trigger on it.
($rc, $out, $err) = $coord->psql('postgres', q{
	CREATE TABLE public.images (id bigserial, account text NOT NULL, name text,
	                            PRIMARY KEY (account, id));
	SELECT create_distributed_table('public.images', 'account', colocate_with => 'fluxcredits.accounts');
	SET citus.enable_unsafe_triggers = on;
	SELECT fluxcredits.attach('public.images', 'compression', 'account');
});
is($rc, 0, 'the app table images: distributed, colocated, attach() with citus.enable_unsafe_triggers') or diag($err);
is($try->(q{SELECT count(*) FROM pg_dist_partition
           WHERE logicalrelid = 'public.images'::regclass
             AND colocationid = (SELECT colocationid FROM pg_dist_partition
                                  WHERE logicalrelid = 'fluxcredits.accounts'::regclass)}),
	'1', 'the app table images is colocated with fluxcredits.accounts');

# 1,000 accounts, each opened by its own statement (delegated to its node).
append_to_file("$dir/open.sql", join('',
	(map { "SELECT fluxcredits.credits_open_account('f$_', 'Free', now() - interval '3 days');\n" } 1 .. $FREE),
	"SELECT fluxcredits.credits_open_account('pro', 'Pro', now() - interval '3 days');\n"));
($rc, $out, $err) = $coord->psql('postgres', '', extra_params => [ '-f', "$dir/open.sql" ]);
is($rc, 0, 'credits_open_account of 1,000 accounts from the coordinator') or diag($err);
my $per_worker = $try->(q{
	SELECT string_agg(n, ',' ORDER BY n) FROM (
	SELECT count(*)::text AS n
	  FROM fluxcredits.accounts a
	  JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('fluxcredits.accounts', a.account)
	 GROUP BY p.groupid) x});
like($per_worker, qr/^\d+,\d+$/, "the 1,000 accounts are on both workers ($per_worker)");
is($try->('SELECT count(*) FROM fluxcredits.accounts'), '1000', 'the coordinator sees 1,000 accounts');

# A charge through the coordinator, before the load: when it fails, the
# load and the read-outs after it would only repeat its error thousands of
# times (a refused delegated call costs a reconnection), so they are left
# out, failed, and the shell tables are still checked.
my ($pre_rc, $pre_out, $pre_err) = $coord->psql('postgres', "SELECT fluxcredits.credits_consume('pro', 'compression')");
my $charges_work = ok($dist ne '' && $pre_rc == 0 && $pre_out =~ /^\d+$/,
	'a charge through the coordinator (credits_consume of the Pro account) returns its id')
  or diag($pre_err);
my @pre_ids = $charges_work ? ($pre_out) : ();
my $PRO = $CLIENTS * $PER_CLIENT_PRO + @pre_ids;    # the Pro account's charges before the workers'

if ($charges_work)
{
	my ($ids, $imgs) = load();
	readouts_after_load($ids, $imgs);
	refunds();
	worker_entry();
}
else
{
	fail('the load, the read-outs, the refunds and the charges through a worker: not run, the charge above failed'
		. ($dist eq '' ? ' (and the tables are not distributed)' : ''));
}
shell_tables();

$cluster->stop;
done_testing();

# The credits_usage of an account, by a plain call (which Citus delegates to
# the account's node): "plan,compressor_used,compressor_limit,...", or the error.
sub usage_of
{
	my ($acct, $node) = @_;
	my $u = $try->("SELECT fluxcredits.credits_usage('$acct')", $node);
	$u =~ s/^\((.*)\)$/$1/;
	return $u;
}

sub first_lines
{
	my @l = @_;
	return join("\n", @l[ 0 .. ($#l < 9 ? $#l : 9) ]);
}

# ---------------------------------------------------------------------------
# The load: 16 clients on the coordinator, a shard move in the middle.
# ---------------------------------------------------------------------------
sub load
{
	srand(21);
	my @work;
	foreach my $i (1 .. $FREE)
	{
		foreach my $k (1 .. $PER_FREE)
		{
			push @work, $k % 2
			  ? "SELECT fluxcredits.credits_consume('f$i', 'compression');"
			  : "INSERT INTO public.images (account, name) VALUES ('f$i', 'img-$k') RETURNING 'img', account;";
		}
	}
	@work = shuffle(@work);
	my @scripts = map { [] } 1 .. $CLIENTS;
	push @{ $scripts[ $_ % $CLIENTS ] }, $work[$_] foreach 0 .. $#work;
	foreach my $s (@scripts)
	{
		# the Pro account's charges at random places in each client's script
		foreach my $k (1 .. $PER_CLIENT_PRO)
		{
			my $stmt = $k % 2
			  ? "SELECT fluxcredits.credits_consume('pro', 'compression');"
			  : "INSERT INTO public.images (account, name) VALUES ('pro', 'pro-$k') RETURNING 'img', account;";
			splice(@$s, int(rand(@$s + 1)), 0, $stmt);
		}
	}
	my $statements = sum(map { scalar @$_ } @scripts);

	# The shard group of the Pro account (the busiest), with ~30 Free accounts.
	my ($move_shard, $from_port) = $cluster->shard_of('fluxcredits.accounts', 'pro');
	my ($to) = grep { $_->port != $from_port } @workers;
	my $moved_accounts = $q->("SELECT string_agg(quote_literal(account), ',') FROM fluxcredits.accounts
	                            WHERE get_shard_id_for_distribution_column('fluxcredits.accounts', account) = $move_shard");

	my $clients = CitusCluster::start_clients($coord, $dir, @scripts);
	# The move starts once an eighth of the load is done (by what client 0
	# wrote), so that it ends well before the load does.
	my $running = CitusCluster::wait_for_progress($clients, int(@{ $scripts[0] } / 8));
	ok($running, 'the load runs when the shard move starts');
	my ($rc, $out, $err) = $coord->psql('postgres', qq{
		SELECT citus_move_shard_placement($move_shard, '127.0.0.1', $from_port, '127.0.0.1', ${\ $to->port },
		                                  shard_transfer_mode => 'force_logical');
		SELECT clock_timestamp();});
	my ($moved_at) = $out =~ /([^\n]*)\z/;
	is($rc, 0, "citus_move_shard_placement of shard $move_shard (the Pro account's) from $from_port to "
		. $to->port . ' (force_logical) during the load') or diag($err);
	my $still = CitusCluster::any_running($clients);
	ok($still > 0, "the load still runs when the move has ended ($still of $CLIENTS clients)");
	my ($lines, $errors, $rcs) = CitusCluster::finish_clients($clients);
	is(join(',', @$rcs), join(',', (0) x $CLIENTS), 'every client ran its script to the end');

	is($try->("SELECT string_agg(DISTINCT n.nodeport::text, ',')
	             FROM pg_dist_placement p JOIN pg_dist_node n USING (groupid)
	            WHERE p.shardid IN (SELECT shardid FROM pg_dist_shard s JOIN pg_dist_partition d USING (logicalrelid)
	                                 WHERE d.colocationid = (SELECT colocationid FROM pg_dist_partition
	                                                          WHERE logicalrelid = 'fluxcredits.accounts'::regclass)
	                                   AND s.shardminvalue = (SELECT shardminvalue FROM pg_dist_shard WHERE shardid = $move_shard))"),
		$to->port, 'the whole shard group (accounts, counters, ledger, reservations, alerts_sent, images) moved');
	cmp_ok($try->("SELECT count(*) FROM fluxcredits.ledger WHERE account IN ($moved_accounts) AND at > '$moved_at'"),
		'>', 0, 'the moved accounts were charged after the move');
	is($try->("SELECT count(*) FROM fluxcredits.ledger WHERE account IN ($moved_accounts) AND entry = 'consume'"),
		$try->("SELECT 20 * count(*) FILTER (WHERE plan = 'Free') + $PRO FROM fluxcredits.accounts WHERE account IN ($moved_accounts)"),
		'the moved accounts have every charge: 20 per Free account, every one of the Pro account\'s');

	# What the clients saw.
	my @ids = grep { /^\d+$/ } @$lines;
	my @imgs = grep { /^img\|/ } @$lines;
	my @other = grep { !/^\d+$/ && !/^img\|/ } @$lines;
	my $refusal = qr/^psql:.*ERROR:  FC001: not enough compression credits for account "(f\d+)"/;
	my @refused = grep { /$refusal/ } @$errors;
	my $moved = qr/^psql:.*ERROR:  40001: account "\S+" is not on this node/;
	my @retried = grep { /$moved/ } @$errors;
	my @failed = grep { /^psql:.*ERROR:/ && !/$refusal/ && !/$moved/ } @$errors;
	is(scalar @failed, 0, 'no statement failed other than by FC001 (not enough credits) on a Free account, '
		. 'or by 40001 (retried: the account\'s shard moved meanwhile)')
	  or diag(first_lines(@failed));
	is(scalar @other, 0, 'every result line is a charge id or an image row') or diag(first_lines(@other));
	is(scalar @refused, ($PER_FREE - 20) * $FREE,
		'FC001 refused ' . ($PER_FREE - 20) * $FREE . ' charges');
	my %refused_by;
	$refused_by{$_}++ foreach map { /$refusal/ } @refused;
	is(scalar(grep { ($refused_by{"f$_"} // 0) != $PER_FREE - 20 } 1 .. $FREE), 0,
		'each Free account: exactly 4 of its 24 charges refused');
	is(scalar @ids + scalar @imgs, 20 * $FREE + $CLIENTS * $PER_CLIENT_PRO,
		'charges that went through: 20 per Free account and every one of the Pro account\'s');
	is(scalar(grep { $_ eq 'img|pro' } @imgs), $CLIENTS * $PER_CLIENT_PRO / 2,
		'every INSERT for the Pro account went through');
	note("load: $statements statements, " . scalar(@ids) . ' charges by credits_consume, '
		. scalar(@imgs) . ' by INSERT, ' . scalar(@refused) . ' refused, ' . scalar(@retried)
		. ' retried after 40001');
	return ([ @pre_ids, @ids ], \@imgs);
}

# ---------------------------------------------------------------------------
# From the coordinator: the figures, the ids, the views.
# ---------------------------------------------------------------------------
sub readouts_after_load
{
	my ($ids, $imgs) = @_;
	my %seen;
	is(scalar(grep { $seen{$_}++ } @$ids), 0, 'no charge id was returned twice');

	append_to_file("$dir/usage.sql",
		join('', map { "SELECT fluxcredits.credits_usage('f$_');\n" } 1 .. $FREE));
	my ($rc, $out, $err) = $coord->psql('postgres', '', extra_params => [ '-f', "$dir/usage.sql" ]);
	is($rc, 0, 'credits_usage of every Free account from the coordinator') or diag($err);
	my @usage = split /\n/, $out;
	my @not20 = grep { !/^\(Free,20,20,/ } @usage;
	is(scalar @usage . ' ' . scalar @not20, "$FREE 0",
		'credits_usage: every Free account used exactly 20 of its 20 compression credits')
	  or diag(first_lines(@not20));

	is($try->("SELECT count(*) FROM fluxcredits.ledger WHERE entry = 'consume'"), @$ids + @$imgs,
		'the ledger holds one consume row per charge a client saw go through');
	is($try->(q{SELECT count(*) FROM (SELECT account FROM fluxcredits.ledger
	                                    WHERE entry = 'consume' AND account LIKE 'f%'
	                                    GROUP BY account HAVING count(*) = 20 AND sum(monthly) = 20) x}),
		$FREE, 'the ledger: 20 charges of one credit for every Free account');
	is($try->("SELECT count(*) FROM fluxcredits.ledger WHERE account = 'pro' AND entry = 'consume'"),
		$PRO, 'the ledger: every charge of the Pro account');
	is($try->('SELECT count(*) FROM public.images'), scalar @$imgs, 'images: one row per INSERT that went through');
	is($try->("SELECT count(*) FROM fluxcredits.ledger WHERE entry = 'consume' AND id = ANY('{"
			. join(',', @$ids) . "}'::bigint[])"), scalar @$ids,
		'every id credits_consume returned is a consume row of the ledger');
	is($try->('SELECT count(*) FROM fluxcredits.credits_check()'), '0',
		'credits_check() from the coordinator returns no row');
	is($try->(q{SELECT count(*) || ' / ' || count(DISTINCT id) FROM fluxcredits.ledger}),
		(@$ids + @$imgs) . ' / ' . (@$ids + @$imgs), 'ledger ids are unique over all shards of both workers');
	is($try->(q{SELECT count(DISTINCT id >> 48) FROM fluxcredits.ledger}), '2',
		'ledger ids come from two per-node ranges (one per worker)');

	is($try->("SELECT count(*) FILTER (WHERE plan = 'Free' AND compressor_used = 20) || '/' || count(*) FROM fluxcredits.usage"),
		"$FREE/1000", 'the usage view from the coordinator: every account, every Free one at 20');
	is($try->(q{SELECT count(*) FROM fluxcredits.usage_history
	             WHERE plan = 'Free' AND compressor_used = 20 AND compressor_limit = 20}),
		$FREE, 'usage_history from the coordinator: every Free account at 20 in its period');
	is($try->(q{SELECT count(DISTINCT account) FROM fluxcredits.near_limit
	             WHERE kind = 'compression' AND plan = 'Free' AND percent = 100}),
		$FREE, 'near_limit from the coordinator: every Free account at 100%');
	is($try->("SELECT accounts || '/' || compressor_used FROM fluxcredits.plan_summary WHERE plan = 'Free'"),
		"$FREE/" . 20 * $FREE, 'plan_summary from the coordinator: the Free accounts and their credits');
	is($try->("SELECT accounts || '/' || compressor_used FROM fluxcredits.plan_summary WHERE plan = 'Pro'"),
		"1/$PRO", 'plan_summary from the coordinator: the Pro account');
	is($try->(q{SELECT count(*) FILTER (WHERE threshold = 80) || '/' || count(*) FILTER (WHERE threshold = 100)
	              FROM fluxcredits.alerts WHERE kind = 'compression'}),
		"$FREE/$FREE", 'the alerts view from the coordinator: 80% and 100% of every Free account');
	return;
}

# ---------------------------------------------------------------------------
# Id-only refunds from the coordinator, a charge on each worker.
# ---------------------------------------------------------------------------
sub refunds
{
	foreach my $w (@workers)
	{
		my $acct = $try->("SELECT a.account FROM fluxcredits.accounts a
		                     JOIN pg_dist_placement p ON p.shardid = get_shard_id_for_distribution_column('fluxcredits.accounts', a.account)
		                     JOIN pg_dist_node n USING (groupid)
		                    WHERE n.nodeport = ${\ $w->port } AND a.plan = 'Free' ORDER BY a.account LIMIT 1");
		my $charge = $try->("SELECT max(id) FROM fluxcredits.ledger WHERE account = '$acct' AND entry = 'consume'");
		my $others = $try->("SELECT sum(compressor_used) FROM fluxcredits.usage WHERE account <> '$acct'");
		my ($rc, $out, $err) = $coord->psql('postgres', "SELECT fluxcredits.credits_refund($charge)");
		is($rc, 0, "credits_refund($charge) (the id only) from the coordinator: a charge of $acct, on port " . $w->port)
		  or diag($err);
		is($try->("SELECT account || ':' || charge FROM fluxcredits.ledger WHERE entry = 'refund' AND charge = $charge"),
			"$acct:$charge", "the refund of $charge is a ledger row of $acct");
		like(usage_of($acct), qr/^Free,19,20,/, "$acct used 19 after the refund");
		is($try->("SELECT sum(compressor_used) FROM fluxcredits.usage WHERE account <> '$acct'"),
			$others =~ /^\d+$/ ? $others : "(the sum before the refund, which failed: $others)",
			'no other account changed');
	}
	is($try->("SELECT count(*) FROM fluxcredits.ledger WHERE entry = 'refund'"), '2', 'two refunds in the ledger');
	like($try->("SELECT fluxcredits.credits_usage_json('pro')"), qr/"compressor_used": $PRO\b/,
		'credits_usage_json from the coordinator');
	is($try->('SELECT count(*) FROM fluxcredits.credits_check()'), '0', 'credits_check() after the refunds');
	return;
}

# ---------------------------------------------------------------------------
# A worker as the entry node.
# ---------------------------------------------------------------------------
sub worker_entry
{
	my $pro_before = $try->("SELECT count(*) FROM fluxcredits.ledger WHERE account = 'pro'");
	foreach my $i (0 .. $#workers)
	{
		my $w = $workers[$i];
		my $a = 'via-w' . ($i + 1);
		append_to_file("$dir/$a.sql", join('',
			"SELECT fluxcredits.credits_open_account('$a', 'Free');\n",
			(map { "SELECT fluxcredits.credits_consume('$a', 'compression');\n" } 1 .. 10),
			(map { "INSERT INTO public.images (account, name) VALUES ('$a', 'w$_') RETURNING account;\n" } 1 .. 10),
			"SELECT fluxcredits.credits_consume('pro', 'compression');\n",
			"INSERT INTO public.images (account, name) VALUES ('pro', 'w') RETURNING account;\n"));
		my ($rc, $out, $err) = $w->psql('postgres', '', extra_params => [ '-f', "$dir/$a.sql" ]);
		is($rc, 0, 'through the worker on port ' . $w->port
			. ": $a opened and charged 20 times, the Pro account charged twice") or diag($err);
		($rc, $out, $err) = $w->psql('postgres', "SELECT fluxcredits.credits_consume('$a', 'compression')");
		like($err, qr/ERROR:  not enough compression credits for account "$a"/,
			'through the worker on port ' . $w->port . ": the 21st charge of $a is refused");
		like(usage_of($a), qr/^Free,20,20,/, "the coordinator reads 20 used for $a");
		like(usage_of($a, $w), qr/^Free,20,20,/, 'the worker on port ' . $w->port . " reads 20 used for $a");
	}
	my $pro_after = $try->("SELECT count(*) FROM fluxcredits.ledger WHERE account = 'pro'");
	is(($pro_after =~ /^\d+$/ && $pro_before =~ /^\d+$/) ? $pro_after - $pro_before : "$pro_before -> $pro_after", 4,
		'the Pro account\'s charges through the workers are in the ledger');
	is($try->('SELECT count(*) FROM fluxcredits.credits_check()'), '0',
		'credits_check() after the charges through the workers');
	return;
}

# ---------------------------------------------------------------------------
# Every shell table of every node is empty: the extension's own tables
# (members of the extension; the shards are not), read by pgstattuple,
# which reads the relation's own heap (a query on fluxcredits.ledger would
# go to the shards through Citus).
# ---------------------------------------------------------------------------
sub shell_tables
{
	$q->('CREATE EXTENSION IF NOT EXISTS pgstattuple');
	foreach my $node ($cluster->nodes)
	{
		$node->safe_psql('postgres',
			'SET citus.enable_ddl_propagation = off; CREATE EXTENSION IF NOT EXISTS pgstattuple');
		my $shells = $try->(q{
			SELECT string_agg(format('%s:%s:%s', c.relname, t.tuple_count, t.dead_tuple_count), ',' ORDER BY c.relname)
			  FROM pg_depend d
			  JOIN pg_class c ON c.oid = d.objid AND d.classid = 'pg_class'::regclass
			 CROSS JOIN LATERAL pgstattuple(c.oid) t
			 WHERE d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fluxcredits')
			   AND d.deptype = 'e' AND c.relkind IN ('r', 'p')}, $node);
		my %rows = map { my ($t, $live) = split /:/; ($t => $live) } split /,/, $shells;
		is(join(',', sort keys %rows), join(',', @TABLES),
			'the shell tables of the node on port ' . $node->port . ' are found');
		is(join(',', map { "$_:" . ($rows{$_} // '?') } @TABLES), join(',', map { "$_:0" } @TABLES),
			'every shell table of the node on port ' . $node->port . ' is empty (no live row in its heap)')
		  or diag("table:live:dead $shells");
	}
	return;
}
