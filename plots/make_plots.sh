#!/usr/bin/env bash
# make_plots.sh: PNG plots of one rotorbench result (gnuplot, pngcairo, 1280x768).
#
# usage: plots/make_plots.sh RESULT.csv [OUTDIR] [--variant V]
#
#   RESULT.csv  a result CSV written by `rotorbench run` (out/<name>-<backend>.csv). The
#               device name comes from the JSON beside it (same path, .json): machine.gpu,
#               else machine.name, else machine.cpu.
#   OUTDIR      where the PNGs go (default out/plots/<name>-<backend>/, as run_sweep.sh);
#               created if missing.
#   --variant V the kernel variant to plot (GPU: "paper" or "fast"). Default: "fast" when the
#               CSV has it, else the fastest variant present (lowest mean median time); CPU
#               results have the single variant "ref".
#
# Writes, when the CSV has what each needs (otherwise says why in one line on stderr, skips it
# and removes an older PNG of that name). Each PNG is drawn under a temporary name and renamed,
# so a failed plot leaves no file:
#   speedup.png   GPU results only: speedup over RotorQuant per setting ("fp16 b2 d128", ...)
#                 of isoquant-full, isoquant-fast and planarquant, beside the IsoQuant paper's
#                 Table 2 (results/paper/isoquant_table2.csv, an RTX 4090); N = 8192 when
#                 present, else the first N. Not for CPU results: wall-clock speedups on a shared
#                 CPU moved 12-19 % per setting between runs, more than most differences shown.
#   mse.png       per-element MSE against bits, log y, one panel per d, with the Lloyd-Max
#                 prediction (pred_mse) as a line: the uniform unit vectors' rows only (input
#                 "sphere", or a CSV without an input column); fp32 when present, the largest N.
#   rel_err.png   file inputs (their rows keep their norms, so MSE has no common scale): mean
#                 relative error against bits, one panel per d, one curve per method and file
#                 slice, no Lloyd-Max line; fp32 when present.
#   latency.png   median latency against N, log-log, per method and dtype, the D2D copy as the
#                 floor: needs more than one N (e.g. configs/scaling.json).
#   pct_copy.png  % of D2D copy bandwidth per method and setting: needs copy_us > 0 (GPU only).
#   rd_<input>.png  rate-distortion, one picture per input of a run with structured or file
#                 inputs or attention metrics: relative error (and inner-product error) against
#                 stored bits per coordinate, every method and HQMQ point; fp32 when present.
#   kv_codec.png  the KV-cache encode and decode paths per method and (dtype, bits): GPU, % of
#                 the D2D copy of the bytes each moves; CPU, their GB/s (plots/kv_codec.sh).
#   kv_attention.png  decode attention time against the cached tokens T per method at 2/3/4
#                 bits, with the fp16-cache baseline and PyTorch's SDPA when sdpa_baseline.csv
#                 (make sdpa) lies beside a GPU result's CSV (plots/kv_attention.sh).
#   kv_bytes.md   the KV cache's bytes per token per method, the Markdown table rotorbench prints
#                 after an encode/decode run, for a README to link to (plots/kv_bytes.sh).
# The plots above kv_codec.png draw the fused roundtrip only: rows whose path is "roundtrip"
# (a CSV without the path column holds nothing else); encode, decode and attention rows go to
# the kv_* files alone. CPU-backend plots say "CPU backend (reference timings, not kernels)"
# in their titles.
#
# Examples:
#   plots/make_plots.sh results/h100/paper18-gpu.csv     # into out/plots/paper18-gpu/
#   plots/make_plots.sh results/h100/scaling-gpu.csv /tmp/plots --variant paper
# Needs bash, awk, gnuplot (with the pngcairo terminal) and build/rotorbench (the method colours:
# plots/palette.sh). Exit status: 0 done (some plots may be skipped), 1 gnuplot failed, 2 a bad
# argument or CSV.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
paper="$here/../results/paper/isoquant_table2.csv"
pal="$here/palette.gp"

