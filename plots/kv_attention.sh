#!/usr/bin/env bash
# kv_attention.sh: kv_attention.png from one result CSV, called by make_plots.sh (which checks
# the CSV): decode attention time against T per method at 2, 3 and 4 bits (those present), with
# the fp16-cache baseline and, when sdpa_baseline.csv (make sdpa) lies beside the CSV, PyTorch's
# SDPA on the same shape. The shape drawn is the (input, d, B, H, kv_heads) with the most values
# of T, the first in the CSV among equals: a cache from a file's split_axis slices is one input
# a slice, and one is drawn (a line says which), not every slice's points on the same T.
#
# A CPU result is drawn too (the subtitle says CPU backend), without PyTorch's SDPA: its times
# are GPU times, no match for a CPU reference.
#
# usage: plots/kv_attention.sh RESULT.csv OUTDIR SUBTITLE
#   PALETTE=file  the method colours (make_plots.sh passes the registry's, plots/palette.sh);
#                 default plots/palette.gp (every method black)
# Exit status: 0 done or skipped (no attention records: one line says so, an older
# kv_attention.png removed), 1 gnuplot failed (no kv_attention.png left).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
csv=$1 outdir=$2 sub=$3
pal=${PALETTE:-$here/palette.gp}
png="$outdir/kv_attention.png"
note() { echo "make_plots: $*" >&2; }
skip() { rm -f "$png"; note "kv_attention.png skipped: $*"; exit 0; }
hdr='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) { gsub(/\r/, "", $i); c[$i] = i }; next } { sub(/\r$/, "") }'
awk "$hdr"' ("path" in c) && $c["path"] == "attention" { f = 1 } END { exit !f }' "$csv" ||
    skip "no attention records (\"path\": \"attention\", configs/kv_attention.json) in $csv"
backend=$(awk "$hdr"' NR == 2 { print $c["backend"]; exit }' "$csv")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_kva.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
q() { printf "'%s'" "${1//\'/\'\'}"; }

# the shape with the most values of T (a CSV without the input column: one input)
IFS=$'\t' read -r input d B H KV ninputs < <(awk "$hdr"' $c["path"] == "attention" && $c["time_median_us"] > 0 {
        in_ = ("input" in c) ? $c["input"] : ""
        k = in_ "\t" $c["d"] "\t" $c["kv_B"] "\t" $c["kv_H"] "\t" $c["kv_heads"]
        if (!(k in n)) order[++nk] = k
        if (!(in_ in ins)) { ins[in_] = 1; ni++ }
        if (!((k, $c["kv_T"]) in s)) { s[k, $c["kv_T"]] = 1; n[k]++ } }
    END { for (i = 1; i <= nk; i++) if (n[order[i]] > best) { best = n[order[i]]; bk = order[i] }
          if (nk) print bk "\t" ni }' "$csv")
[ -n "${d:-}" ] || skip "no timed attention record in $csv"
[ "${ninputs:-1}" -le 1 ] || note "kv_attention.png: drawn for the input $input, one of $ninputs"
out=$(awk -v in_="$input" -v d="$d" -v B="$B" -v H="$H" -v KV="$KV" -v dir="$tmp" "$hdr"'
    $c["path"] == "attention" && (!("input" in c) || $c["input"] == in_) && $c["d"] == d && $c["kv_B"] == B &&
    $c["kv_H"] == H && $c["kv_heads"] == KV && $c["time_median_us"] > 0 {
        m = $c["method"]; b = $c["bits"]
        if (m == "fp16-cache") { f = dir "/kva_fp16.raw" }
        else if (b == 2 || b == 3 || b == 4) {
            f = dir "/kva_b" b "_" m ".raw"
            if (!(b in bs)) { bs[b] = 1 }
            if (!(m in ms)) { ms[m] = 1; order[++nm] = m }
        } else next
        print $c["kv_T"] "," $c["time_median_us"] > f
    }
    END { for (b = 2; b <= 4; b++) if (b in bs) printf "%d ", b; printf "\n"
          for (i = 1; i <= nm; i++) printf "%s ", order[i]; printf "\n" }' "$csv")
bitsl=$(head -n 1 <<<"$out"); methods=$(tail -n 1 <<<"$out")
bitsl=${bitsl% }; methods=${methods% }
[ -n "$bitsl" ] || skip "no compressed cache at 2, 3 or 4 bits in $csv"
# every (bits, method) and the baselines get a file (sorted by T), empty when absent
for b in $bitsl; do for m in $methods; do
    { echo "T,median_us"; [ -e "$tmp/kva_b${b}_$m.raw" ] && sort -t, -k1,1n "$tmp/kva_b${b}_$m.raw"; } >"$tmp/kva_b${b}_$m.csv" || true
done; done
{ echo "T,median_us"; [ -e "$tmp/kva_fp16.raw" ] && sort -t, -k1,1n "$tmp/kva_fp16.raw"; } >"$tmp/kva_fp16.csv" || true
sdpa="$(dirname "$csv")/sdpa_baseline.csv"
hassdpa=0
echo "T,median_us" >"$tmp/kva_sdpa.csv"
if [ "$backend" = cpu ]; then
    [ ! -r "$sdpa" ] || note "kv_attention.png: $sdpa not drawn: GPU times beside a CPU result"
elif [ -r "$sdpa" ]; then
    awk -v d="$d" -v B="$B" -v H="$H" -v KV="$KV" "$hdr"'
        $c["d"] == d && $c["B"] == B && $c["H"] == H && $c["kv_heads"] == KV { print $c["T"] "," $c["median_us"] }' "$sdpa" |
        sort -t, -k1,1n >>"$tmp/kva_sdpa.csv"
    [ "$(wc -l <"$tmp/kva_sdpa.csv")" -gt 1 ] && hassdpa=1
    [ $hassdpa = 1 ] || note "kv_attention.png: $sdpa has no row for B=$B H=$H kv_heads=$KV d=$d"
else
    note "kv_attention.png: no $sdpa (make sdpa writes it): drawn without PyTorch's SDPA"
fi
read -r ylo yhi < <(awk -F, 'FNR > 1 && $2 + 0 > 0 { v = $2 + 0; if (!n++ || v < lo) lo = v; if (v > hi) hi = v }
    END { if (!n) { print "1 10"; exit }
          l = 10 ^ int(log(lo) / log(10) - (lo < 1 ? 1 : 0)); h = 10 ^ int(log(hi) / log(10) + 1)
          if (l > lo) l /= 10; if (h < hi) h *= 10; print l, h }' "$tmp"/kva_*.csv)
case $input in "" | synthetic | sphere) ;; *) sub="$sub — cache from $input" ;; esac
part="$outdir/.kv_attention.png.part"
if gnuplot -e "pal=$(q "$pal"); out=$(q "$part"); sub=$(q "$sub"); dir=$(q "$tmp"); bitsl=$(q "$bitsl"); methods=$(q "$methods"); hassdpa=$hassdpa; ylo=$ylo; yhi=$yhi; setting=$(q "B = $B, H = $H/$KV, d = $d"); title=$(q "Decode attention over a compressed KV cache against the fp16 cache")" \
    "$here/kv_attention.gp" 2>"$tmp/gnuplot.err" && [ -s "$part" ] && mv -f "$part" "$png"; then
    note "wrote $png"
else
    rm -f "$part" "$png"
    cat "$tmp/gnuplot.err" >&2
    note "gnuplot failed on kv_attention.gp: no kv_attention.png"
    exit 1
fi
