# mplab — multipath transport lab.
#
#   make              build build/mplab and build/libtcpls.a; installs nothing: when a package is
#                     missing it stops and names it (scripts/check-deps.sh)
#   make deps         install the Debian packages mplab needs (as root; scripts/install-deps.sh)
#   make check        deps, then the whole default test suite (format and layering checks,
#                     warnings as errors, unit, sim, sanitizers, e2e, fuzz smoke)
#   make run          deps, then README's main job: the default experiment
#   make tests        build/mplab, the unit and simulation tests and the benchmarks
#   make install      put mplab on PATH (PREFIX=/usr/local)
#   make format       apply .clang-format;  make format-check: fail on unformatted files
#   make san          build everything with ASan+UBSan into build-san/
#   make fuzz         build the libFuzzer targets (clang) into build-fuzz/
#   make fuzz-long    run every fuzz target for 10 minutes;  make soak: the 10-minute TCPLS soak
#
# Sources are found by wildcard: add a file, it is built. Unit tests are tests/unit/test_*.c,
# simulation tests tests/sim/sim_*.c, end-to-end tests tests/e2e/*.sh, fuzz targets fuzz/fuzz_*.c.
# Every cmocka binary links tests/support/*.c and tests/test_filter.c (TEST_FILTER=NAME runs
# one test case: sh tests/run.sh --help).
# 'run' and 'check' (README's two set-up commands) install missing packages first, so that they
# do the whole set-up on a fresh Debian machine; compiling never does.

PREFIX  ?= /usr/local
BUILD   ?= build
CC      ?= cc
WERROR  ?= 1
SAN     ?= 0
OPT     ?= -O2

PKGS     := libssl libcrypto libmnl
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null || echo -lssl -lcrypto -lmnl)

CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Wshadow -Wno-unused-parameter \
              -Wmissing-prototypes -Wstrict-prototypes -fno-strict-aliasing \
              -Iinclude -Ilib -Isrc $(PKG_CFLAGS) -MMD -MP
