-- peer_hot_ai: the PL/pgSQL peer, every client on one account, AI on a plan
-- whose monthly allocation (2,000,000,000) the runs cannot use up.
SELECT bench_peer.peer_consume('hot_agency', 'ai');
