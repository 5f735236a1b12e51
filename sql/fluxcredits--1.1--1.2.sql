/* sql/fluxcredits--1.1--1.2.sql: fluxcredits 1.1 to 1.2 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.2'" to load this file. \quit

-- 1.2: the three charge functions written in C no longer carry SET
-- search_path.  The clause made every charge set the search_path setting
-- and restore the caller's, each time looking the new path up in the
-- catalogs; the library now puts the path pg_catalog, and nothing else, in
-- force itself while a charge runs (src/spi_plans.c, fc_safe_path_push), so
-- a caller's schemas still change nothing a charge does.  The other
-- SECURITY DEFINER functions keep the clause.

ALTER FUNCTION @extschema@.credits_consume(text, @extschema@.credit_kind, integer, text, text, timestamptz)
    RESET search_path;
ALTER FUNCTION @extschema@.credits_try_consume(text, @extschema@.credit_kind, integer, text, text, timestamptz)
    RESET search_path;
ALTER FUNCTION @extschema@.charge()
    RESET search_path;
