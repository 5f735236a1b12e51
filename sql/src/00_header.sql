/* fluxcredits: usage-credit metering.  The install script of the newest
   version, built by make from the files of sql/src, in name order. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION fluxcredits" to load this file. \quit

