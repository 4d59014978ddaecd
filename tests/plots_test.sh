#!/usr/bin/env bash
# tests/plots_test.sh: plots/make_plots.sh on committed results, in a scratch directory.
#   - a GPU result without the baseline (no rotorquant): speedup.png skipped with one line, an
#     older speedup.png removed, exit 0;
#   - a CPU result: no speedup.png (wall-clock noise), mse.png drawn;
#   - file inputs: rel_err.png drawn;
#   - gnuplot failing after it opened its output: no file left under the plot's name, exit 1;
#   - the default OUTDIR is out/plots/NAME-BACKEND/ under the current directory;
#   - --help names out/, not results/;
#   - the path column: encode/decode/attention rows (absurd values here) leave speedup, mse and
#     pct_copy byte for byte as the roundtrip rows alone draw them; a CSV of KV paths alone
#     skips those plots and draws kv_codec.png and kv_bytes.md; the committed CPU runs of
#     configs/kv_attention_small.json and a small kv_codec (tests/data/plots/) draw
#     kv_attention.png and kv_codec.png, and a GPU-like copy of the latter the % of copy;
#     PyTorch's SDPA CSV beside a GPU result is drawn, beside a CPU result not.
# Prints one line per failed check and exits 1 if any failed; exit 77 (skipped) without gnuplot.
# tests/test_plots.c runs it in the CPU suite.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
mp="$repo/plots/make_plots.sh"
command -v gnuplot >/dev/null || { echo "plots_test: gnuplot not found (make deps): skipped"; exit 77; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_plots_test.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "plots_test: FAIL: $*"; fail=1; }

# 1. GPU, no rotorquant: its rows dropped and every speedup emptied
mkdir -p "$tmp/g"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "speedup") c = i; print; next }
                  $2 != "rotorquant" { $c = ""; print }' "$repo/results/h100/paper18-gpu.csv" >"$tmp/g/norq-gpu.csv"
mkdir -p "$tmp/g/out" && : >"$tmp/g/out/speedup.png" # an empty one, as an older run left
"$mp" "$tmp/g/norq-gpu.csv" "$tmp/g/out" 2>"$tmp/g/err"; rc=$?
[ "$rc" = 0 ] || bad "GPU result without rotorquant: exit $rc, want 0"
[ ! -e "$tmp/g/out/speedup.png" ] || bad "GPU result without rotorquant: speedup.png left behind"
[ "$(grep -c 'speedup.png skipped' "$tmp/g/err")" = 1 ] || bad "GPU result without rotorquant: want one 'speedup.png skipped' line: $(cat "$tmp/g/err")"
[ -s "$tmp/g/out/mse.png" ] || bad "GPU result: no mse.png"

# the GPU result as committed: speedup.png drawn
"$mp" "$repo/results/h100/paper18-gpu.csv" "$tmp/g/full" 2>"$tmp/g/err2" || bad "results/h100/paper18-gpu.csv: exit $?"
[ -s "$tmp/g/full/speedup.png" ] || bad "results/h100/paper18-gpu.csv: no speedup.png: $(cat "$tmp/g/err2")"

# 2. CPU: no speedup chart
"$mp" "$repo/results/cpu-amd-epyc/paper18-cpu.csv" "$tmp/c" 2>"$tmp/c.err" || bad "CPU result: exit $?"
[ ! -e "$tmp/c/speedup.png" ] || bad "CPU result: speedup.png drawn"
[ -s "$tmp/c/mse.png" ] || bad "CPU result: no mse.png"

# 3. file inputs: relative error, one curve per slice
"$mp" "$repo/results/cpu-amd-epyc/structure-cpu.csv" "$tmp/s" 2>"$tmp/s.err" || bad "structure result: exit $?"
[ -s "$tmp/s/rel_err.png" ] || bad "structure result: no rel_err.png: $(cat "$tmp/s.err")"

# 4. gnuplot that fails after writing part of its output
mkdir -p "$tmp/bin"
cat >"$tmp/bin/gnuplot" <<'EOF'
#!/usr/bin/env bash
# writes some bytes to the file named by out='...' in -e, then fails as gnuplot does on a bad range
out=$(printf '%s' "$2" | sed -n "s/.*out='\([^']*\)'.*/\1/p")
[ -n "$out" ] && printf 'PNG part' >"$out"
echo '"speedup.gp" line 35: x range is invalid' >&2
exit 1
EOF
chmod +x "$tmp/bin/gnuplot"
PATH="$tmp/bin:$PATH" "$mp" "$repo/results/h100/paper18-gpu.csv" "$tmp/f" 2>"$tmp/f.err"; rc=$?
[ "$rc" = 1 ] || bad "failing gnuplot: exit $rc, want 1"
left=$(ls -A "$tmp/f" 2>/dev/null)
[ -z "$left" ] || bad "failing gnuplot: files left: $left"
grep -q 'gnuplot failed on speedup.gp: no speedup.png' "$tmp/f.err" || bad "failing gnuplot: no line saying so: $(cat "$tmp/f.err")"

