/*-------------------------------------------------------------------------
 *
 * billing_period.h
 *	  Billing periods: period k of an account starts at the anchor's local
 *	  date and time of day plus k calendar months, in the account's zone.
 *
 * IDENTIFICATION
 *	  src/billing_period.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLUXCREDITS_BILLING_PERIOD_H
#define FLUXCREDITS_BILLING_PERIOD_H

#include "datatype/timestamp.h"

/*
 * Raise SQLSTATE 22023 unless tz names a time zone that AT TIME ZONE accepts.
 */
extern void fc_check_time_zone(const char *tz);

/*
 * Raise SQLSTATE 22023 unless tz may be an account's time zone: a name that
 * pg_timezone_names lists, and not a leap-second zone (right/...).
 */
extern void fc_check_account_time_zone(const char *tz);

/*
 * The billing period [*start, *end) that contains at, for an account anchored
 * at anchor in time zone tz.  Exactly
 *	 start_k = ((anchor AT TIME ZONE tz) + k * interval '1 month') AT TIME ZONE tz
 * for the one k (any sign) with start_k <= at < start_(k+1).  O(1) in the
 * distance between anchor and at.  Raises 22023 for an unknown zone and 22008
 * for infinite or out-of-range timestamps.
 */
extern void fc_billing_period(TimestampTz anchor, TimestampTz at, const char *tz,
							  TimestampTz *start, TimestampTz *end);

/*
 * The same for an account: tz is read as the name of a zone of the time zone
 * database, never as an abbreviation of the session's timezone_abbreviations.
 */
extern void fc_account_billing_period(TimestampTz anchor, TimestampTz at, const char *tz,
									  TimestampTz *start, TimestampTz *end);

#endif							/* FLUXCREDITS_BILLING_PERIOD_H */
