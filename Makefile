# rotorbench: build, test and sweep. `make help` lists the targets.
#
# Knobs:  CUDA_HOME (found through nvcc), CJSON_PREFIX (a cJSON install prefix, e.g. an
#         unpacked .deb: .deps/usr), NVCC_ARCH (the -gencode list), CONFIG (for sweep),
#         V=1 (print every compile line).

# In parallel on every core unless the command line says -j: a first build is mostly nvcc, one
# process per kernel file.
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif
# Quiet: one short line per file on stderr, so `make sweep > table.md` holds only the table.
# V=1 prints the full commands instead.
V ?=
Q  = $(if $(filter 1,$(V)),,@)
say = $(if $(filter 1,$(V)),,@echo '  $(1) $(2)' >&2)

NVCC       ?= $(shell command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)
CUDA_HOME  ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CJSON_PREFIX ?=
comma      := ,
CONFIG     ?= configs/paper18.json
BUILD      := build

# sm_90 machine code for the H100, plus compute_80 PTX that any newer GPU can JIT.
NVCC_ARCH  ?= -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80

CUDA_LIB   := $(firstword $(wildcard $(CUDA_HOME)/lib64 $(CUDA_HOME)/targets/x86_64-linux/lib))
CJSON_INC  := $(if $(CJSON_PREFIX),-I$(CJSON_PREFIX)/include)
CJSON_LIB  := $(if $(CJSON_PREFIX),$(addprefix -L,$(wildcard $(CJSON_PREFIX)/lib $(CJSON_PREFIX)/lib/x86_64-linux-gnu)) \
              $(addprefix -Wl$(comma)-rpath$(comma),$(abspath $(wildcard $(CJSON_PREFIX)/lib $(CJSON_PREFIX)/lib/x86_64-linux-gnu))))

# The revision written into results; GIT_REV / GIT_DIRTY from the environment win (a copy of the
# tree without its .git, e.g. on a lent GPU machine).
ifndef GIT_REV
GIT_REV    := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
endif
ifndef GIT_DIRTY
GIT_DIRTY  := $(shell test -n "$$(git status --porcelain --untracked-files=no 2>/dev/null)" && echo 1 || echo 0)
endif

CC         ?= gcc
CFLAGS     ?= -O2 -g
# WERROR=1 (CI): every warning of gcc and nvcc is an error
WERROR     ?=
# -ffp-contract=off: the CPU reference rounds each product where the kernels do (an explicit fmaf
# where they fuse), whatever -march a user adds
CFLAGS     += -std=c11 -Wall -Wextra -Wno-unused-function -fopenmp -D_GNU_SOURCE -ffp-contract=off \
              -Ikernels/common -Ikernels -Iharness -I$(CUDA_HOME)/include $(CJSON_INC) \
              -DRB_GIT_REV=\"$(GIT_REV)\" -DRB_GIT_DIRTY=$(GIT_DIRTY) $(if $(WERROR),-Werror)
NVCCFLAGS  ?= -O3 -lineinfo
NVCCFLAGS  += -std=c++17 $(NVCC_ARCH) -Ikernels/common -Iharness $(CJSON_INC) -Xcompiler -Wall \
              $(if $(WERROR),-Werror all-warnings -Xcompiler -Werror)
LDFLAGS    += -fopenmp -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) $(CJSON_LIB)
LDLIBS     += -lcjson -lcurand -lcudart -lstdc++ -lm -ldl