# 5. default OUTDIR
(cd "$tmp" && "$mp" "$repo/results/cpu-amd-epyc/paper18-cpu.csv" 2>/dev/null) || bad "default OUTDIR: exit $?"
[ -s "$tmp/out/plots/paper18-cpu/mse.png" ] || bad "default OUTDIR: no out/plots/paper18-cpu/mse.png"

# 6. --help
help=$("$mp" --help)
grep -q 'out/plots/' <<<"$help" || bad "--help does not name out/plots/"
! grep -q 'results/<name>' <<<"$help" || bad "--help still names results/<name>"

# 7. the path column: rows of other paths never reach the roundtrip plots
mkdir -p "$tmp/p"
cp "$repo/results/h100/paper18-gpu.csv" "$tmp/p/old-gpu.csv" # no path column, no JSON beside
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "mse") m = i; if ($i == "pct_of_copy_bw") pc = i; if ($i == "speedup") sp = i }
                            print $0, "path", "kv_T"; next }
                  { print $0, "roundtrip", 0; r = $0
                    $m *= 100; $pc *= 3; $sp *= 5; print $0, "encode", 0
                    $0 = r; $m /= 100; $pc *= 2; $sp *= 2; print $0, "attention", 300 }' "$tmp/p/old-gpu.csv" >"$tmp/p/new-gpu.csv"
"$mp" "$tmp/p/old-gpu.csv" "$tmp/p/old" 2>"$tmp/p/old.err" || bad "CSV without a path column: exit $?: $(cat "$tmp/p/old.err")"
"$mp" "$tmp/p/new-gpu.csv" "$tmp/p/new" 2>"$tmp/p/new.err" || bad "CSV with encode/attention rows: exit $?: $(cat "$tmp/p/new.err")"
for png in speedup.png mse.png pct_copy.png; do
    [ -s "$tmp/p/old/$png" ] || bad "CSV without a path column: no $png"
    cmp -s "$tmp/p/old/$png" "$tmp/p/new/$png" || bad "path filter: $png differs once encode/attention rows are added"
done
# KV paths alone: the roundtrip plots skipped (an older one removed), kv_codec.png drawn
awk -F, 'NR == 1 || $(NF - 1) == "encode"' "$tmp/p/new-gpu.csv" >"$tmp/p/enc-gpu.csv"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print $0, "stored_bytes"; next }
                  { print $0, $c["N"] * ($c["d"] * $c["bits"] / 8 + 2) }' "$tmp/p/enc-gpu.csv" >"$tmp/p/kvonly-gpu.csv"
mkdir -p "$tmp/p/kv" && : >"$tmp/p/kv/mse.png"
"$mp" "$tmp/p/kvonly-gpu.csv" "$tmp/p/kv" 2>"$tmp/p/kv.err"; rc=$?
[ "$rc" = 0 ] || bad "KV paths alone: exit $rc, want 0: $(cat "$tmp/p/kv.err")"
[ ! -e "$tmp/p/kv/mse.png" ] || bad "KV paths alone: an older mse.png left behind"
grep -q 'mse.png skipped: no roundtrip rows' "$tmp/p/kv.err" || bad "KV paths alone: no line saying mse.png is skipped"
[ -s "$tmp/p/kv/kv_codec.png" ] || bad "KV paths alone: no kv_codec.png: $(cat "$tmp/p/kv.err")"
# kv_bytes.md: d = 128 at 2 bits + a 2-byte norm = 34 bytes per token, 2.125 bits, 7.53x
grep -qF '| rotorquant | 128 | 2 | 32 | 2 | 34 | 2.125 | 7.53x smaller |' "$tmp/p/kv/kv_bytes.md" ||
    bad "KV paths alone: kv_bytes.md lacks rotorquant d128 b2 = 34 bytes: $(cat "$tmp/p/kv/kv_bytes.md" 2>&1)"
[ ! -e "$tmp/p/old/kv_bytes.md" ] || bad "CSV without a path column: kv_bytes.md written"

# 8. real CPU runs of the KV paths (tests/data/plots/, rotorbench --backend cpu)
d="$repo/tests/data/plots"
"$mp" "$d/kv_attention_small-cpu.csv" "$tmp/a" 2>"$tmp/a.err" || bad "kv_attention_small-cpu.csv: exit $?: $(cat "$tmp/a.err")"
[ -s "$tmp/a/kv_attention.png" ] || bad "kv_attention_small-cpu.csv: no kv_attention.png: $(cat "$tmp/a.err")"
for png in speedup.png pct_copy.png kv_codec.png; do [ ! -e "$tmp/a/$png" ] || bad "kv_attention_small-cpu.csv: $png drawn"; done
# PyTorch's SDPA (tools/sdpa_baseline.py's CSV) beside a GPU result is drawn; beside a CPU one not
mkdir -p "$tmp/sd"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next } { $c["backend"] = "gpu"; print }' \
    "$d/kv_attention_small-cpu.csv" >"$tmp/sd/att-gpu.csv"
