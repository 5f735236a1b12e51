-- peer: the hand-written PL/pgSQL meter, one compression credit, random Pro account.
\set r random(0, :maxr)
\set a 4 * :r + 2
SELECT bench_peer.peer_consume('a' || :a::text, 'compression');
