#!/usr/bin/env bash
# kv_codec.sh: kv_codec.png, the KV-cache encode and decode paths per method, from a result CSV
# with the path column (configs/kv_codec.json). Called by make_plots.sh. GPU results: % of the
# D2D copy of the bytes each path moves. CPU results (no device copy to compare with): GB/s of
# those bytes, titled as CPU reference timings. One group per (path, dtype, bits), and d when
# the CSV has several; the variant "fast" where present, else the first one of those rows.
# Skipped with one line (an older kv_codec.png removed) when the CSV has no encode/decode rows.
#
# usage: plots/kv_codec.sh RESULT.csv OUTDIR SUBTITLE
#   PALETTE=file  the method colours (make_plots.sh passes the registry's, plots/palette.sh);
#                 default plots/palette.gp (every method black)
# Exit status: 0 done or skipped, 1 gnuplot failed (no kv_codec.png left).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
csv=$1 outdir=$2 sub=${3:-}
pal=${PALETTE:-$here/palette.gp}
png="$outdir/kv_codec.png"
note() { echo "make_plots: $*" >&2; }
hdr='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) { gsub(/\r/, "", $i); c[$i] = i }; next } { sub(/\r$/, "") }'
kv='("path" in c) && ($c["path"] == "encode" || $c["path"] == "decode")'
if ! awk "$hdr $kv"' { f = 1 } END { exit !f }' "$csv"; then
    rm -f "$png"
    note "kv_codec.png skipped: no encode/decode rows (\"path\": [\"encode\", \"decode\"], configs/kv_codec.json) in $csv"
    exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_kvplot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
q() { printf "'%s'" "${1//\'/\'\'}"; }

variant=$(awk "$hdr $kv"' { if ($c["variant"] == "fast") f = 1; if (first == "") first = $c["variant"] } END { print f ? "fast" : first }' "$csv")
# the methods in the palette's order (the registry's), any other after them
order=$(sed -n "s/^rb_methods = '\(.*\)'$/\1/p" "$pal")
present=$(awk -v v="$variant" "$hdr $kv"' && $c["variant"] == v { print $c["method"] }' "$csv" | sort -u)
methods=""
for m in $order $present; do grep -qx -- "$m" <<<"$present" && [[ " $methods " != *" $m "* ]] && methods="$methods $m"; done
methods=${methods# }
# GPU: % of copy; the CPU backend has no copy time (copy_us 0): GB/s
if awk "$hdr $kv"' && $c["copy_us"] > 0 { f = 1 } END { exit !f }' "$csv"; then
    col=pct_of_copy_bw pct=1 ylab='% of D2D copy bandwidth of the bytes the path moves'
    what='% of the copy of the bytes each moves'
else
    col=gbps pct=0 ylab='GB/s of the bytes the path moves (input rows + packed cache)'
    what='GB/s of the bytes each moves'
fi
awk -v methods="$methods" -v v="$variant" -v col="$col" "$hdr $kv"' && $c["variant"] == v {
        k = sprintf("%s %s b%d", $c["path"], $c["dtype"], $c["bits"]); D[k] = $c["d"]
        k = k SUBSEP $c["d"]
        if (!(k in seen)) { seen[k] = 1; ks[++n] = k; if (!($c["d"] in ds)) { ds[$c["d"]] = 1; nd++ } }
        p[k, $c["method"]] = ($c[col] > 0) ? $c[col] : "NaN"
    }
    END {
        nm = split(methods, m, " ")
        printf "setting"; for (j = 1; j <= nm; j++) printf ",%s", m[j]; printf "\n"
        for (i = 1; i <= n; i++) {
            split(ks[i], kk, SUBSEP)
            line = kk[1] (nd > 1 ? " d" kk[2] : "")
            for (j = 1; j <= nm; j++) line = line "," (((ks[i], m[j]) in p) ? p[ks[i], m[j]] : "NaN")
            print line
        }
    }' "$csv" >"$tmp/kv.csv"
ngroups=$(($(wc -l <"$tmp/kv.csv") - 1))
ymax=$(awk -F, -v pct=$pct 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "NaN" && $i + 0 > m) m = $i + 0 }
                END { m *= 1.1; if (pct && m < 110) m = 110; if (m <= 0) m = 1; printf "%.4g\n", m }' "$tmp/kv.csv")
part="$outdir/.kv_codec.png.part"
if gnuplot -e "pal=$(q "$pal"); out=$(q "$part"); sub=$(q "$sub"); in=$(q "$tmp/kv.csv"); methods=$(q "$methods"); ngroups=$ngroups; ymax=$ymax; pct=$pct; ylab=$(q "$ylab"); title=$(q "KV-cache encode and decode: $what (variant $variant)")" \
    "$here/kv_codec.gp" 2>"$tmp/gnuplot.err" && [ -s "$part" ] && mv -f "$part" "$png"; then
    note "wrote $png"
else
    rm -f "$part" "$png"
    cat "$tmp/gnuplot.err" >&2
    note "gnuplot failed on kv_codec.gp: no kv_codec.png"
    exit 1
fi
