/*-------------------------------------------------------------------------
 *
 * fluxcredits.c
 *	  Module entry point.  Each concern lives in its own file:
 *	  billing_period.c (periods), account.c (arguments, accounts),
 *	  consume.c (charging), trigger.c (the charge() trigger), alerts.c
 *	  (usage alerts), locks.c (advisory locks), account_lock.c (the
 *	  account's lock for writers that need every slot), usage.c
 *	  (read-out), relscan.c (index reads), spi_plans.c (SPI plans).
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

void
_PG_init(void)
{
	fc_consume_init();
	fc_alerts_init();
	MarkGUCPrefixReserved("fluxcredits");
}