HARNESS_SRC := $(filter-out harness/main.c,$(wildcard harness/*.c))
HARNESS_OBJ := $(HARNESS_SRC:%.c=$(BUILD)/%.o)
KERNEL_SRC  := $(wildcard kernels/*.cu)
# The two longest nvcc runs build as several objects of one source each (-DRB_PART=0..n; the
# source says which part holds what): TurboQuant-dense (seven) and HQMQ (eleven). Whole, they took
# 255 s and 169 s on one core and held a parallel build.
TQD_OBJ     := $(foreach p,0 1 2 3 4 5 6,$(BUILD)/kernels/turboquant_dense.p$(p).o)
HQ_OBJ      := $(foreach p,0 1 2 3 4 5 6 7 8 9 10,$(BUILD)/kernels/hqmq.p$(p).o)
# a part leaves the helpers of the other parts unused: not a warning there (177: a function, 550: a variable)
PART_FLAGS  := -diag-suppress 177,550 -Xcompiler -Wno-unused-function
KERNEL_OBJ  := $(filter-out $(BUILD)/kernels/turboquant_dense.o $(BUILD)/kernels/hqmq.o,$(KERNEL_SRC:%.cu=$(BUILD)/%.o)) \
               $(TQD_OBJ) $(HQ_OBJ)
TEST_SRC    := $(wildcard tests/test_*.c) tests/run_tests.c
TEST_OBJ    := $(TEST_SRC:%.c=$(BUILD)/%.o)
GPU_TEST_SRC := $(wildcard tests/gpu/*.c)
GPU_TEST_OBJ := $(GPU_TEST_SRC:%.c=$(BUILD)/%.o)
HEADERS     := $(wildcard kernels/common/*.h kernels/*.h kernels/*.cuh harness/*.h tests/*.h)
# Objects depend on the headers they include, as the compilers list them (-MMD -MP: a .d file
# beside each object); HEADERS is only for the few programs built straight from sources.
DEPFLAGS    := -MMD -MP

.PHONY: docs-test tc-check examples plugin all help deps test test-gpu test-asan sweep profile-ncu sass latency-floor fuzz plots regress clean kernels

all: $(BUILD)/rotorbench $(BUILD)/latency_floor $(BUILD)/tc_dense_check examples

help:
	@echo "make               build build/rotorbench"
	@echo "make deps          install cJSON and gnuplot (Debian) if missing"
	@echo "make test          CPU test suite (no GPU needed); also compiles every kernel"
	@echo "                   PLUGIN=lib.so: the registry-driven tests over a plugin's methods too"
	@echo "make plugin        SRC=mine.cu: a method plugin, build/plugins/libmine.so (docs/adding-a-method.md)"
	@echo "make test-gpu      kernels vs the CPU reference on a GPU"
	@echo "make test-asan     the CPU suite built with AddressSanitizer + UBSan"
	@echo "make sweep         run CONFIG=$(CONFIG) on the GPU if present, else the CPU (table on stdout)"
	@echo "make examples      the example plugin build/examples/libexample_signs.so (examples/plugin/)"
	@echo "make docs-test     run every README/docs shell example marked runnable (tests/docs_examples.sh)"
	@echo "make regress       run configs/smoke.json, compare with results/baseline/ (BACKEND=cpu|gpu)"
	@echo "make plots         PNGs from PLOT_CSV (default out/paper18-gpu.csv, else -cpu.csv) into PLOT_DIR (out/plots/NAME-BACKEND/)"
	@echo "make V=1 ...       print every compile command (default: one short line per file, on stderr)"
	@echo "make fuzz          the config loader under libFuzzer for FUZZ_TIME=$(FUZZ_TIME) s"
	@echo "make profile-ncu   print (RUN=1: run) the ncu command for one kernel"
	@echo "make sass          SASS and instruction mix of SASS=$(SASS) (kernels/\$$SASS.cu), no GPU"
	@echo "make tc-check      TurboQuant-dense on the tensor cores alone: bounds, MSE, time vs copy, roof, cuBLAS (GPU)"
	@echo "make latency-floor the launch / copy / prologue rungs under the N = 8192 latency (GPU)"

deps:
	@CJSON_PREFIX='$(CJSON_PREFIX)' sh tests/deps.sh

# Before anything is compiled: what the build needs is there (as root: installed), else one
# line with the command to run and make stops (status 2).
DEPS_OK := $(BUILD)/deps.ok
$(DEPS_OK): tests/deps.sh
	@mkdir -p $(dir $@)
	@CJSON_PREFIX='$(CJSON_PREFIX)' sh tests/deps.sh --build
	@touch $@

$(BUILD)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,CC,$<)
	$(Q)$(CC) $(CFLAGS) $(DEPFLAGS) -c $< -o $@

# results.o writes the revision into every result: rebuild it whenever the revision or the
# dirty flag changes (make does not track -D flags). GIT_REV=... on the command line overrides.
GIT_STAMP := $(BUILD)/git_rev.stamp
$(shell mkdir -p $(BUILD) && (echo "$(GIT_REV) $(GIT_DIRTY)" | cmp -s - $(GIT_STAMP) || echo "$(GIT_REV) $(GIT_DIRTY)" > $(GIT_STAMP)))
$(BUILD)/harness/results.o $(BUILD)/asan/harness/results.o: $(GIT_STAMP)

$(BUILD)/%.o: %.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(NVCCFLAGS) $(DEPFLAGS) -c $< -o $@

# The tensor-core TurboQuant-dense kernel and its roof use wgmma, which only sm_90a machine code
# has: these files get sm_90a in place of sm_90 (the only cubin a 9.0 device can load, so the
# wgmma code is the one that runs there) and RBTC_WGMMA, which lets the host take that route.
# Without sm_90 in NVCC_ARCH they build as the rest, on mma.sync.
TC_FLAGS = $(if $(findstring code=sm_90,$(NVCCFLAGS)),$(subst arch=compute_90$(comma)code=sm_90,arch=compute_90a$(comma)code=sm_90a,$(NVCCFLAGS)) -DRBTC_WGMMA,$(NVCCFLAGS))
$(BUILD)/kernels/turboquant_dense.o $(BUILD)/kernels/tc_peak.o: $(BUILD)/%.o: %.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$<)
	$(Q)$(NVCC) $(TC_FLAGS) $(DEPFLAGS) -c $< -o $@
$(TQD_OBJ): $(BUILD)/kernels/turboquant_dense.p%.o: kernels/turboquant_dense.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$@)
	$(Q)$(NVCC) $(TC_FLAGS) $(PART_FLAGS) -DRB_PART=$* $(DEPFLAGS) -c $< -o $@
$(HQ_OBJ): $(BUILD)/kernels/hqmq.p%.o: kernels/hqmq.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$@)
	$(Q)$(NVCC) $(NVCCFLAGS) $(PART_FLAGS) -DRB_PART=$* $(DEPFLAGS) -c $< -o $@

kernels: $(KERNEL_OBJ)

$(BUILD)/librotorbench.a: $(HARNESS_OBJ) $(KERNEL_OBJ)
	@rm -f $@
	$(call say,AR,$@)
	$(Q)ar rcs $@ $^

$(BUILD)/rotorbench: $(BUILD)/harness/main.o $(BUILD)/librotorbench.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_cpu: $(TEST_OBJ) $(BUILD)/librotorbench.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

$(BUILD)/test_gpu: $(GPU_TEST_OBJ) $(BUILD)/tests/run_tests.o $(BUILD)/librotorbench.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# A standalone microbenchmark (docs/PERF.md, target 4); built by `all` so CI compiles it. It and
# tc_dense_check time through the harness's measurement module (linked from the library).
$(BUILD)/latency_floor: $(BUILD)/tests/gpu/latency_floor.o $(BUILD)/librotorbench.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ $(LDLIBS)

# TurboQuant-dense's tensor-core kernel alone: its bounds, MSE, refusals, and its time against the
# copy, the tensor-core roof and the unfused cuBLAS anchor (docs/PERF.md, target 2). Built by `all`.
$(BUILD)/tests/gpu/tc_dense_check.o: tests/gpu/tc_dense_check.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$@)
	$(Q)$(NVCC) $(TC_FLAGS) -Ikernels -Xcompiler -fopenmp $(DEPFLAGS) -c $< -o $@

$(BUILD)/tc_dense_check: $(BUILD)/tests/gpu/tc_dense_check.o $(BUILD)/librotorbench.a
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ -o $@ -lcublas $(LDLIBS)

tc-check: $(BUILD)/tc_dense_check
	$(BUILD)/tc_dense_check

# The plugin build line (docs/adding-a-method.md): rotorbench's headers, the block skeleton of
# kernels/qdq_common.cuh included, and the shared CUDA runtime (--cudart shared: the plugin must
# use the same runtime as rotorbench, not a static copy). make plugin SRC=mine.cu builds
# build/plugins/libmine.so with it, make examples the example plugin (examples/plugin/signs.cu).
PLUGIN_FLAGS = $(NVCCFLAGS) -Ikernels -shared -Xcompiler -fPIC --cudart shared -MMD -MP -MF $@.d
SRC ?=
PLUGIN_OUT := $(if $(SRC),$(BUILD)/plugins/lib$(basename $(notdir $(SRC))).so)
plugin: $(PLUGIN_OUT)
	@test -n "$(SRC)" || { echo "make plugin: name the source: make plugin SRC=path/mine.cu (writes build/plugins/libmine.so)" >&2; exit 2; }
ifneq ($(SRC),)
$(PLUGIN_OUT): $(SRC) | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(NVCC) $(PLUGIN_FLAGS) $< -o $@
endif
EXAMPLES := $(BUILD)/examples/libexample_signs.so
examples: $(EXAMPLES)
$(BUILD)/examples/libexample_signs.so: examples/plugin/signs.cu | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,NVCC,$@)
	$(Q)$(NVCC) $(PLUGIN_FLAGS) $< -o $@

# Broken plugins the CPU tests must see refused (tests/plugins/broken.c, plain C: no kernel to
# compile): another ABI version, no rb_plugin_abi symbol, a name a built-in has.
BROKEN_PLUGINS := $(addprefix $(BUILD)/tests/plugins/libbroken_,abi99.so nosym.so clash.so)
BROKEN_abi99 := -DBROKEN_ABI=99
BROKEN_nosym := -DBROKEN_NO_ABI_SYMBOL
BROKEN_clash := -DBROKEN_NAME='"identity"'
$(BUILD)/tests/plugins/libbroken_%.so: tests/plugins/broken.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -shared -fPIC $(BROKEN_$*) $(DEPFLAGS) -MF $@.d $< -o $@

latency-floor: $(BUILD)/latency_floor
	$(BUILD)/latency_floor

# PLUGIN: plugin libraries whose methods the registry-driven tests cover too (default: the
# example plugin; PLUGIN= for none).
PLUGIN ?= $(BUILD)/examples/libexample_signs.so
test: $(BUILD)/test_cpu $(BUILD)/rotorbench examples $(BROKEN_PLUGINS)
	$(BUILD)/test_cpu $(addprefix --plugin ,$(PLUGIN))

# Every README/docs shell example marked <!-- docs-test: run --> (tests/test_docs.c checks the marks).
docs-test: $(BUILD)/rotorbench examples
	@bash tests/docs_examples.sh

test-gpu: $(BUILD)/test_gpu $(BUILD)/rotorbench examples
	$(BUILD)/test_gpu $(addprefix --plugin ,$(PLUGIN))

# The CPU code with AddressSanitizer and UBSan; the kernels' host stubs are linked as built.
ASAN       := $(BUILD)/asan
ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

$(ASAN)/%.o: %.c | $(DEPS_OK)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(ASAN_FLAGS) $(DEPFLAGS) -c $< -o $@

$(ASAN)/test_cpu: $(TEST_OBJ:$(BUILD)/%=$(ASAN)/%) $(HARNESS_OBJ:$(BUILD)/%=$(ASAN)/%) $(KERNEL_OBJ)
	$(call say,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $(ASAN_FLAGS) $^ -o $@ $(LDLIBS)

# protect_shadow_gap=0: the CUDA runtime maps memory where ASan's shadow gap would be.
test-asan: $(ASAN)/test_cpu $(BUILD)/rotorbench examples $(BROKEN_PLUGINS)
	ASAN_OPTIONS=protect_shadow_gap=0:detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 $(ASAN)/test_cpu

# ncu on the lent GPU: never let it lock clocks (--clock-control none). KERNEL is the start
# of an NVTX range name, "method/variant[ d=.. b=.. dtype N=..]": ncu profiles the first kernel
# launched inside the first matching range of CONFIG's --profile run. ncu's range syntax
# needs '/' escaped and a trailing '/' for push/pop ranges; a plain 'rotorbench@name*' pattern
# silently matches nothing.
PROFILE_CONFIG ?= configs/smoke.json
KERNEL ?= isoquant-fast/fast
rb_empty :=
rb_space := $(rb_empty) $(rb_empty)
NCU_CMD = ncu --clock-control none --set full --nvtx \
          --nvtx-include 'regex:rotorbench@$(subst /,\/,$(KERNEL)).*/' \
          --launch-count 1 -o $(BUILD)/profile-$(subst =,,$(subst $(rb_space),_,$(subst /,-,$(KERNEL)))) -f \
          $(BUILD)/rotorbench run $(PROFILE_CONFIG) --backend gpu --profile
profile-ncu: $(BUILD)/rotorbench
	@echo "$(NCU_CMD)"
	@if [ -z "$(RUN)" ]; then echo "make profile-ncu: the command above needs a GPU and Nsight Compute (ncu): RUN=1 runs it on such a machine"; \
	 elif ! command -v ncu >/dev/null 2>&1; then echo "make profile-ncu: no ncu on PATH (Nsight Compute, part of the full CUDA toolkit)" >&2; exit 2; \
	 elif ! nvidia-smi -L >/dev/null 2>&1; then echo "make profile-ncu: no usable GPU here (nvidia-smi -L fails): run it on a GPU machine" >&2; exit 2; \
	 else $(NCU_CMD); fi

# SASS of one kernel file and each kernel's static instruction mix, no GPU needed (where the
# SASS counts in docs/PERF.md and docs/perf-log/ come from): make sass SASS=rotorquant [SASS_FN=substring of a
# kernel's mangled name]. cuobjdump and the nvdisasm it calls come with the full CUDA toolkit
# (the GPU machine has them) or from pip (nvidia-cuda-cuobjdump, nvidia-cuda-nvdisasm);
# CUOBJDUMP=path and NVDISASM=path override.
SASS      ?= hqmq
SASS_FN   ?=
CUOBJDUMP ?= $(shell command -v cuobjdump 2>/dev/null || echo $(CUDA_HOME)/bin/cuobjdump)
NVDISASM  ?= $(shell command -v nvdisasm 2>/dev/null || echo $(CUDA_HOME)/bin/nvdisasm)
SASS_MIX = function flush(  i, k, b, m) { if (fn == "" || index(fn, fnsel) == 0) return; \
               printf "%6d instructions  %s\n       ", n, fn; \
               for (i = 0; i < 12; i++) { b = ""; m = 0; for (k in h) if (h[k] > m) { m = h[k]; b = k } \
                   if (m == 0) break; printf " %s %d", b, m; delete h[b] } print "" } \
           /Function :/ { flush(); fn = $$3; n = 0; split("", h); next } \
           /^ +\/\*[0-9a-f]+\*\// { op = $$2 ~ /^@/ ? $$3 : $$2; sub(/[.;].*/, "", op); h[op]++; n++ } \
           END { flush() }
sass: $(BUILD)/kernels/$(SASS).o
	@test -x "$(CUOBJDUMP)" || { echo "make sass: no cuobjdump at '$(CUOBJDUMP)': pip install nvidia-cuda-cuobjdump (or the full CUDA toolkit), or set CUOBJDUMP=path" >&2; exit 2; }
	@test -x "$(NVDISASM)" || { echo "make sass: no nvdisasm at '$(NVDISASM)' (cuobjdump -sass needs it): pip install nvidia-cuda-nvdisasm (or the full CUDA toolkit), or set NVDISASM=path" >&2; exit 2; }
	PATH="$(dir $(NVDISASM)):$$PATH" $(CUOBJDUMP) -sass -arch $(if $(filter turboquant_dense tc_peak,$(SASS)),sm_90a,sm_90) $< > $(BUILD)/$(SASS).sass.tmp
	@mv $(BUILD)/$(SASS).sass.tmp $(BUILD)/$(SASS).sass
	@awk -v fnsel='$(SASS_FN)' '$(SASS_MIX)' $(BUILD)/$(SASS).sass
	@echo "full listing: $(BUILD)/$(SASS).sass"

# libFuzzer on the config loader; new inputs go to build/fuzz-new, not the committed corpus.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
# The method names a config may use come from the registry, so the rest of the library is
# linked as built (only the config loader is instrumented).
$(BUILD)/fuzz_config: harness/config.c tests/fuzz/fuzz_config.c $(BUILD)/librotorbench.a $(HEADERS)
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: no $(FUZZ_CC) (libFuzzer): make deps, or sudo apt-get install -y clang libclang-rt-dev" >&2; exit 2; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -Ikernels/common -Iharness -I$(CUDA_HOME)/include $(CJSON_INC) \
	  harness/config.c tests/fuzz/fuzz_config.c $(BUILD)/librotorbench.a -o $@ \
	  -L$(CUDA_LIB) -Wl,-rpath,$(CUDA_LIB) $(CJSON_LIB) -lcjson -lcurand -lcudart -lgomp -lstdc++ -lm -ldl

# The tensor-file header parsers, each under libFuzzer for FUZZ_TIME seconds too.
$(BUILD)/fuzz_npy $(BUILD)/fuzz_safetensors: $(BUILD)/fuzz_%: harness/tensor_file.c tests/fuzz/fuzz_tensor.c $(HEADERS)
	@command -v $(FUZZ_CC) >/dev/null 2>&1 || { echo "make fuzz: no $(FUZZ_CC) (libFuzzer): make deps, or sudo apt-get install -y clang libclang-rt-dev" >&2; exit 2; }
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	  -DFUZZ_$(shell echo $* | tr a-z A-Z) -Ikernels/common -Iharness $(CJSON_INC) \
	  harness/tensor_file.c tests/fuzz/fuzz_tensor.c -o $@ $(CJSON_LIB) -lcjson

fuzz: $(BUILD)/fuzz_config $(BUILD)/fuzz_npy $(BUILD)/fuzz_safetensors
	@mkdir -p $(BUILD)/fuzz-new $(BUILD)/fuzz-new-npy $(BUILD)/fuzz-new-safetensors
	$(BUILD)/fuzz_config -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)/fuzz-new tests/fuzz/corpus
	$(BUILD)/fuzz_npy -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)/fuzz-new-npy tests/fuzz/corpus_npy
	$(BUILD)/fuzz_safetensors -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)/fuzz-new-safetensors tests/fuzz/corpus_safetensors

