-- consume_ai: one AI credit on a random Agency account (10,000 a month).
\set r random(0, :maxr)
\set a 4 * :r + 3
SELECT fluxcredits.credits_consume('a' || :a::text, 'ai');
