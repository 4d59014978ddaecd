#!/usr/bin/env bash
# tests/gpu/run_kv.sh OUTDIR [STEP ...]: the GPU runs behind docs/PERF.md's "KV-cache paths",
# step by step, so that a machine lent for a few minutes at a time can take them a few at once.
# Each step logs to OUTDIR/STEP.log and prints one line; result files go to OUTDIR/results
# (JSON, JSONL, CSV, Markdown). The sweeps resume (--resume): a step cut by a time limit goes on
# where it stopped when it is run again with the same OUTDIR.
#
# Steps (default: all, in this order):
#   build      make all build/test_gpu
#   tests      build/test_gpu on the KV filters: kvcodec kvattn hqmq_kv kernels_hqmq largenorm
#   codec      configs/kv_codec.json and configs/hqmq_kv.json (encode, decode, roundtrip)
#   attention  configs/kv_attention.json and configs/kv_attention_b16.json
#   sdpa       PyTorch's SDPA on the attention targets' shapes (make sdpa; skipped without torch)
#   ncu        ncu --set full on the compressed and fp16 split kernels (B = 1, T = 32k, 3 bits)
#   codecncu   the encode and decode kernels of every method at 3 bits, fp16 and fp32 rows,
#              N = 2^20, d = 128 (a --profile run): ncu's speed of light, occupancy, warp
#              stalls, DRAM bytes and shared memory's wavefronts, a section per kernel launch in
#              ncu-codec.log (about 3 minutes on an H100)
#   sanitize   memcheck and racecheck over configs/kv_attention_small.json,
#              configs/sanitize_kv_dense.json and configs/sanitize_kv_codec.json (--profile) and
#              test_gpu kvattn_every_method
#              (racecheck over sanitize_kv_dense.json alone takes about 7 minutes on an H100)
#   testgpu    make test-gpu a test at a time (with the example plugin where it is built), each
#              into OUTDIR/testgpu/NAME.log; run again with the same OUTDIR, it skips the tests
#              that passed, so the whole suite can be taken over several short leases
#   fixed      the fixed cost of a call, kernel by kernel: ncu's duration (caches not flushed) of
#              the rotate, split and combine kernels of each attention of a --profile run
#              (identity and TQ-dense at 3 bits and the fp16 cache, B = 1, T = 4k and 32k)
#   occupancy  why 2 and 4 bits trail 3 and RotorQuant's 3 bits trail identity's (docs/PERF.md):
#              both at 2/3/4 bits, B = 1, T = 32k, at splits of 1024, 2048, 2752 (one wave of
#              three CTAs a SM) and 4096 tokens, and per bit width ncu's CTAs per SM (least,
#              most, mean), occupancy, warp stalls, instructions, shared-load bank conflicts and
#              DRAM bytes of identity's split kernel
#   sdpancu    ncu's speed of light, memory, occupancy, warp stalls and scheduler sections on our
#              fp16 split kernel and on PyTorch SDPA's kernels, both at B = 1, H = 32, T = 32k,
#              d = 128 (why SDPA reads the same cache faster; SDPA skipped without torch)
# Exit status: 0 when every step it ran returned 0, else 1; 2 for an unknown step name, before
# any step runs.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
out=${1:?usage: tests/gpu/run_kv.sh OUTDIR [build|tests|codec|attention|sdpa|ncu|codecncu|sanitize|testgpu|fixed|occupancy|sdpancu ...]}
shift
steps=("$@")
known=(build tests codec attention sdpa ncu codecncu sanitize testgpu fixed occupancy sdpancu)
[ ${#steps[@]} -gt 0 ] || steps=("${known[@]}")
# every step name is checked before any step runs
for step in "${steps[@]}"; do
    case " ${known[*]} " in
    *" $step "*) ;;
    *) echo "run_kv.sh: unknown step '$step' (${known[*]})" >&2; exit 2 ;;
    esac
