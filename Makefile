# packtrack.h - build, test, demo, bench.
#   make demo    builds the examples and shows events flowing into a local sink
#   make test    header hygiene checks + the test suite in every build variant
#   make bench   prints the SPEC section 7 figures on this machine
CC      ?= cc
CXX     ?= c++
WARN    := -Wall -Wextra -pedantic
# the strict set engines build with; examples must stay clean under it
STRICT  := $(WARN) -Wshadow -Wconversion -Wsign-conversion -Wcast-qual -Wundef -Wdouble-promotion \
           -Wstrict-prototypes -Wmissing-prototypes
B       := build
# tests the valgrind runs leave out (see tests/matrix.sh for why)
VALGRIND_EXCLUDE := -spool_disk_full -spool_new_events_after_settled -pipeline_fork -pipeline_concurrency
TEST_SRC := tests/run.c
TEST_DEPS := packtrack.h $(wildcard tests/*.c tests/*.h tests/fuzz/*.h)
TEST_LIBS := -lpthread -lz -lm
DEBUG   := -O1 -g -fno-omit-frame-pointer

.PHONY: fuzz mutate all test test-quick test-default test-curl test-libdeflate test-asan test-tsan test-valgrind \
        test-windows test-fresh test-nm test-wasm test-packaging check-compile demo bench size coverage clean examples

all: examples $(B)/run

$(B):
	@mkdir -p $(B)

# ---- test runners, one per build variant --------------------------------
$(B)/run: $(TEST_DEPS) | $(B)
	$(CC) -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -o $@ $(TEST_SRC) $(TEST_LIBS)
$(B)/run-curl: $(TEST_DEPS) | $(B)
	$(CC) -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB -o $@ $(TEST_SRC) -lcurl $(TEST_LIBS)
# run-time libcurl loading off: https is a config error (tests/test_tls.c)
$(B)/run-nodlopen: $(TEST_DEPS) | $(B)
	$(CC) -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -DPACKTRACK_NO_DLOPEN -o $@ $(TEST_SRC) $(TEST_LIBS)
$(B)/run-libdeflate: $(TEST_DEPS) | $(B)
	$(CC) -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -DPACKTRACK_USE_LIBDEFLATE -o $@ $(TEST_SRC) -ldeflate $(TEST_LIBS)
$(B)/run-asan: $(TEST_DEPS) | $(B)
	clang -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -o $@ $(TEST_SRC) $(TEST_LIBS)
$(B)/run-tsan: $(TEST_DEPS) | $(B)
	clang -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -fsanitize=thread -o $@ $(TEST_SRC) $(TEST_LIBS)
# the sanitizers over the optional backends (curl + zlib, libdeflate)
$(B)/run-asan-curl: $(TEST_DEPS) | $(B)
	clang -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB -o $@ $(TEST_SRC) -lcurl $(TEST_LIBS)
$(B)/run-tsan-curl: $(TEST_DEPS) | $(B)
	clang -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -fsanitize=thread -DPACKTRACK_USE_CURL -DPACKTRACK_USE_ZLIB -o $@ $(TEST_SRC) -lcurl $(TEST_LIBS)
$(B)/run-asan-libdeflate: $(TEST_DEPS) | $(B)
	clang -std=c99 $(DEBUG) $(WARN) $(CPPFLAGS) -fsanitize=address,undefined -fno-sanitize-recover=undefined -DPACKTRACK_USE_LIBDEFLATE -o $@ $(TEST_SRC) -ldeflate $(TEST_LIBS)
$(B)/run-cxx: $(TEST_DEPS) | $(B)
	$(CXX) -std=c++11 -x c++ $(DEBUG) $(WARN) $(CPPFLAGS) -o $@ $(TEST_SRC) $(TEST_LIBS)

# `make test` is what CI runs: everything, with one closing summary line.
# Missing optional tools skip their variant loudly; CI=true makes that a failure.
# First, the fresh-machine check (tests/fresh_machine.sh --quick; FRESH_CHECK=0 skips it),
# so that the matrix summary is the last line of `make test`.
FRESH_CHECK ?= 1
test: check-compile examples
	@if [ "$(FRESH_CHECK)" = 1 ]; then B=$(B) sh tests/fresh_machine.sh --quick; fi
	@B=$(B) VALGRIND_EXCLUDE="$(VALGRIND_EXCLUDE)" sh tests/matrix.sh
# the whole `make test` on a simulated fresh Debian (build-essential python3 zlib1g-dev)
test-fresh: | $(B)
	@B=$(B) sh tests/fresh_machine.sh

# the CLI tests drive $(B)/packtrack-logger: rebuilt with the runner (in parallel) when stale
$(B)/packtrack-logger: packtrack.h examples/packtrack-logger.c | $(B)
	$(CC) -std=c99 -O2 $(STRICT) -Werror -o $@ examples/packtrack-logger.c -lpthread -lz -lm
test-quick:
	@$(MAKE) -s -j2 $(B)/run $(B)/packtrack-logger
	@sh tests/quick.sh $(B) $(T)
test-default: $(B)/run
	./$(B)/run $(T)
test-curl: $(B)/run-curl
	./$(B)/run-curl $(T)
test-libdeflate: $(B)/run-libdeflate
	./$(B)/run-libdeflate $(T)
test-asan: $(B)/run-asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./$(B)/run-asan $(T)
test-tsan: $(B)/run-tsan
	TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1" ./$(B)/run-tsan $(T)
test-valgrind: $(B)/run
	valgrind -q --fair-sched=yes --child-silent-after-fork=yes --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect ./$(B)/run $(or $(T),$(VALGRIND_EXCLUDE))
# Windows: mingw-w64 cross build run under wine (skips if either is missing)
test-windows: | $(B)
	B=$(B) sh tests/win/run.sh $(T)

# C-library-only core: no thread/socket/file symbol (nm), and under node as wasm
test-nm: | $(B)
	B=$(B) sh tests/nm_check.sh
test-wasm: | $(B)
	B=$(B) sh tests/wasm/run.sh
# CMake target + pkg-config file: tests/consumer built every way a user takes packtrack
test-packaging: | $(B)
	B=$(B) sh tests/packaging.sh

# ---- header hygiene: C99/C11 x gcc/clang, C++11/17 x g++/clang++, two TUs,
#      PACKTRACK_API static, no OS header through the declarations -----------
check-compile: | $(B)
	@B=$(B) sh tests/compile_check.sh

# ---- examples and demo ----------------------------------------------------
examples: | $(B)
	@sh -c 'for f in examples/*.c; do [ -f "$$f" ] || continue; n=$$(basename $$f .c); \
	  $(CC) -std=c99 -O2 $(STRICT) -Werror -o $(B)/$$n $$f -lpthread -lz -lm || exit 1; done'

demo: examples
	@sh examples/demo.sh $(B)

bench: | $(B)
	@sh bench/run.sh $(B)

size: | $(B)
	@sh bench/size.sh $(B)

# mutation testing: each tests/mutants/*.mut applied alone to a copy of the
# header; its named tests must fail (tests/mutate.sh; M=substring selects)
mutate: | $(B)
	@B=$(B) sh tests/mutate.sh $(M)

fuzz:
	@sh tests/fuzz/run.sh $(or $(SECS),20)

coverage: | $(B)
	@sh tests/coverage.sh $(B)

clean:
	rm -rf $(B)
