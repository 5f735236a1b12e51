/*-------------------------------------------------------------------------
 *
 * spi_plans.c
 *	  Prepared SPI plans kept for the life of the backend, and readers for
 *	  the first row of the last SPI result.
 *
 * Every statement names its objects with the fixed schema "fluxcredits" (the
 * extension is not relocatable) and is prepared while the calling function's
 * SET search_path = pg_catalog, pg_temp is in force; the plan cache re-parses
 * with that same path after an invalidation, so a caller's search_path never
 * changes what a statement means.
 *
 *-------------------------------------------------------------------------
 */
#include "fluxcredits.h"

#include "utils/builtins.h"

/*
 * The plan for sql, prepared and kept on first use.
 */
SPIPlanPtr
fc_plan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(sql, nargs, (Oid *) argtypes);

		if (plan == NULL)
			elog(ERROR, "fluxcredits: SPI_prepare failed for \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "fluxcredits: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/* Column col (1-based) of the first row of SPI_tuptable, as int64; false if NULL. */
bool
fc_get_int64(int col, int64 *value)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	if (isnull)
		return false;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT8OID:
			*value = DatumGetInt64(d);
			break;
		case INT4OID:
			*value = DatumGetInt32(d);
			break;
		default:
			elog(ERROR, "fluxcredits: column %d is not an integer", col);
	}
	return true;
}

/* Column col of the first row, as a palloc'd C string; NULL if NULL. */
char *
fc_get_text(int col)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc,
								  col, &isnull);

	if (isnull)
		return NULL;
	return TextDatumGetCString(d);
}
