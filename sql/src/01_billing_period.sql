--------------------------------------------------------------------------
-- Billing periods (src/billing_period.c)
--------------------------------------------------------------------------

CREATE FUNCTION @extschema@.billing_period(anchor timestamptz, at timestamptz,
                                           tz text DEFAULT 'UTC')
RETURNS pg_catalog.tstzrange
AS 'MODULE_PATHNAME', 'fc_billing_period_sql'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
-- No SET search_path here: the C code runs no SQL, so the path cannot matter,
-- and a SET clause would cost a GUC save and restore on every call.
COMMENT ON FUNCTION @extschema@.billing_period(timestamptz, timestamptz, text) IS
'the billing period [start, next start) containing at, for an account anchored at anchor in time zone tz';
