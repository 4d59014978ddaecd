#!/usr/bin/env bash
# tests/plots_test.sh: plots/make_plots.sh on committed results, in a scratch directory.
#   - a GPU result without the baseline (no rotorquant): speedup.png skipped with one line, an
#     older speedup.png removed, exit 0;
#   - a CPU result: no speedup.png (wall-clock noise), mse.png drawn;
#   - file inputs: rel_err.png drawn;
#   - gnuplot failing after it opened its output: no file left under the plot's name, exit 1;
#   - the default OUTDIR is out/plots/NAME-BACKEND/ under the current directory;
#   - --help names out/, not results/.
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

[ $fail = 0 ] && echo "plots_test: all checks passed"
exit $fail