done
mkdir -p "$out/results"
R=build/rotorbench
status=0
t0=$(date +%s)
# run NAME CMD...: CMD's output to OUTDIR/NAME.log, one line with its status and its last line
run() {
    local name=$1
    shift
    "$@" > "$out/$name.log" 2>&1
    local rc=$?
    [ $rc -eq 0 ] || status=1
    echo "== $name: rc=$rc at $(( $(date +%s) - t0 )) s: $(tail -1 "$out/$name.log" | cut -c1-160)"
}
sweep() { run "$(basename "$1" .json)" "$R" run "$1" --backend gpu --out "$out/results" --resume; }
# probe NAME BITS METHODS T SPLIT: OUTDIR/NAME.json, a decode-attention config at d = 128, B = 1,
# H = 32 (BITS and T are JSON lists' insides, METHODS quoted names, SPLIT a number or "auto")
probe() {
    printf '{"name": "%s", "seed": 7, "dims": 128, "bits": [%s], "methods": [%s],\n "kv_attention": {"B": 1, "H": 32, "T": [%s], "split": %s}}\n' \
        "$@" > "$out/$1.json"
}
sanitize() {
    local tool=$1 name=$2
    shift 2
    run "$tool-$name" compute-sanitizer --tool "$tool" --error-exitcode 9 "$@"
    grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$out/$tool-$name.log" | tail -1
}

