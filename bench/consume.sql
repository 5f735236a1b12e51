-- consume: one compression credit on a random Pro account (unlimited).
\set r random(0, :maxr)
\set a 4 * :r + 2
SELECT fluxcredits.credits_consume('a' || :a::text, 'compression');
