# t/CitusCluster.pm: a Citus coordinator and two workers for the TAP tests.
#
# Three PostgreSQL::Test::Cluster nodes that listen on loopback (127.0.0.1,
# each on the port the framework picked), with shared_preload_libraries =
# 'citus', two-phase commit (Citus prepares a worker's transaction when a
# transaction wrote through more than one connection) and wal_level =
# logical (a shard move with shard_transfer_mode => 'force_logical'
# replicates the writes made while it copies). CREATE EXTENSION citus on
# every node, the coordinator registered as such (citus_set_coordinator_host;
# it holds no hash shards) and the workers added.
#
# Also: concurrent clients (one psql process each, a script of statements
# each, ON_ERROR_STOP off so that a refused charge is a result, not the end
# of the client), for the tests' loads.
package CitusCluster;

use strict;
use warnings;
use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Whether Citus is installed for the PostgreSQL the tests run (its library
# in `pg_config --pkglibdir`); the reason when not.
sub available
{
	my $pg_config = $ENV{PG_CONFIG} // 'pg_config';
	my $libdir = `$pg_config --pkglibdir 2>/dev/null`;
	chomp $libdir;
	return (0, "no pg_config ($pg_config) to find Citus with") if $libdir eq '';
	return (0, "Citus is not installed ($libdir/citus.so): make test installs it "
		  . "when ../shared/citus/install.sh exists")
	  unless -f "$libdir/citus.so";
	return (1, '');
}

# Three nodes, started, Citus set up. Returns the object; ->coordinator,
# ->workers (a list of two), ->nodes (all three).
sub new
{
	my ($class, %opt) = @_;
	my $prefix = $opt{prefix} // 'citus';
	my $self = bless { nodes => [] }, $class;
	foreach my $name ("${prefix}_coord", "${prefix}_w1", "${prefix}_w2")
	{
		my $node = PostgreSQL::Test::Cluster->new($name);
		$node->init(allows_streaming => 'logical');
		$node->append_conf('postgresql.conf', join('', map { "$_\n" }
			"shared_preload_libraries = 'citus'",
			"listen_addresses = '127.0.0.1'",
			# allows_streaming's 10 are too few: 16 clients, and a worker
			# serves the coordinator's and the other worker's connections.
			"max_connections = 100",
			"shared_buffers = 128MB",
			"max_prepared_transactions = 100",
			"max_replication_slots = 20",
			"max_wal_senders = 20",
			# the framework's log_statement = all writes every statement of
			# the load and every command Citus sends, on three nodes
			"log_statement = 'ddl'",
			"fluxcredits.max_clock_skew = -1",
			@{ $opt{conf} // [] }));
		$node->start;
		push @{ $self->{nodes} }, $node;
	}
	my ($coord, @workers) = @{ $self->{nodes} };
	$_->safe_psql('postgres', 'CREATE EXTENSION citus') foreach @{ $self->{nodes} };
	$coord->safe_psql('postgres',
		"SELECT citus_set_coordinator_host('127.0.0.1', " . $coord->port . ")");
	$coord->safe_psql('postgres',
		"SELECT citus_add_node('127.0.0.1', " . $_->port . ")") foreach @workers;
	return $self;
}

sub coordinator { return $_[0]{nodes}[0]; }
sub workers { my $n = $_[0]{nodes}; return @$n[ 1 .. $#$n ]; }
sub nodes { return @{ $_[0]{nodes} }; }

# The worker port that holds the placement of the shard of `table` that
# `value` hashes to, and that shard's id ("shardid|port").
sub shard_of
{
	my ($self, $table, $value) = @_;
	my $row = $self->coordinator->safe_psql('postgres', qq{
		SELECT s.shardid, n.nodeport
		  FROM (SELECT get_shard_id_for_distribution_column('$table', '$value') AS shardid) s
		  JOIN pg_dist_placement p USING (shardid)
		  JOIN pg_dist_node n USING (groupid)});
	return split /\|/, $row;
}

sub stop
{
	my ($self) = @_;
	$_->stop('fast') foreach reverse $self->nodes;
	return;
}

# A statement as a client that retries serialization failures runs it: up
# to 3 times while it fails with 40001 (on Citus: the account's shard moved
# while the call was on its way to its old node).
sub with_retries
{
	my ($stmt) = @_;
	my $check = "SELECT :'SQLSTATE' = '40001' AS fc_retry \\gset";
	return "$stmt\n$check\n\\if :fc_retry\n$stmt\n$check\n\\if :fc_retry\n$stmt\n\\endif\n\\endif";
}

# Start one psql process per script (a list of SQL statements, one a line),
# all at once, against node. Each runs its statements in autocommit, goes on
# after an error (reported as "ERROR:  SQLSTATE: message" on its stderr),
# and prints each result row unaligned, without headers or command tags.
sub start_clients
{
	my ($node, $dir, @scripts) = @_;
	my @clients;
	foreach my $i (0 .. $#scripts)
	{
		my $file = "$dir/client$i.sql";
		unlink $file;
		append_to_file($file, "\\set VERBOSITY verbose\n" . join("\n", map { with_retries($_) } @{ $scripts[$i] }) . "\n");
		my ($out, $err) = ('', '');
		my $h = IPC::Run::start(
			[ 'psql', '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=0',
			  '-h', '127.0.0.1', '-p', $node->port, '-d', 'postgres', '-f', $file ],
			'<', \undef, '>', \$out, '2>', \$err);
		push @clients, { harness => $h, out => \$out, err => \$err, statements => scalar @{ $scripts[$i] } };
	}
	return \@clients;
}

# Lines of output (results and errors) the client has written so far.
sub client_lines
{
	my ($c) = @_;
	return (() = ${ $c->{out} } =~ /\n/g) + (() = ${ $c->{err} } =~ /^psql:.*ERROR:/mg);
}

# Block until client 0 has written at least `lines` lines (results or
# errors), or has ended. Returns true when it is still running.
sub wait_for_progress
{
	my ($clients, $lines) = @_;
	my $c = $clients->[0];
	while (client_lines($c) < $lines && $c->{harness}->pumpable)
	{
		$c->{harness}->pump;
	}
	return $c->{harness}->pumpable ? 1 : 0;
}

# Whether any client is still running (reading what they wrote meanwhile).
sub any_running
{
	my ($clients) = @_;
	my $running = 0;
	foreach my $c (@$clients)
	{
		$c->{harness}->pump_nb if $c->{harness}->pumpable;
		$running++ if $c->{harness}->pumpable;
	}
	return $running;
}

# Wait for every client to end; returns (stdout lines, stderr lines, psql
# exit codes) over all of them.
sub finish_clients
{
	my ($clients) = @_;
	my (@out, @err, @rc);
	foreach my $c (@$clients)
	{
		$c->{harness}->finish;
		push @rc, $c->{harness}->result(0);
		push @out, split /\n/, ${ $c->{out} };
		push @err, split /\n/, ${ $c->{err} };
	}
	return (\@out, \@err, \@rc);
}

1;
