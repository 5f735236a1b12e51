-- peer_topup: the hand-written PL/pgSQL meter, one AI credit on a random Free
-- account (no monthly AI credits), so every credit comes from its top-up.
\set r random(0, :maxr)
\set a 4 * :r + 4
SELECT bench_peer.peer_consume('a' || :a::text, 'ai');