die() { echo "make_plots: $*" >&2; exit 2; }
note() { echo "make_plots: $*" >&2; }

csv="" outdir="" variant=""
while [ $# -gt 0 ]; do
    case "$1" in
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --variant) [ $# -ge 2 ] || die "missing value after --variant"; variant=$2; shift 2 ;;
    --variant=*) variant=${1#--variant=}; shift ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) if [ -z "$csv" ]; then csv=$1; elif [ -z "$outdir" ]; then outdir=$1; else die "too many arguments: $1"; fi; shift ;;
    esac
done
[ -n "$csv" ] || die "usage: plots/make_plots.sh RESULT.csv [OUTDIR] [--variant V]"
[ -r "$csv" ] || die "$csv: cannot read"
outdir=${outdir:-out/plots/$(basename "$csv" .csv)}
mkdir -p "$outdir" || die "$outdir: cannot create"
command -v gnuplot >/dev/null || die "gnuplot not found (make deps)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_plots.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# ---- the CSV, checked, with the columns looked up by name -------------------------------------
need="backend method variant d bits dtype N mse pred_mse time_median_us copy_us pct_of_copy_bw speedup"
# An awk prelude: c["name"] = column number, from the header row.
hdr='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) { gsub(/\r/, "", $i); c[$i] = i }; next } { sub(/\r$/, "") }'
missing=$(awk -v need="$need" "$hdr"' END { n = split(need, w, " "); for (i = 1; i <= n; i++) if (!(w[i] in c)) printf "%s ", w[i] }' "$csv")
[ -z "$missing" ] || die "$csv: not a rotorbench result CSV (no column: $missing)"
rows=$(awk "$hdr"' END { print NR - 1 }' "$csv")
[ "$rows" -gt 0 ] || die "$csv: no rows"

backend=$(awk "$hdr"' NR == 2 { print $c["backend"]; exit }' "$csv")
# The plots below compare the fused roundtrip only: the KV-cache paths (encode, decode) and the
# attention records have plots of their own (kv_codec.png, kv_attention.png), and their rows
# would otherwise be drawn twice over the roundtrip's points. A CSV from before the path column
# holds roundtrips alone.
rt="$tmp/roundtrip.csv"
{ head -n 1 "$csv"; awk "$hdr"' !("path" in c) || $c["path"] == "roundtrip" || $c["path"] == "" { print }' "$csv"; } >"$rt"
nrt=$(($(wc -l <"$rt") - 1))
variants=$(awk "$hdr"' !($c["variant"] in s) { s[$c["variant"]] = 1; printf "%s ", $c["variant"] }' "$rt")
if [ "$nrt" = 0 ]; then
    : # no roundtrip plots: the variant is not used
elif [ -z "$variant" ]; then
    if [[ " $variants" == *" fast "* ]]; then
        variant=fast
    else # the fastest variant present: the lowest mean median time
        variant=$(awk "$hdr"' $c["time_median_us"] > 0 { t[$c["variant"]] += $c["time_median_us"]; n[$c["variant"]]++ }
                  END { for (v in t) if (best == "" || t[v] / n[v] < bt) { best = v; bt = t[v] / n[v] }; print best }' "$rt")
        [ -n "$variant" ] || variant=${variants%% *}
    fi
elif [[ " $variants" != *" $variant "* ]]; then
    die "$csv: no variant '$variant' among the roundtrip rows (present: $variants)"
fi

# ---- the device, from the JSON beside the CSV -------------------------------------------------
json="${csv%.csv}.json"
device=""
if [ -r "$json" ]; then
    if command -v jq >/dev/null; then
        device=$(jq -r '.machine | objects | (.gpu // .gpu_name // .name // .cpu // empty) | strings' "$json" 2>/dev/null | head -n 1 || true)
    fi
    if [ -z "$device" ]; then
        # cJSON_Print output: keys one per line inside "machine": { ... }; track the nesting so
        # the config's "name" is never taken for the device.
        device=$(awk '
            function val(line) { sub(/^[^:]*:[ \t]*"/, "", line); sub(/"[ \t,]*$/, "", line); return line }
            !inm && /"machine"[ \t]*:[ \t]*\{/ { inm = 1; depth = 0 }
            inm {
                if (depth == 1 && $0 ~ /^[ \t]*"gpu(_name)?"[ \t]*:[ \t]*"/) g = val($0)
                if (depth == 1 && $0 ~ /^[ \t]*"name"[ \t]*:[ \t]*"/)     nm = val($0)
                if (depth == 1 && $0 ~ /^[ \t]*"cpu"[ \t]*:[ \t]*"/)      cp = val($0)
                o = gsub(/\{/, "{"); cl = gsub(/\}/, "}"); depth += o - cl
                if (depth <= 0) inm = 0
            }
            END { print (g != "" ? g : nm != "" ? nm : cp) }' "$json")
    fi
else
    note "$json not found: the titles say \"unknown device\""
fi
device=${device:-unknown device}
if [ "$backend" = cpu ]; then
    sub="$device — CPU backend (reference timings, not kernels)"
else
    sub="$device — $backend backend"
fi

# vals COL FILE...: the positive values in column COL (header rows skipped).
vals() { local col=$1; shift; awk -F, -v col="$col" 'FNR > 1 && $col + 0 > 0 { print $col + 0 }' "$@"; }
# decades: "lo hi", the powers of ten around the values on stdin, so the panels of one plot
# share a y range.
decades() {
    awk 'NR == 1 || $1 < lo { lo = $1 } NR == 1 || $1 > hi { hi = $1 }
         END { if (NR == 0) { print "1 10"; exit }
               l = 10 ^ int(log(lo) / log(10) - (lo < 1 ? 1 : 0)); h = 10 ^ int(log(hi) / log(10) + (hi < 1 ? 0 : 1))
               if (l > lo) l /= 10; if (h < hi) h *= 10; if (h / l < 10) h = l * 10
               printf "%.3g %.3g\n", l, h }'
}

# A string as a gnuplot single-quoted literal: ' doubles.
q() { printf "'%s'" "${1//\'/\'\'}"; }

plot() { # plot SCRIPT OUT.png 'var=value; ...': drawn as a temporary file, renamed when gnuplot succeeds
    local part
    part="$(dirname "$2")/.$(basename "$2").part"
    if gnuplot -e "pal=$(q "$pal"); out=$(q "$part"); sub=$(q "$sub"); $3" "$here/$1" 2>"$tmp/gnuplot.err" &&
        [ -s "$part" ] && mv -f "$part" "$2"; then
        echo "make_plots: wrote $2" >&2
    else
        rm -f "$part" "$2"
        cat "$tmp/gnuplot.err" >&2
        note "gnuplot failed on $1: no $(basename "$2")"
        status=1
    fi
}
skip() { # skip OUT.png WHY: one line; an older PNG of that name would pass for this run's
    rm -f "$outdir/$1"
    note "$1 skipped: $2"
}
status=0

# The methods in the order of configs and results, with their colours and point types: the
# registry's (plots/palette.sh), plugins of the result included.
"$here/palette.sh" "$json" >"$tmp/palette.gp" || note "every method drawn black (see above)"
pal="$tmp/palette.gp"

# ---- the KV-cache paths: kv_codec.png (encode/decode), kv_attention.png (plots/kv_*.sh) --------
PALETTE="$pal" "$here/kv_codec.sh" "$csv" "$outdir" "$sub" || status=1
PALETTE="$pal" "$here/kv_attention.sh" "$csv" "$outdir" "$sub" || status=1
# ---- the bytes-per-token table: kv_bytes.md (plots/kv_bytes.sh) ------------------------------
"$here/kv_bytes.sh" "$csv" "$outdir" || status=1

if [ "$nrt" = 0 ]; then # a run of the KV-cache paths or attention alone
    for p in speedup.png mse.png rel_err.png latency.png pct_copy.png; do skip "$p" "no roundtrip rows in $csv"; done
    exit $status
fi
all_methods=$(sed -n "s/^rb_methods = '\(.*\)'$/\1/p" "$pal")
present=$(awk -v v="$variant" "$hdr"' $c["variant"] == v { s[$c["method"]] = 1 } END { for (m in s) print m }' "$rt")
methods=""
for m in $all_methods; do grep -qx -- "$m" <<<"$present" && methods="$methods $m"; done
methods=${methods# }
# Any method this script does not know goes last, so nothing is dropped silently.
for m in $present; do [[ " $all_methods " == *" $m "* ]] || methods="$methods $m"; done
[ -n "$methods" ] || die "$csv: no rows for variant '$variant'"
Ns=$(awk -v v="$variant" "$hdr"' $c["variant"] == v && !($c["N"] in s) { s[$c["N"]] = 1; print $c["N"] }' "$rt" | sort -n | tr '\n' ' '); Ns=${Ns% }
nN=$(wc -w <<<"$Ns")

# ---- 1. speedup.png ---------------------------------------------------------------------------
if [[ " $Ns " == *" 8192 "* ]]; then sN=8192; else sN=$(awk -v v="$variant" "$hdr"' $c["variant"] == v { print $c["N"]; exit }' "$rt"); fi
if [ "$backend" = cpu ]; then
    skip speedup.png "CPU wall-clock speedups move 12-19 % per setting between runs on a shared CPU (the Markdown table has them)"
elif [ ! -r "$paper" ]; then
    skip speedup.png "$paper not found"
elif awk -v v="$variant" -v N="$sN" -v paper="$paper" "$hdr"'
        $c["variant"] == v && $c["N"] == N && $c["speedup"] + 0 > 0 {
            k = $c["dtype"] SUBSEP $c["bits"] SUBSEP $c["d"]
            if ($c["method"] == "isoquant-full") full[k] = $c["speedup"]
            if ($c["method"] == "isoquant-fast") fast[k] = $c["speedup"]
            if ($c["method"] == "planarquant")   pl[k] = $c["speedup"]
        }
        END {
            print "setting,isoquant-full,paper full,isoquant-fast,paper fast,planarquant,paper 2d"
            FS = ","
            while ((getline line < paper) > 0) {
                if (line ~ /^#/ || line ~ /^dtype,/) continue
                split(line, p, ",")   # dtype,bits,dim,...,full_speedup,fast_speedup,2d_speedup
                k = p[1] SUBSEP p[2] SUBSEP p[3]
                if (!((k in full) || (k in fast) || (k in pl))) continue
                printf "%s b%s d%s,%s,%s,%s,%s,%s,%s\n", p[1], p[2], p[3],
                       (k in full) ? full[k] : "NaN", p[8], (k in fast) ? fast[k] : "NaN", p[9],
                       (k in pl) ? pl[k] : "NaN", p[10]
                n++
            }
            exit n == 0
        }' "$rt" >"$tmp/speedup.csv"; then
    plot speedup.gp "$outdir/speedup.png" \
        "in=$(q "$tmp/speedup.csv"); paper=1; title=$(q "Speedup over RotorQuant: ours (variant $variant, N = $sN) and the IsoQuant paper (RTX 4090, N = 8192)")"
else
    skip speedup.png "no speedup of isoquant-full, isoquant-fast or planarquant at a setting of the paper's Table 2 (d 128/256/512, bits 2-4; the baseline rotorquant must run) in $csv"
fi

# ---- 2. mse.png -------------------------------------------------------------------------------
# The Lloyd-Max line predicts the MSE of uniform unit vectors: only the sphere's rows are drawn
# (structured inputs have rd_<input>.png, file inputs rel_err.png).
sphere='!("input" in c) || $c["input"] == "sphere"'
mdt=$(awk -v v="$variant" "$hdr"' $c["variant"] == v { s[$c["dtype"]] = 1 } END { print ("fp32" in s) ? "fp32" : "fp16" }' "$rt")
mN=$(awk -v v="$variant" "$hdr"' $c["variant"] == v && ('"$sphere"') && $c["N"] + 0 > m { m = $c["N"] + 0 } END { print m + 0 }' "$rt") # the largest N: the most rows behind each MSE
ds=$(awk -v v="$variant" -v t="$mdt" -v N="$mN" "$hdr"'
    $c["variant"] == v && $c["dtype"] == t && $c["N"] == N && ('"$sphere"') {
        f = dir "/mse_d" $c["d"] ".csv"; g = dir "/pred_d" $c["d"] ".csv"
        if (!(f in seen)) { seen[f] = 1; print "method,bits,mse" > f; print "bits,pred" > g; order[++nd] = $c["d"] }
        # HQMQ has no bits knob: its x is the stored bits per coordinate of its operating point
        hq = $c["method"] == "hqmq"
        x = hq && ("bits_per_coord" in c) ? $c["bits_per_coord"] : $c["bits"]
        print $c["method"] "," x "," (($c["mse"] == "" || $c["mse"] ~ /[Nn][Aa][Nn]|inf/) ? "NaN" : $c["mse"]) > f
        if (!hq && !((g, $c["bits"]) in pseen)) { pseen[g, $c["bits"]] = 1; pred[g, ++np[g]] = $c["bits"] "," $c["pred_mse"] }
    }
    END {
        for (i = 1; i <= nd; i++) {
            g = dir "/pred_d" order[i] ".csv"
            printf "%s ", order[i]
            close(g) # the header must reach the file before sort appends to it
            # bits ascending, for the line
            cmd = "sort -t, -k1,1n >> \"" g "\""
            for (j = 1; j <= np[g]; j++) print pred[g, j] | cmd
            close(cmd)
        }
    }' dir="$tmp" "$rt")
ds=$(tr ' ' '\n' <<<"$ds" | sed '/^$/d' | sort -n | head -n 4 | tr '\n' ' ')
if [ -n "${ds// /}" ]; then
    nd=$(wc -w <<<"$ds")
    [ "$nd" -le 4 ] || note "mse.png: only the first 4 values of d are drawn"
    read -r ylo yhi < <({ vals 3 "$tmp"/mse_d*.csv; vals 2 "$tmp"/pred_d*.csv; } | decades)
    plot mse.gp "$outdir/mse.png" \
        "ylo=$ylo; yhi=$yhi; dir=$(q "$tmp"); ds=$(q "${ds% }"); methods=$(q "$methods"); title=$(q "Reconstruction error against bits ($mdt, N = $mN, variant $variant)")"
else
    skip mse.png "no rows of uniform unit vectors (input sphere) for variant $variant"
fi

# ---- 2b. rel_err.png: file inputs -------------------------------------------------------------
# A file's rows keep their norms, so the MSE has no common scale and no Lloyd-Max prediction: the
# mean relative error, one curve per method and slice (an input is a file's name, [slice] with
# split_axis), so the slices stand side by side instead of on top of each other.
synth=" sphere channel-outliers anisotropic lowrank "
fdt=$(awk -v v="$variant" -v syn="$synth" "$hdr"' ("input" in c) && $c["variant"] == v && index(syn, " " $c["input"] " ") == 0 { s[$c["dtype"]] = 1 }
                                               END { print ("fp32" in s) ? "fp32" : ("fp16" in s) ? "fp16" : "" }' "$rt")
if [ -n "$fdt" ]; then
    # rel_<k>.csv: bits,rel_err for the k-th (d, method, input); rel.list: "k d method input" lines
    awk -v v="$variant" -v t="$fdt" -v syn="$synth" -v methods="$methods" -v dir="$tmp" "$hdr"'
        $c["variant"] == v && $c["dtype"] == t && index(syn, " " $c["input"] " ") == 0 {
            m = $c["method"]; inp = $c["input"]; gsub(/[ \t]/, "_", inp)
            key = $c["d"] SUBSEP m SUBSEP inp
            if (!(key in id)) { id[key] = ++n; D[n] = $c["d"]; M[n] = m; I[n] = inp }
            x = (m == "hqmq" && ("bits_per_coord" in c)) ? $c["bits_per_coord"] : $c["bits"]
            r = ($c["rel_err"] ~ /^[0-9.eE+-]+$/) ? $c["rel_err"] : "NaN"
            rows[id[key]] = rows[id[key]] x "," r "\n"
        }
        END {
            nm = split(methods " hqmq", ord, " ")
            for (k = 1; k <= n; k++) {
                f = dir "/rel_" k ".csv"
                printf "bits,rel_err\n" > f
                cmd = "sort -t, -k1,1g >> \"" f "\""; close(f)
                printf "%s", rows[k] | cmd; close(cmd)
                for (o = 1; o <= nm && ord[o] != M[k]; o++) ;
                printf "%d %s %d %s %s\n", D[k], M[k], o, k, I[k] > (dir "/rel.list")
            }
        }' "$rt"
    # curves ordered by d, then method order, then input
    sort -k1,1n -k3,3n -k5,5 "$tmp/rel.list" >"$tmp/rel.sorted"
    rds=$(awk '!($1 in s) { s[$1] = 1; printf "%s ", $1 }' "$tmp/rel.sorted" | awk '{ for (i = 1; i <= NF && i <= 4; i++) printf "%s ", $i }')
    cd_=$(awk '{ printf "%s ", $1 }' "$tmp/rel.sorted"); cm=$(awk '{ printf "%s ", $2 }' "$tmp/rel.sorted")
    ck=$(awk '{ printf "%s ", $4 }' "$tmp/rel.sorted"); ci=$(awk '{ printf "%s ", $5 }' "$tmp/rel.sorted")
    inputs_f=$(awk '!($5 in s) { s[$5] = 1; printf "%s ", $5 }' "$tmp/rel.sorted")
    read -r ylo yhi < <(vals 2 "$tmp"/rel_*.csv | decades)
    plot rel_err.gp "$outdir/rel_err.png" \
        "ylo=$ylo; yhi=$yhi; dir=$(q "$tmp"); ds=$(q "${rds% }"); cd=$(q "${cd_% }"); cm=$(q "${cm% }"); ck=$(q "${ck% }"); ci=$(q "${ci% }"); inputs=$(q "${inputs_f% }"); title=$(q "Relative error of file inputs against bits ($fdt, variant $variant; rows keep their norms)")"
else
    rm -f "$outdir/rel_err.png"
fi

# ---- 3. latency.png ---------------------------------------------------------------------------
ninputs=$(awk "$hdr"' ("input" in c) && !($c["input"] in s) { s[$c["input"]] = 1; n++ } END { print n + 0 }' "$rt")
if [ "$nN" -gt 1 ] && [ "$ninputs" -gt 1 ]; then
    note "latency.png skipped: the N differ between inputs ($ninputs inputs), not within a scaling sweep"
elif [ "$nN" -gt 1 ]; then
    # the (d, bits) with the most values of N
    read -r ld lb < <(awk -v v="$variant" "$hdr"' $c["variant"] == v { k = $c["d"] " " $c["bits"]; if (!((k, $c["N"]) in s)) { s[k, $c["N"]] = 1; n[k]++ } }
        END { for (k in n) if (n[k] > best) { best = n[k]; bk = k }; print bk }' "$rt")
    dts=$(awk -v v="$variant" -v d="$ld" -v b="$lb" -v dir="$tmp" "$hdr"'
        $c["variant"] == v && $c["d"] == d && $c["bits"] == b {
            t = $c["dtype"]; m = $c["method"]
            f = dir "/lat_" t "_" m ".csv"
            if (!(f in seen)) { seen[f] = 1; print "N,median_us" > f }
            if ($c["time_median_us"] > 0) print $c["N"] "," $c["time_median_us"] > f
            if (!(t in ts)) { ts[t] = 1; order[++nt] = t; print "N,copy_us" > (dir "/copy_" t ".csv") }
            if ($c["copy_us"] > 0 && !((t, $c["N"]) in cs)) { cs[t, $c["N"]] = 1; print $c["N"] "," $c["copy_us"] > (dir "/copy_" t ".csv"); hascopy = 1 }
        }
        END { for (i = 1; i <= nt; i++) printf "%s ", order[i]; printf "\n%d\n", hascopy }' "$rt")
    hascopy=$(tail -n 1 <<<"$dts"); dts=$(head -n 1 <<<"$dts")
    # methods without a file for some dtype get an empty one, so the loop in latency.gp works
    for t in $dts; do for m in $methods; do [ -e "$tmp/lat_${t}_$m.csv" ] || echo "N,median_us" >"$tmp/lat_${t}_$m.csv"; done; done
    [ "$hascopy" = 1 ] || note "latency.png: copy_us is 0 (CPU backend): no copy floor"
    read -r ylo yhi < <(vals 2 "$tmp"/lat_*.csv "$tmp"/copy_*.csv | decades)
    plot latency.gp "$outdir/latency.png" \
        "ylo=$ylo; yhi=$yhi; dir=$(q "$tmp"); dts=$(q "${dts% }"); methods=$(q "$methods"); hascopy=$hascopy; setting=$(q "d = $ld, $lb bits"); title=$(q "Latency against batch size (variant $variant)")"
else
    note "latency.png skipped: $csv has a single N ($Ns); run a scaling config (configs/scaling.json)"
fi

# ---- 4. pct_copy.png --------------------------------------------------------------------------
if awk "$hdr"' $c["copy_us"] > 0 { f = 1 } END { exit !f }' "$rt"; then
    # One group per setting, sorted by dtype, d, bits, N; the label names only what varies
    # (the rest goes into the x label), and N as 1K / 64K / 1M so 30 groups still fit.
    awk -v v="$variant" -v methods="$methods" -v dir="$tmp" "$hdr"'
        function nfmt(n) { return (n >= 1048576 && n % 1048576 == 0) ? (n / 1048576) "M" : (n >= 1024 && n % 1024 == 0) ? (n / 1024) "K" : n }
        $c["variant"] == v {
            t = $c["dtype"]; b = $c["bits"]; d = $c["d"]; N = $c["N"]
            k = sprintf("%s %06d %02d %012d", t, d, b, N)
            if (!(k in seen)) { seen[k] = 1; ks[++n] = k; T[k] = t; D[k] = d; Bt[k] = b; NN[k] = N
                                vt[t]++; vd[d]++; vb[b]++; vn[N]++ }
            p[k, $c["method"]] = ($c["pct_of_copy_bw"] > 0) ? $c["pct_of_copy_bw"] : "NaN"
        }
        function cnt(a,   x, m) { m = 0; for (x in a) m++; return m }
        END {
            mt = cnt(vt) > 1; md = cnt(vd) > 1; mb = cnt(vb) > 1; mn = cnt(vn) > 1
            nm = split(methods, m, " ")
            f = dir "/pct_copy.body"
            for (i = 1; i <= n; i++) {
                k = ks[i]; lab = ""
                if (mt) lab = lab " " T[k]
                if (mb) lab = lab " b" Bt[k]
                if (md) lab = lab " d" D[k]
                if (mn) lab = lab " N" nfmt(NN[k])
                if (lab == "") lab = " " T[k] " b" Bt[k] " d" D[k]
                line = k "\t" substr(lab, 2)
                for (j = 1; j <= nm; j++) line = line "," (((k, m[j]) in p) ? p[k, m[j]] : "NaN")
                print line > f
            }
            close(f)
            # the x label: what varies, then what is fixed
            xl = ""; fx = ""
            xl = xl (mt ? ", dtype" : ""); fx = fx (mt ? "" : ", " T[ks[1]])
            xl = xl (mb ? ", bits" : "");  fx = fx (mb ? "" : ", " Bt[ks[1]] " bits")
            xl = xl (md ? ", d" : "");     fx = fx (md ? "" : ", d = " D[ks[1]])
            xl = xl (mn ? ", N" : "");     fx = fx (mn ? "" : ", N = " NN[ks[1]])
            if (xl == "") xl = ", dtype, bits, d"
            printf "setting (%s)%s\n", substr(xl, 3), (fx != "" && xl != "") ? "; " substr(fx, 3) : ""
            print n
        }' "$rt" >"$tmp/pct_copy.meta"
    xlab=$(head -n 1 "$tmp/pct_copy.meta"); ngroups=$(tail -n 1 "$tmp/pct_copy.meta")
    { printf 'setting'; for m in $methods; do printf ',%s' "$m"; done; printf '\n'
      sort "$tmp/pct_copy.body" | cut -f 2-; } >"$tmp/pct_copy.csv"
    ymax=$(awk -F, 'NR > 1 { for (i = 2; i <= NF; i++) if ($i != "NaN" && $i + 0 > m) m = $i + 0 }
                    END { m *= 1.08; print (m > 110 ? int(m) + 1 : 110) }' "$tmp/pct_copy.csv")
    plot pct_copy.gp "$outdir/pct_copy.png" \
        "in=$(q "$tmp/pct_copy.csv"); ymax=$ymax; ngroups=$ngroups; xlab=$(q "$xlab"); methods=$(q "$methods"); title=$(q "Bandwidth as a share of the D2D copy of the same bytes (variant $variant)")"
else
    note "pct_copy.png skipped: copy_us is 0 everywhere (CPU backend: no device copy to compare with)"
fi
# ---- 5. rd_<input>.png -------------------------------------------------------------------------
if awk "$hdr"' ("input" in c) && ($c["input"] != "sphere" || $c["ip_err"] != "nan") { f = 1 } END { exit !f }' "$rt" 2>/dev/null; then
    rdt=$(awk -v v="$variant" "$hdr"' $c["variant"] == v { s[$c["dtype"]] = 1 } END { print ("fp32" in s) ? "fp32" : "fp16" }' "$rt")
    inputs=$(awk -v v="$variant" -v t="$rdt" "$hdr"' $c["variant"] == v && $c["dtype"] == t && !($c["input"] in s) { s[$c["input"]] = 1; print $c["input"] }' "$rt")
    rdm="$methods"; grep -q ',hqmq,' "$rt" && [[ " $rdm " != *" hqmq "* ]] && rdm="$rdm hqmq"
    for inp in $inputs; do
        rm -f "$tmp"/rd_*.csv
        awk -v v="$variant" -v t="$rdt" -v inp="$inp" -v dir="$tmp" "$hdr"'
            $c["variant"] == v && $c["dtype"] == t && $c["input"] == inp {
                f = dir "/rd_" $c["method"] ".raw"
                ip = ($c["ip_err"] ~ /[Nn][Aa][Nn]/) ? "NaN" : $c["ip_err"]
                print $c["bits_per_coord"] "," $c["rel_err"] "," ip > f
            }' "$rt"
        hasip=$(awk "$hdr"' $c["input"] == inp && $c["ip_err"] !~ /[Nn][Aa][Nn]/ { f = 1 } END { print f + 0 }' inp="$inp" "$rt")
        ms=""
        for m in $rdm; do
            [ -e "$tmp/rd_$m.raw" ] || continue
            { echo "bits_per_coord,rel_err,ip_err"; sort -t, -k1,1g "$tmp/rd_$m.raw"; } >"$tmp/rd_$m.csv"
            ms="$ms $m"
        done
        safe=$(tr -c 'A-Za-z0-9._-' '_' <<<"$inp" | sed 's/_*$//')
        plot rd.gp "$outdir/rd_$safe.png" \
            "dir=$(q "$tmp"); methods=$(q "${ms# }"); hasip=$hasip; title=$(q "Rate-distortion on $inp ($rdt, variant $variant)")"
    done
fi
exit $status
