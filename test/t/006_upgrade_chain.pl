# t/006_upgrade_chain.pl: the upgrade chain.
#
# Creates the extension at the oldest version, updates it through every
# step that sql/fluxcredits--A--B.sql provides, and compares the result with
# a fresh install at the newest version: the objects the extension owns
# (what \dx+ lists), every function's definition, every table's columns,
# indexes and constraints, privileges, comments and the seeded plans.
use strict;
use warnings;
use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $root = "$FindBin::RealBin/../..";
my @scripts = map { s{.*/}{}r } glob("$root/sql/fluxcredits--*.sql");
my %next;
my @bases;
for my $f (@scripts)
{
	if ($f =~ /^fluxcredits--([\d.]+)--([\d.]+)\.sql$/) { $next{$1} = $2; }
	elsif ($f =~ /^fluxcredits--([\d.]+)\.sql$/) { push @bases, $1; }
}
my ($default) = slurp_file("$root/fluxcredits.control") =~ /default_version\s*=\s*'([^']+)'/;
my @sorted = sort { version_cmp($a, $b) } @bases;
my $oldest = $sorted[0];
my @chain = ($oldest);
push @chain, $next{ $chain[-1] } while exists $next{ $chain[-1] };
is($chain[-1], $default, "the chain " . join(' -> ', @chain) . " ends at the default version $default");

my $node = PostgreSQL::Test::Cluster->new('upgrade');
$node->init;
$node->start;

$node->safe_psql('postgres', 'CREATE DATABASE walked; CREATE DATABASE fresh;');
$node->safe_psql('walked', "CREATE EXTENSION fluxcredits VERSION '$oldest'");
for my $v (@chain[ 1 .. $#chain ])
{
	# 1.5 marks the accounts that have reserved (accounts.has_reserved):
	# the update marks those with reservations made before it.  Made under
	# 1.4 with this library, which then looks for holds in every account.
	if ($v eq '1.5')
	{
		$node->safe_psql('walked', q{
			SELECT fluxcredits.credits_open_account('holder', 'Starter', '2026-01-05 00:00+00');
			SELECT fluxcredits.credits_open_account('plain', 'Starter', '2026-01-05 00:00+00');
			SELECT fluxcredits.credits_reserve('holder', 'compression', 3, at => '2026-01-10 00:00+00');
			SELECT fluxcredits.credits_consume('plain', 'compression', 2, at => '2026-01-10 00:00+00');
		});
		is(usage_of('walked'), "holder|3|3\nplain|2|0",
			'under 1.4 a read-out sees the hold (used, reserved)');
	}
	$node->safe_psql('walked', "ALTER EXTENSION fluxcredits UPDATE TO '$v'");
	if ($v eq '1.5')
	{
		is($node->safe_psql('walked',
				'SELECT account, has_reserved FROM fluxcredits.accounts ORDER BY 1'),
			"holder|t\nplain|f", 'the update to 1.5 marks the account that reserved');
		is(usage_of('walked'), "holder|3|3\nplain|2|0",
			'after it the read-outs are the same');
		is($node->safe_psql('walked', 'SELECT count(*) FROM fluxcredits.credits_check()'),
			'0', 'and credits_check() finds nothing');
	}
}
$node->safe_psql('fresh', "CREATE EXTENSION fluxcredits VERSION '$default'");

# What the extension consists of, described without OIDs.
my $describe = q{
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
	  FROM pg_depend
	 WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
	   AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fluxcredits')
	UNION ALL
	SELECT 'function ' || pg_get_functiondef(p.oid)
	  FROM pg_proc p WHERE p.pronamespace = 'fluxcredits'::regnamespace AND p.prokind <> 'a'
	UNION ALL
	SELECT format('column %s.%s %s %s %s', c.relname, a.attname,
	              format_type(a.atttypid, a.atttypmod), a.attnotnull,
	              pg_get_expr(d.adbin, d.adrelid))
	  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
	  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
	 WHERE c.relnamespace = 'fluxcredits'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
	UNION ALL
	SELECT 'index ' || pg_get_indexdef(i.indexrelid)
	  FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
	 WHERE c.relnamespace = 'fluxcredits'::regnamespace
	UNION ALL
	SELECT format('constraint %s %s', conname, pg_get_constraintdef(oid))
	  FROM pg_constraint WHERE connamespace = 'fluxcredits'::regnamespace
	UNION ALL
	SELECT format('trigger %s', pg_get_triggerdef(t.oid))
	  FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
	 WHERE c.relnamespace = 'fluxcredits'::regnamespace AND NOT t.tgisinternal
	UNION ALL
	SELECT format('acl %s %s', p.oid::regprocedure, p.proacl)
	  FROM pg_proc p WHERE p.pronamespace = 'fluxcredits'::regnamespace
	UNION ALL
	SELECT format('acl %s %s', c.oid::regclass, c.relacl)
	  FROM pg_class c WHERE c.relnamespace = 'fluxcredits'::regnamespace
	UNION ALL
	SELECT format('comment %s: %s', pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description)
	  FROM pg_description d
	  JOIN pg_depend e ON e.classid = d.classoid AND e.objid = d.objoid AND e.deptype = 'e'
	 WHERE e.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'fluxcredits')
	UNION ALL
	SELECT format('plan %s %s %s', name, compression_limit, ai_monthly) FROM fluxcredits.plans
	UNION ALL
	SELECT format('version %s', extversion) FROM pg_extension WHERE extname = 'fluxcredits'
	ORDER BY 1
};
my $walked = $node->safe_psql('walked', $describe);
my $fresh = $node->safe_psql('fresh', $describe);
cmp_ok(scalar(split /\n/, $fresh), '>', 100, 'the description of a fresh install lists its objects');
is($walked, $fresh, 'an install walked up the chain equals a fresh install at ' . $default);

$node->stop;
done_testing();

# account|compressor_used|compressor_reserved of both accounts on 2026-01-10
sub usage_of
{
	my $db = shift;
	return $node->safe_psql($db, q{
		SELECT a, u.compressor_used, u.compressor_reserved
		  FROM unnest(ARRAY['holder', 'plain']) a,
		       fluxcredits.credits_usage(a, '2026-01-10 00:00+00') u ORDER BY a});
}

sub version_cmp
{
	my @a = split /\./, shift;
	my @b = split /\./, shift;
	while (@a || @b)
	{
		my $c = (shift(@a) // 0) <=> (shift(@b) // 0);
		return $c if $c;
	}
	return 0;
}
