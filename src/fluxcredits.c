/*-------------------------------------------------------------------------
 *
 * fluxcredits.c
 *	  Module entry point: _PG_init() defines the settings.  Each concern
 *	  lives in its own file; fluxcredits.h declares what they share, file by
 *	  file in this order (billing_period.h, billing_period.c's own):
 *
 *	  fluxcredits.c		this: _PG_init, and whether a setting is defined
 *	  args.c			argument checks, credit kinds, timestamps in messages
 *	  billing_period.c	billing periods: the period that contains a time
 *	  account.c			accounts and plans (cached): period, a kind's limit
 *	  charge.c			a charge's SQL entry points and its orchestration
 *	  writer_checks.c	what writers check first: read-only, the clock
 *	  advisory_locks.c	advisory locks: idempotency keys, AI images
 *	  dedupe.c			idempotency-key replay, AI image covering charges
 *	  charge_fast.c		the fast path: one counter slot with room
 *	  charge_exact.c	the exact path: every slot under the account's lock
 *	  under_account.c	the account's lock for writers that need every slot
 *	  write.c			the writes: ledger rows, counter slots, balances
 *	  alerts.c			usage alerts: recorded, notified at commit
 *	  trigger.c			the charge() trigger: the rows a statement inserts
 *	  usage.c			credits_usage(): the read-out of one account
 *	  relscan.c			index reads of the extension's tables, without SPI
 *	  citus.c			on a Citus node: the shard that holds an account here
 *	  spi_plans.c		the charge's search path, SPI plans and results
 *
 * IDENTIFICATION
 *	  src/fluxcredits.c
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/*
 * Has this library already defined setting name?  _PG_init() can run twice
 * in one backend: when an error interrupts it (a statement timeout or query
 * cancel, which the WARNING about a placeholder's invalid value checks
 * for), PostgreSQL does not record the library as loaded and runs
 * _PG_init() again on the next call, and the settings defined before the
 * error are still there: defining one again would raise "attempt to
 * redefine parameter" on every call for the rest of the session.  A
 * placeholder (a value SET before the library was loaded) is not a
 * definition.
 */
bool
fc_guc_defined(const char *name)
{
	return GetConfigOption(name, true, false) != NULL &&
		(GetConfigOptionFlags(name, true) & GUC_CUSTOM_PLACEHOLDER) == 0;
}

void
_PG_init(void)
{
	fc_exact_init();
	fc_alerts_init();
	fc_writer_checks_init();
	MarkGUCPrefixReserved("fluxcredits");
}
