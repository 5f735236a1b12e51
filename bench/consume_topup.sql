-- consume_topup: one AI credit on a random Free account (no monthly AI
-- credits), so every credit comes from its top-up: fluxcredits' exact path
-- (the account's row and its slots locked, the decision on the totals).
\set r random(0, :maxr)
\set a 4 * :r + 4
SELECT fluxcredits.credits_consume('a' || :a::text, 'ai');
