# Makefile for fluxcredits (PGXS)
#
# The two commands a user runs:
#   make demo    set up, build, install, start a throwaway cluster, walk the story
#   make test    set up, build, install, run every suite on throwaway clusters
# Both install what is missing (scripts/setup.sh) before building.

EXTENSION  = fluxcredits
MODULE_big = fluxcredits
OBJS       = $(patsubst %.c,%.o,$(sort $(wildcard src/*.c)))
DATA       = $(sort $(wildcard sql/fluxcredits--*.sql))
PGFILEDESC = "fluxcredits - usage-credit metering"

# One name per sql/NAME.sql (regress) and specs/NAME.spec (isolation); a
# regress test and a spec may not share a name.
REGRESS    = billing_period billing_period_sqldef
ISOLATION  =
TAP_TESTS  = 1

REGRESS_OPTS    = --temp-config=$(srcdir)/scripts/test.conf
ISOLATION_OPTS  = --temp-config=$(srcdir)/scripts/test.conf

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs 2>/dev/null)

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

ifneq ($(wildcard $(PGXS)),)
include $(PGXS)

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
