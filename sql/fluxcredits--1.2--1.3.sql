/* sql/fluxcredits--1.2--1.3.sql: fluxcredits 1.2 to 1.3 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.3'" to load this file. \quit

-- 1.3 adds two hash indexes and the function of one's key, and renames
-- the C functions behind the four functions that write counter slots.
-- Building the indexes takes a SHARE lock on accounts and on counters
-- (charges wait, read-outs do not) for as long as the build, seconds for a
-- million counter rows.  The 1.3 library reads through them when they are
-- there and through the primary keys when not, so it serves a 1.2 install
-- until this update runs.
--
-- The 1.2 library must not write counter slots once the hash index on an
-- expression exists: on a slot update that was not HOT it handed such an
-- index's entry to the executor's routine in a way that crashed the
-- backend.  A session that loaded it before this update keeps it until it
-- reconnects; the four definitions below name C functions it does not have
-- (_1_3), so its charges are refused ("could not find function", 42883)
-- instead.  CREATE OR REPLACE keeps their privileges, comments and the
-- triggers that use charge().
CREATE OR REPLACE FUNCTION @extschema@.credits_consume(account text,
                                            kind @extschema@.credit_kind,
                                            amount integer DEFAULT 1,
                                            image text DEFAULT NULL,
                                            idempotency_key text DEFAULT NULL,
                                            at timestamptz DEFAULT now())
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_credits_consume_1_3'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@.credits_try_consume(account text,
                                                kind @extschema@.credit_kind,
                                                amount integer DEFAULT 1,
                                                image text DEFAULT NULL,
                                                idempotency_key text DEFAULT NULL,
                                                at timestamptz DEFAULT now())
RETURNS boolean
AS 'MODULE_PATHNAME', 'fc_credits_try_consume_1_3'
LANGUAGE C VOLATILE SECURITY DEFINER;

CREATE OR REPLACE FUNCTION @extschema@._hold(account text, kind @extschema@.credit_kind, amount integer,
                                  image text, idempotency_key text, at timestamptz)
RETURNS bigint
AS 'MODULE_PATHNAME', 'fc_hold_1_3'
LANGUAGE C VOLATILE;

CREATE OR REPLACE FUNCTION @extschema@.charge()
RETURNS trigger
AS 'MODULE_PATHNAME', 'fc_charge_trigger_1_3'
LANGUAGE C SECURITY DEFINER;

--------------------------------------------------------------------------
-- Hash indexes for the lookups of every charge and read-out (1.3,
-- src/relscan.c)
--------------------------------------------------------------------------

-- A charge and a read-out find the account's row, and the counter slots of
-- its kind's billing period, by equality only.  A btree descends from its
-- root, which every backend pins and locks, comparing text on each level; a
-- hash index finds the entries in one bucket page and shares no page
-- between lookups (its metapage is cached in each backend).  Measured under
-- 16 clients: the read-out 99-106 -> 66-75 us of CPU a call.  The primary
-- keys stay: they enforce uniqueness (hash indexes cannot), and the
-- extension's SQL and a DBA's queries may use them.

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
REVOKE ALL ON FUNCTION @extschema@._counters_key(text, timestamptz) FROM PUBLIC;
