/*-------------------------------------------------------------------------
 *
 * fluxcredits.h
 *	  Declarations shared by fluxcredits' C files: the extension's own
 *	  SQLSTATEs, its limits on identifiers and the kinds of credit, then
 *	  each file's, grouped by file in the order of fluxcredits.c's list.
 *
 * Locking rules (every writer takes them in this order):
 *	1. advisory locks (advisory_locks.c): the account's idempotency key,
 *	   then the account's AI image in the period; a waiting call re-reads
 *	   the ledger once the first call has committed or rolled back;
 *	2. the account's row in fluxcredits.accounts, FOR NO KEY UPDATE, by every
 *	   writer but the fast path: top-ups, refunds, plan changes, the exact
 *	   path (charge_exact.c) and a charge creating a counter slot;
 *	3. counter slot rows, in slot order when more than one.
 * The fast path of a charge locks one counter slot with room, never waiting
 * and never leaving a lock on a slot it does not use (charge_fast.c,
 * lock_slot), and nothing else, so charges of one account scale with the
 * number of slots.  A transaction may hold slots of its earlier charges
 * when a later one waits for the account's row, so a writer that needs
 * every slot never waits for one under that lock: it gives the lock up,
 * waits for the slot, and starts over (under_account.c, fc_under_account).
 * Readers (credits_usage) take no row lock.
 *
 * IDENTIFICATION
 *	  src/fluxcredits.h
 *
 *-------------------------------------------------------------------------
 */
#ifndef FLUXCREDITS_H
#define FLUXCREDITS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "nodes/lockoptions.h"
#include "storage/lockdefs.h"
#include "utils/hsearch.h"
#include "utils/relcache.h"
#include "utils/snapshot.h"
#include "utils/timestamp.h"

/* SQLSTATEs of the extension's own class FC (listed in README.md). */
#define ERRCODE_FC_INSUFFICIENT_CREDITS		MAKE_SQLSTATE('F','C','0','0','1')
#define ERRCODE_FC_UNKNOWN_ACCOUNT			MAKE_SQLSTATE('F','C','0','0','2')
#define ERRCODE_FC_UNKNOWN_PLAN				MAKE_SQLSTATE('F','C','0','0','3')
#define ERRCODE_FC_IDEMPOTENCY_CONFLICT		MAKE_SQLSTATE('F','C','0','0','4')
#define ERRCODE_FC_NOT_REFUNDABLE			MAKE_SQLSTATE('F','C','0','0','5')
#define ERRCODE_FC_REFERENCE_CONFLICT		MAKE_SQLSTATE('F','C','0','0','6')
#define ERRCODE_FC_LEDGER_APPEND_ONLY		MAKE_SQLSTATE('F','C','0','0','7')
#define ERRCODE_FC_ACCOUNT_EXISTS			MAKE_SQLSTATE('F','C','0','0','8')
#define ERRCODE_FC_RESERVATION				MAKE_SQLSTATE('F','C','0','0','9')

/* Longest accepted identifiers, in bytes. */
#define FC_MAX_ACCOUNT_LEN		256
#define FC_MAX_IMAGE_LEN		1024
#define FC_MAX_KEY_LEN			256

/* The kinds of credit (the SQL enum credit_kind). */
typedef enum FcKind
{
	FC_KIND_COMPRESSION,
	FC_KIND_AI
} FcKind;

/* fluxcredits.c */
extern bool fc_guc_defined(const char *name);

/* args.c */
extern char *fc_check_identifier(char *value, const char *name, int maxlen,
								 bool required);
extern char *fc_arg_text(FunctionCallInfo fcinfo, int argno, const char *name,
						 int maxlen, bool required);
extern TimestampTz fc_arg_at(FunctionCallInfo fcinfo, int argno);
extern FcKind fc_arg_kind(FunctionCallInfo fcinfo, int argno);
extern const char *fc_kind_name(FcKind kind);
extern FcKind fc_kind_of(Datum d, Oid typid);
extern char *fc_timestamp_str(TimestampTz t);

/* billing_period.c: declared in billing_period.h */

/* account.c */

/* May an account have held reservations (FcAccount.holds)? */
typedef enum FcHolds
{
	FC_HOLDS_NONE,				/* no: it never reserved */
	FC_HOLDS_MAYBE,				/* it has reserved */
	FC_HOLDS_UNKNOWN			/* scripts before 1.5: accounts.has_reserved missing */
} FcHolds;

/*
 * A plan's usage alert thresholds: bit p (of 1..100) is set when an alert
 * fires at p percent of a monthly limit.
 */
typedef struct FcThresholds
{
	uint64		bits[2];
	bool		of_plan;		/* the plan's own (1.7); false: 80 and 100 */
} FcThresholds;

