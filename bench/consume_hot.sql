-- consume_hot: every client on one Pro account, compression (unlimited).
SELECT fluxcredits.credits_consume('hot_pro', 'compression');