PLOT_CSV  ?= $(firstword $(wildcard out/paper18-gpu.csv out/paper18-cpu.csv))
# under out/ beside the sweep's own plots, never into the tracked plots/ folder
PLOT_DIR  ?= out/plots/$(basename $(notdir $(PLOT_CSV)))
plots: $(BUILD)/rotorbench
	@test -n "$(PLOT_CSV)" || { echo "make plots: no out/paper18-*.csv: run make sweep or pass PLOT_CSV=..." >&2; exit 2; }
	@plots/make_plots.sh $(PLOT_CSV) $(PLOT_DIR)

# PyTorch's scaled_dot_product_attention over the fp16 caches of the attention targets, timed as
# the kernels are (tools/sdpa_baseline.py); one line and success when torch is not importable.
SDPA_OUT ?= results/sdpa_baseline.json
.PHONY: sdpa
sdpa:
	@if python3 -c 'import torch' 2>/dev/null; then python3 tools/sdpa_baseline.py --out $(SDPA_OUT); \
	else echo "make sdpa: PyTorch is not importable (python3 -c 'import torch'): skipped"; fi

# The regression gate: smoke config on BACKEND, compared with its committed baseline.
BACKEND  ?= cpu
# CPU wall-clock timings on a shared runner are not a gate: numerics only there.
COMPARE_FLAGS ?= $(if $(filter cpu,$(BACKEND)),--mse-only)
BASELINE ?= results/baseline/smoke-$(if $(filter gpu,$(BACKEND)),gpu-h200,cpu).json
regress: $(BUILD)/rotorbench
	@rm -rf $(BUILD)/regress && mkdir -p $(BUILD)/regress
	$(BUILD)/rotorbench run configs/smoke.json --backend $(BACKEND) --out $(BUILD)/regress > $(BUILD)/regress/table.md
	$(BUILD)/rotorbench compare $(BASELINE) $(BUILD)/regress/smoke-$(BACKEND).json $(COMPARE_FLAGS)

sweep: $(BUILD)/rotorbench
	@./run_sweep.sh $(CONFIG)

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