for step in "${steps[@]}"; do
    case $step in
    build) run build make -j"$(nproc)" all build/test_gpu ;;
    tests) for f in kvcodec kvattn hqmq_kv kernels_hqmq largenorm; do run "test_gpu-$f" build/test_gpu $f; done ;;
    codec) sweep configs/kv_codec.json; sweep configs/hqmq_kv.json ;;
    attention) sweep configs/kv_attention.json; sweep configs/kv_attention_b16.json ;;
    sdpa) run sdpa make sdpa SDPA_OUT="$out/results/sdpa_baseline.json" ;;
    codecncu)
        # the codec kernels only (rbk_*; not the harness's copy, clock and metrics kernels), with
        # shared memory's wavefronts by operation and its bank conflicts
        shm=l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_st.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_atom.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared.sum
        printf '{"name": "codec_probe", "seed": 7, "N": 1048576, "dims": [128], "bits": [3], "dtypes": ["fp16", "fp32"],\n "methods": "all", "path": ["encode", "decode"], "kv_norm": "fp16"}\n' > "$out/codec_probe.json"
        run ncu-codec ncu --clock-control none -k regex:rbk_ --section SpeedOfLight --section Occupancy --section LaunchStats \
            --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum,smsp__inst_executed.sum,$shm \
            "$R" run "$out/codec_probe.json" --backend gpu --profile --out "$out/ncu-scratch"
        rm -rf "$out/ncu-scratch" ;;
    ncu)
        probe ncu_probe 3 '"identity"' 32768 '"auto"'
        for k in kva_split_kernel kva_fp16_split_kernel; do
            run "ncu-$k" ncu --clock-control none --set full --import-source no -k "regex:$k" -c 1 -f \
                -o "$out/ncu-$k" "$R" run "$out/ncu_probe.json" --backend gpu --out "$out/ncu-scratch"
            ncu -i "$out/ncu-$k.ncu-rep" --page details > "$out/ncu-$k.txt" 2>&1
        done
        rm -rf "$out/ncu-scratch" ;;
    sanitize)
        for tool in memcheck racecheck; do
            sanitize $tool kv_attention_small "$R" run configs/kv_attention_small.json --backend gpu --profile \
                --out "$out/sanitize-scratch"
            sanitize $tool sanitize_kv_dense "$R" run configs/sanitize_kv_dense.json --backend gpu --profile \
                --out "$out/sanitize-scratch"
            sanitize $tool sanitize_kv_codec "$R" run configs/sanitize_kv_codec.json --backend gpu --profile \
                --out "$out/sanitize-scratch"
            sanitize $tool kvattn_every_method build/test_gpu kvattn_every_method
        done
        rm -rf "$out/sanitize-scratch" ;;
    testgpu)
        plug=()
        [ -f build/examples/libexample_signs.so ] && plug=(--plugin build/examples/libexample_signs.so)
        mkdir -p "$out/testgpu"
        build/test_gpu "${plug[@]}" --list > "$out/testgpu/names.txt" || status=1
        while read -r t; do
            log=$out/testgpu/$t.log
            [ -f "$log" ] && case $(tail -n 1 "$log") in *" passed, 0 failed") continue ;; esac
            build/test_gpu "${plug[@]}" "=$t" > "$log" 2>&1 || status=1
        done < "$out/testgpu/names.txt"
        # one line: tests, checks passed and failed, and the tests that failed
        awk 'FNR == 1 { n++ } / passed, [0-9]+ failed$/ { p += $1; f += $3; if ($3 > 0) { x = FILENAME; sub(/.*\//, "", x); sub(/\.log$/, "", x); bad = bad " " x } }
             END { printf "== testgpu: %d tests, %d passed, %d failed%s\n", n, p, f, bad ? ";" bad : "" }' \
            "$out"/testgpu/*.log ;;
    fixed)
        probe fixed_probe 3 '"identity", "turboquant-dense"' '4096, 32768' '"auto"'
        run ncu-fixed ncu --cache-control none --clock-control none --metrics gpu__time_duration.sum \
            -k 'regex:kva_(rotate|split|fp16_split|combine)' "$R" run "$out/fixed_probe.json" --backend gpu --profile \
            --out "$out/ncu-scratch"
        rm -rf "$out/ncu-scratch" ;;
    occupancy)
        for sp in 1024 2048 2752 4096; do
            probe "occupancy_split$sp" '2, 3, 4' '"identity", "rotorquant"' 32768 "$sp"
            sweep "$out/occupancy_split$sp.json"
        done
        for b in 2 3 4; do
            probe "occupancy_b$b" "$b" '"identity"' 32768 '"auto"'
            run "ncu-occupancy-b$b" ncu --clock-control none --section LaunchStats --section Occupancy \
                --section WarpStateStats --section SchedulerStats \
                --metrics sm__ctas_launched.min,sm__ctas_launched.max,sm__ctas_launched.avg,gpu__time_duration.sum,smsp__inst_executed.sum,l1tex__data_bank_conflicts_pipe_lsu_mem_shared_op_ld.sum,l1tex__data_pipe_lsu_wavefronts_mem_shared_op_ld.sum,dram__bytes_read.sum \
                -k regex:kva_split_kernel -c 1 "$R" run "$out/occupancy_b$b.json" --backend gpu --out "$out/ncu-scratch"
        done
        rm -rf "$out/ncu-scratch" ;;
    sdpancu)
        # our fp16 split kernel and PyTorch SDPA's kernels on the same shape (B = 1, H = 32,
        # T = 32k, d = 128), with the same sections: what SDPA's faster read is made of
        sec=(--clock-control none --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy
             --section LaunchStats --section WarpStateStats --section SchedulerStats --metrics dram__bytes_read.sum)
        probe sdpancu_probe 3 '"identity"' 32768 '"auto"'
        mkdir -p "$out/ncu-scratch"
        run ncu-fp16 ncu "${sec[@]}" -k regex:kva_fp16_split -c 1 "$R" run "$out/sdpancu_probe.json" --backend gpu \
            --profile --out "$out/ncu-scratch"
        if python3 -c 'import torch' 2> /dev/null; then
            # the script's first call is a tiny probe for enable_gqa; the next ones are the shape's
            run ncu-sdpa ncu "${sec[@]}" -k 'regex:[Ff]lash|fmha|[Aa]ttn|[Aa]ttention|sdpa' -c 6 \
                python3 tools/sdpa_baseline.py --shapes 1,32,32,32768,128 --samples 10 --out "$out/ncu-scratch/sdpa.json"
        else
            echo "== sdpancu: PyTorch is not importable: SDPA not profiled"
        fi
        rm -rf "$out/ncu-scratch" ;;
    esac
done
exit $status
