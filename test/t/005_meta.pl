# t/005_meta.pl: the release files agree with the extension.
#
# META.json (the PGXN distribution metadata) parses, has the keys the PGXN
# Meta Spec 1.0.0 requires, and its version and the version of the
# extension it provides are the control file's default_version (written as
# a semantic version: 1.0 is 1.0.0); the file it names is the install
# script of that version; LICENSE is the PostgreSQL licence it declares.
use strict;
use warnings;
use FindBin;
use JSON::PP;
use Test::More;

my $root = "$FindBin::RealBin/../..";

sub slurp
{
	my ($path) = @_;
	open(my $fh, '<', $path) or die "cannot open $path: $!";
	local $/;
	return scalar <$fh>;
}

# A version as PGXN writes it: three numbers.
sub semver
{
	my ($v) = @_;
	my @parts = split /\./, $v;
	push @parts, 0 while @parts < 3;
	return join('.', @parts);
}

my $control = slurp("$root/fluxcredits.control");
my ($default_version) = $control =~ /^\s*default_version\s*=\s*'([^']+)'/m;
ok(defined $default_version, "fluxcredits.control has a default_version");
$default_version //= '';

my $meta = eval { JSON::PP->new->decode(slurp("$root/META.json")) };
ok($meta, 'META.json is valid JSON') or diag($@);
$meta //= {};

for my $key (qw(name abstract version maintainer license provides meta-spec))
{
	ok(exists $meta->{$key}, "META.json has $key");
}
is($meta->{'meta-spec'}{version}, '1.0.0', 'META.json follows the PGXN Meta Spec 1.0.0');
is($meta->{name}, 'fluxcredits', 'the distribution is fluxcredits');
like($meta->{version} // '', qr/^\d+\.\d+\.\d+$/, 'its version is a semantic version');
is($meta->{version}, semver($default_version),
	"its version is the control file's default_version $default_version");

my $provided = $meta->{provides}{fluxcredits} // {};
is($provided->{version}, semver($default_version),
	"the extension it provides has the default_version");
is($provided->{file}, "sql/fluxcredits--$default_version.sql",
	'the file it names is the install script of that version');
ok(-f "$root/$provided->{file}", "$provided->{file} exists") if $provided->{file};
ok(-f "$root/$provided->{docfile}", "$provided->{docfile} exists") if $provided->{docfile};

is($meta->{license}, 'postgresql', 'the licence is the PostgreSQL licence');
my $license = -f "$root/LICENSE" ? slurp("$root/LICENSE") : '';
like($license, qr/Copyright \(c\) 2026, the fluxcredits developers/, 'LICENSE names the copyright holder');
like($license, qr/Permission to use, copy, modify, and distribute this software/,
	'LICENSE is the PostgreSQL licence');

done_testing();
