# Makefile for fluxcredits (PGXS)
#
# The two commands a user runs:
#   make demo    set up, build, install, start a throwaway cluster, walk the story
#   make test    set up, build, install, run every suite on throwaway clusters
# Both install what is missing (scripts/common.sh) before building.
# `make bench` runs bench/run.sh, then bench/citus.sh (a single node against
# Citus; it says it skipped when Citus is not installed).

EXTENSION  = fluxcredits
MODULE_big = fluxcredits
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
# The install script of the newest version is built from the rule files of
# sql/src/, in name order (one file a concern); every other script in sql/
# is a released one that never changes: the full script of 1.0, from which
# any older version can still be created, and the update chain.
EXTVERSION := $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" fluxcredits.control)
DATA_built = sql/fluxcredits--$(EXTVERSION).sql
DATA       = $(filter-out $(DATA_built),$(sort $(wildcard sql/fluxcredits--*.sql)))
PGFILEDESC = "fluxcredits - usage-credit metering"

# The tests live under test/, as contrib's and pgvector's do: one name per
# test/sql/NAME.sql (regress) and test/specs/NAME.spec (isolation), their
# outputs in test/expected/ (a regress test and a spec may not share a
# name), and the TAP suites in test/t/.
REGRESS    = billing_period billing_period_sqldef consume_compression consume_ai topups \
             idempotency refund plan_change usage ledger triggers alerts \
             reservations slots direct_writes privileges dba_views drop_extension errors clock read_only \
             trigger_rows trigger_types trigger_upgrade account_forms distribute
ISOLATION  = race_last_credit race_exact_path race_reserve_mark race_topup_split race_idempotency race_refund_plan race_multi_charge race_wait_cancel \
             race_rollback race_hot_account race_alerts race_reservations race_new_index \
             race_bulk_insert race_alerts_slots
TAP_TESTS  = 1
PROVE_TESTS ?= test/t/*.pl

REGRESS_OPTS    = --inputdir=$(srcdir)/test --temp-config=$(srcdir)/scripts/test.conf
ISOLATION_OPTS  = --inputdir=$(srcdir)/test --temp-config=$(srcdir)/scripts/test.conf

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

# The server's headers are system headers to us: -Wall -Wextra -Werror then
# judges our code, not PostgreSQL's inline functions.
PG_CPPFLAGS = -isystem $(shell $(PG_CONFIG) --includedir-server 2>/dev/null)

# Plain `make` builds the module (PGXS's `all`), as usual.
.DEFAULT_GOAL := all

# The user-facing commands work before PostgreSQL's headers are installed:
# they install them first, then call make again.
.PHONY: test demo demo-stop bench
test:
	@bash scripts/test.sh
demo:
	@bash scripts/demo.sh
demo-stop:
	@bash scripts/demo.sh stop
bench:
	@bash bench/run.sh
	@bash bench/citus.sh

ifeq ($(wildcard $(PGXS)),)
all install installcheck:
	@echo "PostgreSQL 15 and its headers are not installed: run 'make test' or 'make demo'," >&2
	@echo "which install them (postgresql-server-dev-15), or set PG_CONFIG." >&2
	@exit 1
else
include $(PGXS)

sql/fluxcredits--$(EXTVERSION).sql: $(sort $(wildcard sql/src/*.sql)) fluxcredits.control
	cat $(sort $(wildcard sql/src/*.sql)) > $@

# PGXS tracks no header dependencies: an object built against an older
# struct layout in a header would run with it (a stack overflow, seen).
$(OBJS): $(wildcard src/*.h)

# `make install` would rewrite the installed library in place, and a running
# backend that has it mapped then runs whatever the new file holds at those
# pages: one crashed so while checking the 1.1 -> 1.2 update (and a crashed
# backend restarts the whole server).  Removing the old file first gives the
# new one a new inode; running backends keep the old one until they exit.
install-lib-shared: unlink-installed-lib
.PHONY: unlink-installed-lib
unlink-installed-lib: installdirs-lib
	rm -f '$(DESTDIR)$(pkglibdir)/$(shlib)'

# Suites on throwaway instances, one target each, so that the test script can
# run them all and report each even when an earlier one fails.
.PHONY: regress-temp isolation-temp tap-temp print-tests
regress-temp:
	$(pg_regress_installcheck) --temp-instance=./tmp_check_regress $(REGRESS_OPTS) $(REGRESS)
isolation-temp:
	$(if $(ISOLATION),$(pg_isolation_regress_installcheck) --temp-instance=./tmp_check_iso $(ISOLATION_OPTS) $(ISOLATION),@echo "no isolation tests")
tap-temp:
	$(prove_installcheck)
print-tests:
	@echo "REGRESS=$(REGRESS)"
	@echo "ISOLATION=$(ISOLATION)"
endif
