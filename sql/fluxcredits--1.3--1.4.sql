/* sql/fluxcredits--1.3--1.4.sql: fluxcredits 1.3 to 1.4 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION fluxcredits UPDATE TO '1.4'" to load this file. \quit

-- The exact path of a charge is written in C in the library that 1.4
-- ships with (src/consume.c, charge_slow); the PL/pgSQL function it
-- replaces goes.  A session that loaded an earlier library before this
-- update keeps it until it reconnects, and its charges that need the exact
-- path then fail with "function fluxcredits._charge_slow(...) does not
-- exist" (42883), writing nothing: reconnect the app's connection pools
-- after the update.
DROP FUNCTION @extschema@._charge_slow(text, @extschema@.credit_kind, timestamptz,
                                       timestamptz, integer, timestamptz);
