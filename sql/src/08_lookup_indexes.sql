--------------------------------------------------------------------------
-- Hash indexes for the lookups of every charge and read-out (1.3,
-- src/relscan.c)
--------------------------------------------------------------------------

-- A charge and a read-out find the account's row, and the counter slots of
-- its kind's billing period, by equality only.  A btree descends from its
-- root, which every backend pins and locks, comparing text on each level; a
-- hash index finds the entries in one bucket page and shares no page
-- between lookups (its metapage is cached in each backend), so busy
-- clients do not queue on one root page (docs/performance.md has the
-- measurements).  The primary keys stay: they enforce uniqueness (hash
-- indexes cannot), and the extension's SQL and a DBA's queries may use them.

-- The value counters_account_period indexes: a 64-bit hash of the
-- account's bytes seeded with the period start (hash indexes have one
-- column).  Rows of other accounts or periods that share it are told apart
-- by their columns.
CREATE FUNCTION @extschema@._counters_key(account text, period_start timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_counters_key'
LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@._counters_key(text, timestamptz) IS
'internal: the key of the hash index counters_account_period';

CREATE INDEX accounts_account ON @extschema@.accounts USING hash (account);
CREATE INDEX counters_account_period ON @extschema@.counters
    USING hash (@extschema@._counters_key(account, period_start));
