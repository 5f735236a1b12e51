/*-------------------------------------------------------------------------
 *
 * fluxcredits.c
 *	  Module entry point.  Each concern lives in its own file:
 *	  billing_period.c (periods), account.c (arguments, accounts),
 *	  consume.c (charging), trigger.c (the charge() trigger), alerts.c
 *	  (usage alerts), advisory_locks.c (advisory locks), under_account.c (the
 *	  account's lock for writers that need every slot), usage.c
 *	  (read-out), relscan.c (index reads), spi_plans.c (SPI plans),
 *	  writer_checks.c (what writers check first: read-only, the clock).
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
	fc_consume_init();
	fc_alerts_init();
	fc_writer_checks_init();
	MarkGUCPrefixReserved("fluxcredits");
}
