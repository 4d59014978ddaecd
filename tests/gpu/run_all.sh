#!/usr/bin/env bash
# tests/gpu/run_all.sh OUTDIR [CONFIG.json ...]: everything a GPU runner does, in one go:
# build, make test-gpu, compute-sanitizer memcheck and racecheck over configs/sanitize.json,
# sanitize_fast.json, sanitize_kv_dense.json and sanitize.json with the large shapes forced (profile mode: no timing
# loops under the sanitizer) and over the decode-attention tests, make sdpa, then each CONFIG on
# the GPU backend.
# Logs and results land in OUTDIR; a summary table is printed last.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${1:?usage: tests/gpu/run_all.sh OUTDIR [CONFIG.json ...]}
shift
mkdir -p "$out/results"
summary=()
note() { summary+=("$1"); echo "== $1"; }

if ! make -j"$(nproc)" all build/test_gpu > "$out/build.log" 2>&1; then
    tail -40 "$out/build.log"
    note "build: FAILED"
    exit 1
fi
nvidia-smi > "$out/nvidia-smi.txt" 2>&1

./build/test_gpu --plugin build/examples/libexample_signs.so > "$out/test_gpu.log" 2>&1
note "make test-gpu: rc=$? ($(tail -1 "$out/test_gpu.log"))"
grep -E "^FAIL|^    " "$out/test_gpu.log" | head -40

for cfg in sanitize sanitize_fast sanitize_kv_dense; do
    for tool in memcheck racecheck; do
        compute-sanitizer --tool $tool --error-exitcode 9 \
            build/rotorbench run configs/$cfg.json --backend gpu --profile --out "$out/results" \
            > "$out/$tool-$cfg.log" 2>&1
        note "compute-sanitizer $tool $cfg: rc=$? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-$cfg.log" | tail -1))"
    done
done

# the large-batch shapes at sanitize.json's small N (racecheck over sanitize_fast.json takes minutes)
for tool in memcheck racecheck; do
    RB_FAST_SHAPE=large compute-sanitizer --tool $tool --error-exitcode 9 \
        build/rotorbench run configs/sanitize.json --backend gpu --profile --out "$out/results" \
        > "$out/$tool-sanitize-large.log" 2>&1
    note "compute-sanitizer $tool sanitize (RB_FAST_SHAPE=large): rc=$? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-sanitize-large.log" | tail -1))"
done

# HQMQ under both of its fast kernel's searches, each forced (the default picks by S)
for route in fp32 tc cells; do
    for tool in memcheck racecheck; do
        RB_HQMQ_SEARCH=$route compute-sanitizer --tool $tool --error-exitcode 9 \
            build/rotorbench run configs/sanitize_hqmq.json --backend gpu --profile --out "$out/results" \
            > "$out/$tool-hqmq-$route.log" 2>&1
        note "compute-sanitizer $tool hqmq/$route: rc=$? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-hqmq-$route.log" | tail -1))"
    done
done

# the decode-attention kernels on their GPU tests' small caches (every method, bits 1..8, the
# fp16 cache); the backend-hook test is left out (its timing loop is thousands of launches)
for tool in memcheck racecheck; do
    for t in kvattn_every_method kvattn_shapes kvattn_fp16; do
        compute-sanitizer --tool $tool --error-exitcode 9 build/test_gpu $t > "$out/$tool-$t.log" 2>&1
        note "compute-sanitizer $tool test_gpu $t: rc=$? ($(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-$t.log" | tail -1))"
    done
done

# PyTorch's SDPA over the attention targets' fp16 caches, beside the results (skipped without torch)
make sdpa SDPA_OUT="$out/results/sdpa_baseline.json" > "$out/sdpa.log" 2>&1
note "make sdpa: rc=$? ($(tail -1 "$out/sdpa.log"))"

for cfg in "$@"; do
    name=$(basename "$cfg" .json)
    start=$(date +%s)
    build/rotorbench run "$cfg" --backend gpu --out "$out/results" > "$out/results/$name.md" 2> "$out/$name.err"
    note "$name: rc=$? in $(( $(date +%s) - start )) s"
    grep -iE "warn|error" "$out/$name.err" | head -10
done
printf '%s\n' "${summary[@]}"
