# recscope - build, test, demo and install.
#
#   make            build build/recscope (installs missing Debian packages first)
#   make test       the whole test suite (unit, unit under ASan/UBSan, fuzz
#                   corpus, CLI, crash, hostile input, concurrency, TUI)
#   make unit       the fast unit tests alone (UNIT_ML100K=1: with their MovieLens checks)
#   make demo       build, generate + import the sample database, open the TUI
#   make bench      benchmarks (import speed, ...)
#   make gpu-test   the CPU/GPU parity tests, built from engine/ and gpu/ alone
#   make bench-gpu  ALS fit and batch scoring, CPU against GPU (20M interactions)
#   make asan       the ASan/UBSan build under build/asan
#   make fuzz       libFuzzer on each target in tests/fuzz/ for FUZZ_SECONDS (60)
#                   each (clang; installs clang and libclang-rt-14-dev first)
#   make fuzz-regress  every committed fuzz corpus/regression input through
#                   the targets, built with gcc + ASan (part of make test)
#   make memcheck   the unit and CLI tests under valgrind memcheck (slow)
#   make crash-test SIGKILL in the middle of import, train and split
#   make hostile-test, make concurrency-test  (both part of make test)
#   make install    PREFIX=/usr/local (DESTDIR honoured)
#   make deps       install the Debian packages recscope needs
#   NO_CUDA=1       build without CUDA even when nvcc is present

BUILD ?= build
PREFIX ?= /usr/local
CC ?= cc
SAN ?=
OPT ?= -O2

NOCONFIG_GOALS := clean deps help distclean gpu-test bench-gpu
ifneq ($(filter-out $(NOCONFIG_GOALS),$(or $(MAKECMDGOALS),all)),)
-include $(BUILD)/config.mk
endif

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
BASE_CFLAGS := -std=c11 $(WARN) $(OPT) -g -D_GNU_SOURCE -pthread $(SAN)
LDFLAGS_ALL := -pthread $(SAN)

