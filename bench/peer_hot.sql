-- peer_hot: the PL/pgSQL peer, every client on one Pro account, compression.
SELECT bench_peer.peer_consume('hot_pro', 'compression');
