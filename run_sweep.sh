#!/usr/bin/env bash
# run_sweep.sh [CONFIG.json] [--out DIR] [--resume] [other `rotorbench run` options]
#
# One whole sweep: build build/rotorbench if needed, run CONFIG (default configs/paper18.json;
# the GPU backend when a GPU is usable, else the CPU, said on stderr) with a progress line per
# setting on stderr, draw the plots from the CSV it wrote, and print where everything is:
#   DIR/NAME-BACKEND.json   the results (DIR: --out, else the config's output_dir)
#   DIR/NAME-BACKEND.csv    one row per setting
#   DIR/NAME-BACKEND.jsonl  the per-setting log that --resume continues from after a crash
#   DIR/plots/NAME-BACKEND/ the PNGs of plots/make_plots.sh
# The Markdown table goes to stdout. Paths are relative to the current directory.
# Exit status: the driver's (0 done, 1 a run-time failure, 2 a bad argument or config: then no
# plots are drawn); 1 when the sweep succeeded but gnuplot failed. Without gnuplot the plots
# are skipped with one line on stderr and the sweep's status stands.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
case "${1:-}" in
-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
"" | -*) config="$here/configs/paper18.json" ;;
*) config=$1; shift ;;
esac

# Its own make (in parallel, Makefile), not a part of a calling make's job server: under
# `make sweep` the binary is already built.
MAKEFLAGS= MFLAGS= make -s --no-print-directory -C "$here" build/rotorbench >&2

# The driver's stderr goes to the terminal and to a log, which names the files it wrote.
log=$(mktemp "${TMPDIR:-/tmp}/run_sweep.XXXXXX")
trap 'rm -f "$log"' EXIT
exec 3>&1
set +e
"$here/build/rotorbench" run "$config" "$@" 2>&1 1>&3 3>&- | tee "$log" >&2 3>&-
rc=${PIPESTATUS[0]}
set -e
exec 3>&-
[ "$rc" -eq 0 ] || { echo "run_sweep: rotorbench exited with status $rc: no plots" >&2; exit "$rc"; }

json=$(sed -n 's/^rotorbench: wrote \(.*\.json\)$/\1/p' "$log" | tail -n 1)
csv=$(sed -n 's/^rotorbench: wrote \(.*\.csv\)$/\1/p' "$log" | tail -n 1)
if [ -z "$json" ] || [ -z "$csv" ]; then # --profile writes no results
    echo "run_sweep: no result files written: no plots" >&2
    exit 0
fi
base=$(basename "$csv" .csv)
plots="$(dirname "$csv")/plots/$base"
status=0
if ! command -v gnuplot >/dev/null; then
    echo "run_sweep: gnuplot not found (make deps): plots skipped" >&2
    plots=""
elif ! "$here/plots/make_plots.sh" "$csv" "$plots"; then
    echo "run_sweep: plots/make_plots.sh failed: the results above are complete" >&2
    status=1
fi

echo "run_sweep: results:" >&2
echo "  JSON   $json" >&2
echo "  CSV    $csv" >&2
echo "  log    ${json%.json}.jsonl (--resume continues from it)" >&2
if [ -n "$plots" ]; then
    pngs=$(cd "$plots" 2>/dev/null && ls -1 ./*.png 2>/dev/null | sed 's|^\./||' | tr '\n' ' ')
    echo "  plots  $plots/${pngs:+ (${pngs% })}" >&2
fi
exit $status