/* An account with its plan, as read by fc_account_load(). */
typedef struct FcAccount
{
	const char *account;		/* the caller's string */
	char	   *plan;
	TimestampTz anchor;
	char	   *tz;
	bool		has_anchor_since;
	TimestampTz anchor_since;
	int64		topup_balance;
	FcHolds		holds;
	bool		compression_unlimited;
	int64		compression_limit;
	int64		ai_monthly;
	FcThresholds alert_thresholds;
	/* with fc_account_load_row(): a copy of the row read, for an update */
	HeapTuple	row;
	AttrNumber	topup_balance_attno;
} FcAccount;

extern void fc_account_load(const char *account, Snapshot snapshot, FcAccount *acc);
extern void fc_account_load_row(const char *account, Snapshot snapshot, FcAccount *acc);
extern void fc_account_period(const FcAccount *acc, TimestampTz at, bool for_write,
							  TimestampTz *start, TimestampTz *end);
extern bool fc_account_may_hold(const FcAccount *acc);
extern bool fc_kind_limit(const FcAccount *acc, FcKind kind, int64 *limit);

/* charge.c */

/* One charge's arguments, as credits_consume() takes them. */
typedef struct FcCharge
{
	char	   *account;
	FcKind		kind;
	int32		amount;
	char	   *image;			/* NULL: none */
	char	   *key;			/* idempotency key; NULL: none */
	TimestampTz at;
	bool		hold;			/* a reservation's hold, not a charge */
	int64		id;				/* the ledger id to write; 0: the next one */
	bool		batch;			/* the rows of one statement (messages) */
	bool		bounded;		/* at must lie in the account's life (1.7,
								 * writer_checks.c) */
} FcCharge;

extern void fc_check_charge(const FcCharge *a);
extern int64 fc_consume(const FcCharge *req, bool raise);
extern bool fc_count(const FcCharge *a, const FcAccount *acc, TimestampTz start,
					 TimestampTz end, bool raise, int64 *monthly, int64 *topup);

/* writer_checks.c */
extern int	fc_max_clock_skew;
extern void fc_check_writable(const char *action);
extern void fc_check_clock(const char *account, TimestampTz anchor,
						   const TimestampTz *anchor_since, TimestampTz at);
extern void fc_writer_checks_init(void);

/* advisory_locks.c */
extern void fc_lock_key(const char *account, const char *key);
extern void fc_lock_image(const char *account, const char *image,
						  TimestampTz period_start);
extern void fc_lock_images(const char *account, TimestampTz period_start);

/* dedupe.c */

/*
 * An AI image of a statement's rows, as a hash table entry, and the charge
 * covering it.  The key is a pointer to a row's image string, not a copy:
 * a copy would make every entry as large as the longest image allowed.
 */
typedef struct FcImageEntry
{
	const char *image;			/* the hash key */
	int64		covering;		/* 0: not charged yet */
} FcImageEntry;

extern bool fc_find_replay(const FcCharge *a, int64 *charge);
extern bool fc_find_covering_charge(const FcCharge *a, TimestampTz period_start,
									int64 *charge);
extern void fc_find_covering_charges(const char *account, TimestampTz start,
									 TimestampTz at, HTAB *images, Datum *list,
									 int nlist);

/* charge_fast.c */
extern bool fc_fast_count(const FcCharge *a, TimestampTz start, int64 alert_below,
						  int64 *total, int *nslots);

/* charge_exact.c */

/* What the exact path did with a charge (fc_exact_count). */
typedef enum FcExact
{
	FC_EXACT_FIRST_SLOT,		/* counted on the period's first slot */
	FC_EXACT_CHARGED,			/* counted by the decision on the totals */
	FC_EXACT_REFUSED			/* does not fit */
} FcExact;

extern FcExact fc_exact_count(const FcCharge *a, TimestampTz start, TimestampTz end,
							  bool try_first_slot, int64 *monthly, int64 *topup,
							  int64 *used, int64 *lim, int64 *balance);
extern void fc_exact_init(void);

/* under_account.c */

/* The counter slots that a writer under the account's lock needs. */
typedef struct FcSlotSet
{
	const char *account;
	const char *kind;			/* credit_kind label; NULL: every kind */
	bool		any_period;		/* every period, or only period_start's */
	TimestampTz period_start;
} FcSlotSet;

extern void fc_under_account(const FcSlotSet *set, void (*work) (void *arg), void *arg);
extern bool fc_lock_newest(Relation rel, ItemPointer tid, Snapshot snapshot,
						   struct TupleTableSlot *ts, LockTupleMode mode);

/* write.c */