ENGINE_SRC := $(wildcard engine/*.c)
STORE_SRC := $(wildcard store/*.c)
TUI_SRC := $(filter-out tui/main.c,$(wildcard tui/*.c))
TEST_SRC := $(wildcard tests/test_*.c)

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/%.o)
TUI_OBJ := $(TUI_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
FUZZ_TARGETS := ml100k ml1m mllatest csv model config
FUZZ_RUN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/run_%)

# gpu/*.cu: the CUDA runtime is linked statically; cuBLAS is loaded at run
# time (gpu/gpu_cuda.cu), so the binary needs no CUDA shared library.
CUDA_ARCH ?= -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=[sm_90,compute_90]
GPU_CU := $(wildcard gpu/*.cu)
GPU_HDR := gpu/gpu_internal.h engine/backend.h engine/common.h engine/dataset.h
NVCC_FLAGS = -O2 -std=c++17 $(CUDA_ARCH) -Xcompiler -Wall,-Wextra,-Werror -Iengine \
    -DRS_CUDA_HOME='"$(1)"'
cuda_libs = -L$(1)/lib64 -L$(1)/targets/x86_64-linux/lib -lcudart_static -ldl -lrt -lstdc++
ifneq ($(NVCC),)
GPU_OBJ := $(GPU_CU:%.cu=$(BUILD)/%.o)
GPU_LIBS := $(call cuda_libs,$(CUDA_HOME))
else
GPU_OBJ := $(BUILD)/gpu/gpu_none.o
GPU_LIBS :=
endif

LIBS := $(BUILD)/libtui.a $(BUILD)/libstore.a $(BUILD)/libengine.a $(BUILD)/libgpu.a
LDLIBS := $(PKG_LIBS) $(GPU_LIBS)

.PHONY: fuzz fuzz-regress fuzz-seeds memcheck crash-test hostile-test concurrency-test gpu-test bench-gpu quality-test all test unit asan asan-unit asan-cli nocuda-test cli-test tui-test man-test demo bench install deps clean help check-layers tests-bin
.DEFAULT_GOAL := all

all: $(BUILD)/recscope

$(BUILD)/config.mk: mk/configure.sh mk/cuda.sh mk/deps.sh
	@mkdir -p $(BUILD)
	@sh mk/deps.sh check >/dev/null || sh mk/deps.sh install
	@sh mk/configure.sh > $@.tmp && mv $@.tmp $@

deps:
	sh mk/deps.sh install

# Each module is compiled with only the include paths it may use.
$(BUILD)/engine/%.o: engine/%.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Iengine $(ENGINE_PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/store/%.o: store/%.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Istore -Iengine $(STORE_PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/tui/%.o: tui/%.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itui -Istore -Iengine $(TUI_PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gpu/gpu_none.o: gpu/gpu_none.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Iengine -MMD -MP -c $< -o $@

$(BUILD)/gpu/%.o: gpu/%.cu $(GPU_HDR) | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(NVCC) $(call NVCC_FLAGS,$(CUDA_HOME)) -c $< -o $@

$(BUILD)/tests/%.o: tests/%.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Wno-missing-prototypes -Itests -Itui -Istore -Iengine $(TUI_PKG_CFLAGS) $(ENGINE_PKG_CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/libengine.a: $(ENGINE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libstore.a: $(STORE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libtui.a: $(TUI_OBJ)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libgpu.a: $(GPU_OBJ)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/recscope: $(BUILD)/tui/main.o $(LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(BUILD)/tests/testutil.o $(LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS) $(TEST_LIBS)

tests-bin: $(TEST_BIN) $(BUILD)/recscope $(FUZZ_RUN)

# --- fuzz targets ----------------------------------------------------------
# Each tests/fuzz/fuzz_T.c is linked twice: run_T with driver.c (gcc, reads
# the files named on its command line: make test runs the committed corpus),
# and lf_T with libFuzzer (clang, make fuzz, BUILD=build/fuzz).
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS = $(BASE_CFLAGS) -Wno-missing-prototypes -Itests/fuzz -Itui -Istore -Iengine \
    $(TUI_PKG_CFLAGS) $(ENGINE_PKG_CFLAGS)
FUZZ_SAN := -fsanitize=address,undefined,fuzzer-no-link -fno-omit-frame-pointer \
    -fno-sanitize-recover=undefined

$(BUILD)/fuzz/%.o: tests/fuzz/%.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@
$(BUILD)/fuzz/mkseeds_model.o: tests/fuzz/fuzz_model.c | $(BUILD)/config.mk
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_CFLAGS) -DFUZZ_MODEL_SEEDS -MMD -MP -c $< -o $@
$(BUILD)/fuzz/run_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/fuzz_common.o $(BUILD)/fuzz/driver.o $(LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/lf_%: $(BUILD)/fuzz/fuzz_%.o $(BUILD)/fuzz/fuzz_common.o $(LIBS)
	$(CC) $(LDFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)
$(BUILD)/fuzz/mkseeds_model: $(BUILD)/fuzz/mkseeds_model.o $(LIBS)
	$(CC) $(LDFLAGS_ALL) -o $@ $^ $(LDLIBS)

# The model target's seeds: every class trained on a fixed small input.
fuzz-seeds: $(BUILD)/fuzz/mkseeds_model
	@mkdir -p tests/fuzz/corpus/model
	$(BUILD)/fuzz/mkseeds_model tests/fuzz/corpus/model

fuzz-regress: asan
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/fuzz/run_corpus.sh build/asan $(FUZZ_TARGETS)

fuzz:
	@sh mk/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang NO_CUDA=1 OPT=-O1 SAN="$(FUZZ_SAN)" \
	    $(FUZZ_TARGETS:%=build/fuzz/fuzz/lf_%)
	@sh tests/fuzz/run_fuzz.sh build/fuzz $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# --- tests ---------------------------------------------------------------
# The MovieLens-100K checks inside the unit tests (models' quality, seconds
# each) run only with UNIT_ML100K=1, which make test sets: make unit alone
# stays under a minute.
unit: $(TEST_BIN) $(BUILD)/recscope check-layers
	@$(if $(UNIT_ML100K),,echo "unit: the MovieLens-100K checks are skipped (make unit UNIT_ML100K=1 runs them; make test does)"; RECSCOPE_ML100K= )sh tests/run_unit.sh $(BUILD) $(TEST_BIN)

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" build/asan/recscope tests-bin

asan-unit: asan
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    sh tests/run_unit.sh build/asan $(TEST_SRC:tests/%.c=build/asan/tests/%)

cli-test: $(BUILD)/recscope
	@sh tests/cli_test.sh $(BUILD)/recscope

# The build without nvcc: it must succeed and say so.
nocuda-test:
	@$(MAKE) --no-print-directory BUILD=build/nocuda NO_CUDA=1 build/nocuda/recscope >/dev/null
	@if build/nocuda/recscope --version | grep -q "CUDA: not built"; then \
	    echo "nocuda: 1 passed, 0 failed"; r="1 0"; else \
	    echo "nocuda: 0 passed, 1 failed"; r="0 1"; fi; \
	    [ -n "$${RS_RESULTS:-}" ] && echo "$$r nocuda" >> "$$RS_RESULTS"; [ "$$r" = "1 0" ]

# The command-line tests again on the ASan/UBSan binary (leaks included).
asan-cli: asan
	@ASAN_OPTIONS=detect_leaks=1 RS_SUITE=cli-asan sh tests/cli_test.sh build/asan/recscope

# Model quality on MovieLens-100K through the real commands.
quality-test: $(BUILD)/recscope
	@sh tests/quality_test.sh $(BUILD)/recscope

# valgrind memcheck over the unit tests and the CLI tests (slow; not in
# make test). Installs valgrind first.
memcheck: $(TEST_BIN) $(BUILD)/recscope $(FUZZ_RUN)
	@sh mk/deps.sh memcheck
	@sh tests/memcheck.sh $(BUILD)

# SIGKILL in the middle of import, split and train; the database survives.
crash-test: $(BUILD)/recscope
	@sh tests/crash_test.sh $(BUILD)/recscope

# Hostile ids, titles, escape sequences, huge fields, foreign, newer,
# read-only databases and tampered model blobs.
hostile-test: $(BUILD)/recscope
	@sh tests/hostile_test.sh $(BUILD)/recscope

# Readers in a loop while two processes import, split and train.
concurrency-test: $(BUILD)/recscope
	@sh tests/concurrency_test.sh $(BUILD)/recscope

tui-test: $(BUILD)/recscope
	@sh tests/tui_test.sh $(BUILD)/recscope
	@sh tests/tui_storm.sh $(BUILD)/recscope

# The README's test command. Fast unit tests first, then the same tests
# under ASan/UBSan, then the command-line and terminal tests; one closing
# line sums them all.
RESULTS := $(abspath build/test-results)
test:
	@rm -f $(RESULTS); mkdir -p build
	@$(MAKE) --no-print-directory RS_RESULTS=$(RESULTS) UNIT_ML100K=1 unit asan-unit fuzz-regress cli-test asan-cli crash-test hostile-test concurrency-test quality-test tui-test man-test nocuda-test
	@sh tests/summary.sh $(RESULTS)

man-test: $(BUILD)/recscope
	@sh tests/check_man.sh $(BUILD)/recscope

check-layers:
	@sh tests/check_layers.sh

# --- demo, bench, install ------------------------------------------------
SAMPLE_DB := $(BUILD)/sample.db
$(SAMPLE_DB): $(BUILD)/recscope $(wildcard sample-data/*.csv)
	@rm -f $@ $@-wal $@-shm
	$(BUILD)/recscope import $@ sample-data

demo: $(BUILD)/recscope $(SAMPLE_DB)
	$(BUILD)/recscope $(SAMPLE_DB)

$(BUILD)/bench/%: tests/bench/%.c $(LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(BASE_CFLAGS) -Itests -Istore -Iengine $(ENGINE_PKG_CFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

BENCH_BIN := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(filter-out tests/bench/bench_gpu.c,$(wildcard tests/bench/bench_*.c)))
bench: $(BUILD)/recscope $(BENCH_BIN)
	@sh tests/bench/run.sh $(BUILD)/recscope $(BUILD)/bench

# --- GPU tests and benchmark --------------------------------------------------
# Built from engine/, gpu/ and the test alone under build/gpu-test, without
# build/config.mk (no ncurses, SQLite, libcsv or cmocka), so that they build
# on a GPU machine with the CUDA toolkit and no Debian -dev packages:
# OpenBLAS comes from .gpu-deps/ when gpu/fetch_deps.sh has filled it (found
# at run time through an rpath relative to the binaries), else from
# pkg-config. Without nvcc (or with NO_CUDA=1) they build against
# gpu/gpu_none.c and skip.
GT := build/gpu-test
GT_FOUND := $(if $(filter gpu-test bench-gpu $(GT)/%,$(MAKECMDGOALS)),$(shell NO_CUDA=$(NO_CUDA) sh mk/cuda.sh))
GT_NVCC := $(word 1,$(GT_FOUND))
GT_CUDA := $(word 2,$(GT_FOUND))
GT_DEPLIB := .gpu-deps/usr/lib/x86_64-linux-gnu
ifneq ($(wildcard .gpu-deps/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h),)
GT_BLAS_CFLAGS := -I.gpu-deps/usr/include/x86_64-linux-gnu/openblas-pthread
GT_BLAS_LIBS := -L$(GT_DEPLIB)/openblas-pthread -lopenblas -Wl,-rpath-link,$(GT_DEPLIB) \
    -Wl,--disable-new-dtags,-rpath,'$$ORIGIN/../../$(GT_DEPLIB)/openblas-pthread:$$ORIGIN/../../$(GT_DEPLIB)'
else
GT_BLAS_CFLAGS := $(shell pkg-config --cflags openblas 2>/dev/null)
GT_BLAS_LIBS := $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
endif
GT_ENGINE_OBJ := $(ENGINE_SRC:%.c=$(GT)/%.o)
GT_GPU_OBJ := $(if $(GT_NVCC),$(GPU_CU:%.cu=$(GT)/%.o),$(GT)/gpu/gpu_none.o)
GT_LIBS := $(GT_BLAS_LIBS) -lm $(if $(GT_NVCC),$(call cuda_libs,$(GT_CUDA)))
GT_CFLAGS := -std=c11 $(WARN) -O2 -g -D_GNU_SOURCE -pthread

$(GT)/engine/%.o: engine/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GT_CFLAGS) -Iengine $(GT_BLAS_CFLAGS) -MMD -MP -c $< -o $@
$(GT)/gpu/gpu_none.o: gpu/gpu_none.c
	@mkdir -p $(dir $@)
	$(CC) $(GT_CFLAGS) -Iengine -MMD -MP -c $< -o $@
$(GT)/gpu/%.o: gpu/%.cu $(GPU_HDR)
	@mkdir -p $(dir $@)
	$(GT_NVCC) $(call NVCC_FLAGS,$(GT_CUDA)) -c $< -o $@
$(GT)/libengine.a: $(GT_ENGINE_OBJ)
	@rm -f $@; ar rcs $@ $^
$(GT)/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GT_CFLAGS) -Wno-missing-prototypes -Iengine $(GT_BLAS_CFLAGS) -MMD -MP -c $< -o $@
$(GT)/%.o: tests/bench/%.c
	@mkdir -p $(dir $@)
	$(CC) $(GT_CFLAGS) -Wno-missing-prototypes -Iengine $(GT_BLAS_CFLAGS) -MMD -MP -c $< -o $@
$(GT)/test_gpu $(GT)/bench_gpu: $(GT)/%: $(GT)/%.o $(GT_GPU_OBJ) $(GT)/libengine.a
	$(CC) -pthread -o $@ $^ $(GT_LIBS)

gpu-test: $(GT)/test_gpu
	@$(GT)/test_gpu

bench-gpu: $(GT)/bench_gpu
	@$(GT)/bench_gpu

install: $(BUILD)/recscope
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1
	install -m 755 $(BUILD)/recscope $(DESTDIR)$(PREFIX)/bin/recscope
	install -m 644 man/recscope.1 $(DESTDIR)$(PREFIX)/share/man/man1/recscope.1

clean:
	rm -rf build

help:
	@sed -n '1,/^$$/p' Makefile | sed 's/^# \{0,1\}//'

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
.SECONDARY:
