--------------------------------------------------------------------------
-- Usage read-out (src/usage.c)
--------------------------------------------------------------------------

CREATE TYPE @extschema@.credits_usage AS (
    plan                 text,
    compressor_used      bigint,
    compressor_limit     bigint,
    ia_credits_used      bigint,
    ia_credits_monthly   bigint,
    ia_topup_credits     bigint,
    ia_credits_remaining bigint,
    "canCompress"        boolean,
    "canUseIA"           boolean,
    period_start         timestamptz,
    period_end           timestamptz,
    compressor_reserved  bigint,
    ia_credits_reserved  bigint
);
COMMENT ON TYPE @extschema@.credits_usage IS 'the dashboard''s read-out of one account';

CREATE FUNCTION @extschema@.credits_usage(account text, at timestamptz DEFAULT now())
RETURNS @extschema@.credits_usage
AS 'MODULE_PATHNAME', 'fc_credits_usage'
LANGUAGE C STABLE PARALLEL RESTRICTED;
-- Neither SECURITY DEFINER nor SET search_path: the C code runs no SQL (it
-- reads the tables through their indexes, src/relscan.c, which names them
-- by schema and checks no table privilege), so the caller's path cannot
-- matter and EXECUTE on this function is the whole access control; the two
-- clauses would cost a user switch and a GUC save and restore per call.
COMMENT ON FUNCTION @extschema@.credits_usage(text, timestamptz) IS
'the usage read-out of an account for the billing period containing at';

CREATE FUNCTION @extschema@.credits_usage_json(account text, at timestamptz DEFAULT now())
RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT to_jsonb(u) FROM @extschema@.credits_usage(account, at) u
$$;
COMMENT ON FUNCTION @extschema@.credits_usage_json(text, timestamptz) IS
'credits_usage as the dashboard''s JSON, with the same keys';

CREATE VIEW @extschema@.usage AS
SELECT a.account, u.*
  FROM @extschema@.accounts a
 CROSS JOIN LATERAL @extschema@.credits_usage(a.account) u;
COMMENT ON VIEW @extschema@.usage IS 'the current usage read-out of every account';