/* One ledger row, as fc_ledger_insert() writes it. */
typedef struct FcLedgerRow
{
	TimestampTz at;
	const char *account;
	const char *entry;			/* ledger_entry label */
	bool		has_kind;
	FcKind		kind;
	bool		has_period;
	TimestampTz period_start;
	int32		monthly;
	int32		topup;
	const char *image;			/* NULL: none */
	const char *key;			/* idempotency key; NULL: none */
	bool		has_charge;
	int64		charge;
	int64		id;				/* 0: the next of the ledger's sequence */
} FcLedgerRow;

extern int64 fc_ledger_insert(const FcLedgerRow *row);
extern int64 fc_ledger_insert_charge(const FcCharge *a, TimestampTz start,
									 int64 monthly, int64 topup, bool covered,
									 int64 covering);
extern int64 fc_ledger_next_id(const char *account);
extern bool fc_slot_direct_ok(Relation rel);
extern bool fc_account_direct_ok(Relation rel);
extern void fc_slot_add(Relation rel, HeapTuple locked, int n,
						const AttrNumber *attnos, const int64 *amounts);
extern void fc_slot_add_sql(const FcCharge *a, TimestampTz start, int slot,
							int64 monthly, int64 topup);
extern void fc_account_add(Relation rel, HeapTuple locked, AttrNumber attno,
						   int64 amount);
extern void fc_account_topup_sql(const char *account, int64 topup);

/* alerts.c */
extern void fc_alerts_init(void);
extern void fc_alert_after_charge(const char *account, FcKind kind,
								  TimestampTz start, TimestampTz end,
								  int64 used, int64 limit,
								  const FcThresholds *thresholds);
extern void fc_thresholds_of_plan(Datum d, FcThresholds *t);
extern void fc_thresholds_default(FcThresholds *t);

/* trigger.c, usage.c: SQL-callable functions only */

/* relscan.c */

#define FC_SCAN_MAX_KEYS 3
#define FC_SCAN_MAX_COLUMNS 12

typedef struct FcScan
{
	Relation	heap;
	Relation	index;
	struct SysScanDescData *scan;
	/* a scan through a hash index (fc_account/counters_scan_begin): */
	struct IndexScanDescData *iscan;
	struct TupleTableSlot *slot;
	const char *account;	/* the account (a C string of the caller) */
	int			account_len;
	bool		check_start;	/* only rows of the period starting at start */
	TimestampTz start;
	AttrNumber	account_attno;
	AttrNumber	start_attno;
} FcScan;

typedef struct FcColumns
{
	int			n;
	const char *const *names;	/* the columns a scan reads, keys first */
	int			noptional;		/* the last ones may be missing */
	Oid			relid;			/* cache: attnos are of this relation */
	int			natts;			/* ... when it had this many columns */
	AttrNumber	attnos[FC_SCAN_MAX_COLUMNS];
} FcColumns;

extern void fc_scan_begin(FcScan *s, const char *table, const char *index,
						  const char *account, FcColumns *cols, int nkeys,
						  const Oid *eqfuncs, const Datum *values,
						  Snapshot snapshot);
extern void fc_account_scan_begin(FcScan *s, FcColumns *cols,
								  const char *account, Snapshot snapshot);
extern void fc_counters_scan_begin(FcScan *s, FcColumns *cols,
								   const char *account, TimestampTz start,
								   Snapshot snapshot);
extern Datum fc_scan_attr(FcScan *s, AttrNumber attno, bool *isnull);
extern HeapTuple fc_scan_next(FcScan *s);
extern void fc_scan_end(FcScan *s);
extern Relation fc_table_open(const char *relname, const char *account,
							  LOCKMODE lockmode);
extern bool fc_index_never_used(const char *table, const char *index,
								const char *account);
extern Oid	fc_shard_relid(const char *table, const char *account);

/* citus.c */
extern bool fc_citus_preloaded(void);
extern bool fc_citus_table(Oid shell);
extern Oid	fc_citus_shard(Oid shell, const char *relname, const char *account,
						   bool missing_ok);
extern bool fc_citus_shard_cached(const char *relname, const char *account, Oid *relid);
extern void fc_citus_shard_remember(const char *relname, const char *account, Oid relid);

/* spi_plans.c */
extern void fc_safe_path_push(void);
extern void fc_safe_path_pop(void);
extern SPIPlanPtr fc_plan(const char *account, SPIPlanPtr *cache, const char *sql,
						  int nargs, const Oid *argtypes);
extern uint64 fc_execute(const char *account, SPIPlanPtr *cache, const char *sql,
						 int nargs, const Oid *argtypes, Datum *values,
						 const char *nulls, long count, int expected,
						 const char *what);
extern bool fc_get_int64(int col, int64 *value);
extern char *fc_get_text(int col);

#endif							/* FLUXCREDITS_H */
