-- peer_ai: the hand-written PL/pgSQL meter, one AI credit, random Agency account.
\set r random(0, :maxr)
\set a 4 * :r + 3
SELECT bench_peer.peer_consume('a' || :a::text, 'ai');