"$mp" "$tmp/sd/att-gpu.csv" "$tmp/sd/no" 2>"$tmp/sd/no.err" || bad "attention, GPU, no SDPA: exit $?"
grep -q 'drawn without PyTorch' "$tmp/sd/no.err" || bad "attention, GPU, no SDPA: no line saying so: $(cat "$tmp/sd/no.err")"
printf 'B,H,kv_heads,T,d,median_us,min_us,max_us,cold_median_us,cache_bytes,gbps\n2,4,2,1,64,5,4,6,9,512,1\n2,4,2,300,64,50,45,55,90,153600,3\n' \
    >"$tmp/sd/sdpa_baseline.csv"
"$mp" "$tmp/sd/att-gpu.csv" "$tmp/sd/yes" 2>"$tmp/sd/yes.err" || bad "attention, GPU, SDPA: exit $?"
! grep -q 'PyTorch\|sdpa' "$tmp/sd/yes.err" || bad "attention, GPU, SDPA: $(grep 'PyTorch\|sdpa' "$tmp/sd/yes.err")"
[ -s "$tmp/sd/yes/kv_attention.png" ] && ! cmp -s "$tmp/sd/no/kv_attention.png" "$tmp/sd/yes/kv_attention.png" ||
    bad "attention, GPU, SDPA: kv_attention.png missing or the same as without SDPA"
cp "$d/kv_attention_small-cpu.csv" "$tmp/sd/"
"$mp" "$tmp/sd/kv_attention_small-cpu.csv" "$tmp/sd/cpu" 2>"$tmp/sd/cpu.err" || bad "attention, CPU, SDPA beside: exit $?"
grep -q 'not drawn: GPU times beside a CPU result' "$tmp/sd/cpu.err" || bad "attention, CPU, SDPA beside: no line saying it is not drawn"
cmp -s "$tmp/a/kv_attention.png" "$tmp/sd/cpu/kv_attention.png" || bad "attention, CPU, SDPA beside: kv_attention.png differs from the one without"
# caches from a file's two split_axis slices: one slice drawn, a line says which
mkdir -p "$tmp/sl"
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next }
    { $c["input"] = "kv.npy[0]"; print; $c["input"] = "kv.npy[1]"; $c["time_median_us"] *= 2; print }' \
    "$d/kv_attention_small-cpu.csv" >"$tmp/sl/att.csv"
"$mp" "$tmp/sl/att.csv" "$tmp/sl" 2>"$tmp/sl/err" || bad "attention, two slices: exit $?"
grep -q 'drawn for the input kv.npy\[0\], one of 2' "$tmp/sl/err" || bad "attention, two slices: no line naming the slice drawn: $(cat "$tmp/sl/err")"
[ -s "$tmp/sl/kv_attention.png" ] || bad "attention, two slices: no kv_attention.png"

"$mp" "$d/kv_codec_small-cpu.csv" "$tmp/k" 2>"$tmp/k.err" || bad "kv_codec_small-cpu.csv: exit $?: $(cat "$tmp/k.err")"
for f in kv_codec.png mse.png kv_bytes.md; do [ -s "$tmp/k/$f" ] || bad "kv_codec_small-cpu.csv: no $f: $(cat "$tmp/k.err")"; done
# rows as rotorbench printed them for this run (harness/kvtable.c, 2 norm bytes): rotorquant
# stores more code bytes than 2 d / 8 (its blocks of 3 pad d), isoquant-fast exactly 3 d / 8
for row in '| rotorquant | 128 | 2 | 36 | 2 | 38 | 2.375 | 6.74x smaller |' '| isoquant-fast | 128 | 3 | 48 | 2 | 50 | 3.125 | 5.12x smaller |'; do
    grep -qF "$row" "$tmp/k/kv_bytes.md" || bad "kv_codec_small-cpu.csv: kv_bytes.md lacks $row"
done
[ "$(grep -c '^|' "$tmp/k/kv_bytes.md")" = 23 ] || bad "kv_codec_small-cpu.csv: kv_bytes.md: want 21 rows (7 methods x 3 bits) + 2 header rows"
# the same as a GPU result would have it (a copy time): the % of copy, with the target lines
awk -F, -v OFS=, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; print; next }
                  { $c["copy_us"] = $c["time_median_us"] * 0.9; $c["pct_of_copy_bw"] = 90; $c["backend"] = "gpu"; print }' \
    "$d/kv_codec_small-cpu.csv" >"$tmp/fake-gpu.csv"
"$mp" "$tmp/fake-gpu.csv" "$tmp/kg" 2>"$tmp/kg.err" || bad "kv_codec with copy times: exit $?: $(cat "$tmp/kg.err")"
[ -s "$tmp/kg/kv_codec.png" ] || bad "kv_codec with copy times: no kv_codec.png: $(cat "$tmp/kg.err")"

[ $fail = 0 ] && echo "plots_test: all checks passed"
exit $fail
