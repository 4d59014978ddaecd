#!/bin/sh
# Install what rotorbench needs from Debian when it is missing (cJSON, gnuplot, clang's
# libFuzzer); check the
# CUDA toolkit (nvcc, cuRAND, nvtx3). As root it installs; otherwise it prints the command.
set -u
missing=""
[ -f /usr/include/cjson/cJSON.h ] || missing="$missing libcjson-dev"
command -v gnuplot >/dev/null 2>&1 || missing="$missing gnuplot-nox"
# clang with libFuzzer and the sanitizer runtimes: make fuzz, make test-asan
command -v clang >/dev/null 2>&1 || missing="$missing clang"
ls /usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1 ||
    missing="$missing libclang-rt-dev"
if [ -n "$missing" ]; then
    if [ "$(id -u)" = 0 ]; then
        echo "deps: installing$missing"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >/dev/null && apt-get install -y -qq $missing >/dev/null || {
            echo "deps: apt-get install$missing failed" >&2; exit 1; }
    else
        echo "deps: missing$missing; run: sudo apt-get install -y$missing" >&2
        exit 1
    fi
fi
nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
if [ ! -x "$nvcc" ]; then
    echo "deps: the CUDA toolkit (nvcc) is not on PATH or in /usr/local/cuda; install it and set CUDA_HOME" >&2
    exit 1
fi
cuda=$(dirname "$(dirname "$nvcc")")
for f in include/curand.h include/nvtx3/nvToolsExt.h; do
    [ -f "$cuda/$f" ] || { echo "deps: $cuda/$f is missing from the CUDA toolkit" >&2; exit 1; }
done
echo "deps: ok (CUDA at $cuda)"
