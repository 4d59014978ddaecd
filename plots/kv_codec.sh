#!/usr/bin/env bash
# kv_codec.sh: kv_codec.png, the encode and decode paths' % of the copy per method, from a
# result CSV with the path column (configs/kv_codec.json). Called by make_plots.sh; skipped with
# one line when the CSV has no encode/decode rows or no copy roof (the CPU backend).
# usage: plots/kv_codec.sh RESULT.csv OUTDIR SUBTITLE   (exit 0 done or skipped, 1 gnuplot failed)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
csv=$1 outdir=$2 sub=${3:-}
hdr='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) { gsub(/\r/, "", $i); c[$i] = i }; next } { sub(/\r$/, "") }'
if ! awk "$hdr"' ("path" in c) && ($c["path"] == "encode" || $c["path"] == "decode") && $c["copy_us"] > 0 { f = 1 } END { exit !f }' "$csv"; then
    echo "make_plots: kv_codec.png skipped: no encode/decode rows with a copy roof (GPU results of configs/kv_codec.json)" >&2
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_kvplot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
all="identity turboquant-wht turboquant-dense rotorquant isoquant-full isoquant-fast planarquant"
present=$(awk "$hdr"' $c["path"] == "encode" || $c["path"] == "decode" { print $c["method"] }' "$csv" | sort -u)
methods=""
for m in $all $present; do grep -qx -- "$m" <<<"$present" && [[ " $methods " != *" $m "* ]] && methods="$methods $m"; done
methods=${methods# }
awk -v methods="$methods" "$hdr"'
    ($c["path"] == "encode" || $c["path"] == "decode") && $c["variant"] == "fast" {
        k = sprintf("%s %s b%d", $c["path"], $c["dtype"], $c["bits"])
        if (!(k in seen)) { seen[k] = 1; ks[++n] = k }
        p[k, $c["method"]] = ($c["pct_of_copy_bw"] > 0) ? $c["pct_of_copy_bw"] : "NaN"
    }
    END {
        nm = split(methods, m, " ")
        printf "setting"; for (j = 1; j <= nm; j++) printf ",%s", m[j]; printf "\n"
        for (i = 1; i <= n; i++) {
            line = ks[i]
            for (j = 1; j <= nm; j++) line = line "," (((ks[i], m[j]) in p) ? p[ks[i], m[j]] : "NaN")
            print line
        }
    }' "$csv" >"$tmp/kv.csv"
ngroups=$(($(wc -l <"$tmp/kv.csv") - 1))
q() { printf "'%s'" "${1//\'/\'\'}"; }
if gnuplot -e "pal=$(q "$here/palette.gp"); out=$(q "$outdir/kv_codec.png"); sub=$(q "$sub"); in=$(q "$tmp/kv.csv"); methods=$(q "$methods"); ngroups=$ngroups; title='KV-cache encode and decode: % of the copy of the bytes each moves (variant fast)'" "$here/kv_codec.gp"; then
    echo "make_plots: wrote $outdir/kv_codec.png" >&2
else
    echo "make_plots: gnuplot failed on kv_codec.gp" >&2
    exit 1
fi