ifeq ($(WERROR),1)
CFLAGS_ALL += -Werror
endif
ifeq ($(SAN),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDFLAGS_SAN := -fsanitize=address,undefined
endif
LDLIBS_ALL := $(PKG_LIBS) -lm -lpthread $(LDFLAGS_SAN)

LIB_SRC   := $(sort $(wildcard lib/*.c))
APP_SRC   := $(sort $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c)))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))
SIM_SRC   := $(sort $(wildcard tests/sim/sim_*.c))
TSUP_SRC  := $(sort $(wildcard tests/support/*.c))
TFILTER_SRC := tests/test_filter.c
BENCH_SRC := $(sort $(wildcard bench/*.c))

LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_OBJ   := $(APP_SRC:%.c=$(BUILD)/%.o)
TSUP_OBJ  := $(TSUP_SRC:%.c=$(BUILD)/%.o) $(TFILTER_SRC:%.c=$(BUILD)/%.o)
UNIT_BIN  := $(UNIT_SRC:%.c=$(BUILD)/%)
SIM_BIN   := $(SIM_SRC:%.c=$(BUILD)/%)
BENCH_BIN := $(BENCH_SRC:%.c=$(BUILD)/%)

LIBTCPLS  := $(BUILD)/libtcpls.a
# Test hooks (tcpls__session_feed_frames, MPLAB_TCPLS_INJECT...) exist only in a second build
# of the library and of the TCPLS client, compiled with -DTCPLS_TESTING into $(BUILD)/testing/:
# tests, benchmarks and fuzz targets link it, build/mplab never contains it.
LIB_OBJ_T := $(LIB_SRC:%.c=$(BUILD)/testing/%.o)
LIBTCPLS_T := $(BUILD)/libtcpls-testing.a
MPLAB_T   := $(BUILD)/mplab-testing
LIBAPP    := $(BUILD)/libmplab-app.a
MPLAB     := $(BUILD)/mplab

.SECONDARY:
.PHONY: all check run install format format-check san fuzz tests clean unit sim e2e bench deps \
        check-build-deps check-test-deps check-fuzz-deps soak soak-short fuzz-long
.DEFAULT_GOAL := all

all: $(MPLAB) $(LIBTCPLS)

deps:
	@sh scripts/install-deps.sh

# Compiling only checks that the packages are there (order-only: nothing is rebuilt for it).
check-build-deps:
	@CC="$(CC)" sh scripts/check-deps.sh build
check-test-deps:
	@CC="$(CC)" sh scripts/check-deps.sh tests
check-fuzz-deps:
	@sh scripts/check-deps.sh fuzz

$(BUILD)/%.o: %.c | check-build-deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) $(TEST_DEFS) -c $< -o $@

# tests and benchmarks see the test hooks' declarations
$(BUILD)/tests/%.o $(BUILD)/bench/%.o: TEST_DEFS = -DTCPLS_TESTING

$(LIBTCPLS): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/testing/%.o: %.c | check-build-deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -DTCPLS_TESTING -c $< -o $@

$(LIBTCPLS_T): $(LIB_OBJ_T)
	@rm -f $@
	ar rcs $@ $^

# mplab with the client's test hooks: its own tcpls_hooks.o comes first, the archive's is unused
$(MPLAB_T): $(BUILD)/src/main.o $(BUILD)/testing/src/xfer/tcpls_hooks.o $(LIBAPP) $(LIBTCPLS_T)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

$(LIBAPP): $(APP_OBJ)
	@rm -f $@
	ar rcsT $@ $^

$(MPLAB): $(BUILD)/src/main.o $(LIBAPP) $(LIBTCPLS)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/tests/unit/%: $(BUILD)/tests/unit/%.o $(TSUP_OBJ) $(LIBAPP) $(LIBTCPLS_T) | check-test-deps
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL) $(LDFLAGS)

$(BUILD)/tests/sim/%: $(BUILD)/tests/sim/%.o $(TSUP_OBJ) $(LIBAPP) $(LIBTCPLS_T) | check-test-deps
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -o $@ $^ -lcmocka $(LDLIBS_ALL) $(LDFLAGS)

# benchmarks may use the in-process client/server of tests/support (no cmocka there)
BENCH_SUPPORT := $(BUILD)/tests/support/tcpls_test.o $(BUILD)/tests/support/pairnet.o
$(BUILD)/bench/%: $(BUILD)/bench/%.o $(BENCH_SUPPORT) $(LIBAPP) $(LIBTCPLS_T)
	$(CC) $(CFLAGS_ALL) $(CFLAGS) -o $@ $^ $(LDLIBS_ALL) $(LDFLAGS)

tests: all $(UNIT_BIN) $(SIM_BIN) $(BENCH_BIN) $(MPLAB_T)

# The default suite: everything CI checks. tests/run.sh prints the closing 'N passed, N failed' line.
check: deps
	@sh scripts/format.sh --check
	@sh scripts/layering.sh
	$(MAKE) tests
	$(MAKE) BUILD=build-san SAN=1 OPT=-O1 tests
	$(MAKE) fuzz
	sh tests/run.sh

unit: tests
	sh tests/run.sh --only unit
sim: tests
	sh tests/run.sh --only sim
e2e: tests
	sh tests/run.sh --only e2e

san:
	$(MAKE) BUILD=build-san SAN=1 OPT=-O1 tests

# The long TCPLS soak (tests/soak.sh): 10 minutes, at least 200 faults; SOAK_ARGS adds options
# (e.g. SOAK_ARGS="--seed 42"). soak-short: 60 s, at least 30 faults; make check runs it
# (tests/e2e/tcpls_soak.sh).
soak: tests
	sh tests/soak.sh --seconds 600 --min-faults 200 $(SOAK_ARGS)
soak-short: tests
	sh tests/soak_short.sh

# Every fuzz target for FUZZ_LONG_SECONDS (600) each, one after the other.
FUZZ_LONG_SECONDS ?= 600
fuzz-long: fuzz
	FUZZ_SECONDS=$(FUZZ_LONG_SECONDS) sh tests/run.sh --only fuzz

# libFuzzer targets: fuzz/fuzz_NAME.c links against the library and app objects built with clang.
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BIN := $(FUZZ_SRC:fuzz/%.c=build-fuzz/%)
# the in-process client/server of tests/support, for fuzz_session (no cmocka in there)
FUZZ_SUPPORT := tests/support/tcpls_test.c tests/support/pairnet.c
fuzz: check-fuzz-deps
	@if [ -n "$(FUZZ_SRC)" ]; then \
	  $(MAKE) BUILD=build-fuzz CC=clang WERROR=$(WERROR) OPT=-O1 \
	    CFLAGS="-fsanitize=fuzzer-no-link,address,undefined -DTCPLS_TESTING" \
	    build-fuzz/libtcpls.a build-fuzz/libmplab-app.a && \
	  for f in $(FUZZ_SRC); do \
	    n=$$(basename $$f .c); \
	    clang $(CFLAGS_ALL) -O1 -DTCPLS_TESTING -fsanitize=fuzzer,address,undefined -o build-fuzz/$$n $$f $(FUZZ_SUPPORT) \
	      build-fuzz/libmplab-app.a build-fuzz/libtcpls.a $(LDLIBS_ALL) || exit 1; \
	  done; fi

bench: all $(BENCH_BIN)

run: deps
	$(MAKE) all
	sh scripts/run-main.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib $(DESTDIR)$(PREFIX)/include
	install -m 755 $(MPLAB) $(DESTDIR)$(PREFIX)/bin/mplab
	install -m 644 $(LIBTCPLS) $(DESTDIR)$(PREFIX)/lib/libtcpls.a
	install -m 644 include/tcpls.h $(DESTDIR)$(PREFIX)/include/tcpls.h

format:
	@sh scripts/format.sh

format-check:
	@sh scripts/format.sh --check

clean:
	rm -rf build build-san build-fuzz

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
