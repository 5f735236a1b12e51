-- consume_hot_ai: every client on one account, AI (a limited kind) on a plan
-- whose monthly allocation (2,000,000,000) the runs cannot use up.
SELECT fluxcredits.credits_consume('hot_agency', 'ai');
