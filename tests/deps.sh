#!/bin/sh
# tests/deps.sh [--build]: what rotorbench needs from Debian, and the CUDA toolkit.
#   needed to build:  the CUDA toolkit (nvcc, cuRAND, nvtx3) and cJSON (libcjson-dev, or a
#                     prefix given as CJSON_PREFIX);
#   optional:         gnuplot-nox (the plots; skipped with one line without it), clang and
#                     libclang-rt-dev (make fuzz: libFuzzer).
# As root it installs what is missing. With --build (the Makefile runs it before it compiles
# anything) only what the build needs, and gnuplot-nox with it when it installs cJSON: a fresh
# machine's first `make sweep` then draws its plots. Otherwise, when something the build needs is
# missing, it prints one line with the exact command to run and exits 2; a missing optional
# package is one line of note and exit 0. Every message goes to stderr (`make sweep > table.md`).
set -u
build_only=0
[ "${1:-}" = "--build" ] && build_only=1

need=""
if [ -n "${CJSON_PREFIX:-}" ]; then
    if [ ! -f "$CJSON_PREFIX/include/cjson/cJSON.h" ]; then
        echo "deps: CJSON_PREFIX=$CJSON_PREFIX has no include/cjson/cJSON.h (unpack libcjson-dev there: dpkg -x libcjson-dev_*.deb DIR, CJSON_PREFIX=DIR/usr)" >&2
        exit 2
    fi
else
    [ -f /usr/include/cjson/cJSON.h ] || need="$need libcjson-dev"
fi
optional=""
if [ "$build_only" = 0 ] || [ -n "$need" ]; then
    command -v gnuplot >/dev/null 2>&1 || optional="$optional gnuplot-nox"
fi
if [ "$build_only" = 0 ]; then
    command -v clang >/dev/null 2>&1 || optional="$optional clang"
    ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
        optional="$optional libclang-rt-dev"
fi

nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$nvcc" ]; then
    echo "deps: the CUDA toolkit (nvcc) is not on PATH or in /usr/local/cuda: install it (https://developer.nvidia.com/cuda-downloads) and put its bin/ on PATH" >&2
    exit 2
fi
cuda=$(dirname "$(dirname "$nvcc")")
for f in include/curand.h include/nvtx3/nvToolsExt.h; do
    [ -f "$cuda/$f" ] || { echo "deps: $cuda/$f is missing from the CUDA toolkit (install its cuRAND and NVTX parts)" >&2; exit 2; }
done

missing="$need$optional"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
        echo "deps: apt-get install -y$missing failed" >&2; exit 1; }
elif [ -n "$need" ]; then
    echo "deps: missing$need, needed to build: run  sudo apt-get install -y$need$optional  (or make CJSON_PREFIX=DIR for a cJSON elsewhere)" >&2
    exit 2
elif [ -n "$optional" ]; then
    echo "deps: optional, not installed:$optional (plots, make fuzz): sudo apt-get install -y$optional" >&2
fi
[ "$build_only" = 1 ] || echo "deps: ok (CUDA at $cuda)" >&2
exit 0
