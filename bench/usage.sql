-- usage: the dashboard's read-out of a random account.
\set a random(1, :naccounts)
SELECT * FROM fluxcredits.credits_usage('a' || :a::text);
