#!/usr/bin/env bash
# run_sweep.sh [CONFIG.json] [rotorbench options]: build if needed, run the sweep, say where
# the results are. The GPU backend is used when a GPU is usable, else the CPU (said on stderr).
set -euo pipefail
cd "$(dirname "$0")"
config=${1:-configs/paper18.json}
[ $# -gt 0 ] && shift
make -s build/rotorbench >&2
exec build/rotorbench run "$config" "$@"
