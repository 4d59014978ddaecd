#!/usr/bin/env bash
# kv_bytes.sh: kv_bytes.md, the KV cache's bytes per token per method as a Markdown table beside
# the plots, so a README or a report can link to it: the table `rotorbench run` prints after a
# run of the encode or decode path (harness/kvtable.c), here from the records themselves: bytes
# per token = stored_bytes / N of the encode/decode rows (packed codes + the norm: 2 bytes fp16,
# 4 fp32, none with assume_unit_norm), bits per coordinate = 8 bytes / d, and the fp16 cache's
# 2 d bytes against it. Called by make_plots.sh.
# Skipped with one line (an older kv_bytes.md removed) when the CSV has no encode/decode rows.
#
# usage: plots/kv_bytes.sh RESULT.csv OUTDIR
# Exit status: 0 done or skipped, 1 the file could not be written.
set -euo pipefail
csv=$1 outdir=$2
md="$outdir/kv_bytes.md"
note() { echo "make_plots: $*" >&2; }
hdr='BEGIN { FS = "," } NR == 1 { for (i = 1; i <= NF; i++) { gsub(/\r/, "", $i); c[$i] = i }; next } { sub(/\r$/, "") }'
kv='("path" in c) && ("stored_bytes" in c) && ($c["path"] == "encode" || $c["path"] == "decode") && $c["stored_bytes"] > 0 && $c["N"] > 0'
if ! awk "$hdr $kv"' { f = 1 } END { exit !f }' "$csv"; then
    rm -f "$md"
    note "kv_bytes.md skipped: no encode/decode rows with stored_bytes in $csv"
    exit 0
fi
# the norm stored beside the codes: none with assume_unit_norm, else the config's kv_norm (the
# JSON beside the CSV), fp16 when not given (docs/config-format.md)
json="${csv%.csv}.json"
norm=$(awk "$hdr $kv"' { u = ("assume_unit_norm" in c) && $c["assume_unit_norm"] == 1; exit } END { print u ? "none" : "" }' "$csv")
if [ -z "$norm" ]; then
    norm=$( { [ -r "$json" ] && sed -n 's/^[ \t]*"kv_norm"[ \t]*:[ \t]*"\([a-z0-9]*\)".*/\1/p' "$json" | head -n 1; } || true)
    norm=${norm:-fp16}
fi
part="$outdir/.kv_bytes.md.part"
# the norm's bytes per token (docs/methods.md, Packed format)
case $norm in fp32) nb=4 ;; none) nb=0 ;; *) nb=2 ;; esac
if awk -v src="$(basename "$csv")" -v norm="$norm" -v nb=$nb "$hdr $kv"' {
        k = $c["method"] SUBSEP $c["d"] SUBSEP $c["bits"]
        if (k in seen) next
        seen[k] = 1; n++
        d = $c["d"]; tok = $c["stored_bytes"] / $c["N"]
        row[n] = sprintf("| %s | %d | %d | %.6g | %d | %.6g | %.3f | %.2fx smaller |", $c["method"], d, $c["bits"],
                         tok - nb, nb, tok, 8 * tok / d, 2 * d / tok)
    }
    END {
        printf "### KV cache: bytes per token (packed codes + %s norm; fp16 is 2 d)\n\n", norm
        printf "From %s: stored_bytes / N of its encode and decode records.\n\n", src
        print "| method | d | bits | code bytes | norm bytes | bytes/token | bits/coord | vs fp16 |"
        print "|---|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= n; i++) print row[i]
    }' "$csv" >"$part" && mv -f "$part" "$md"; then
    note "wrote $md"
else
    rm -f "$part"
    note "cannot write $md"
    exit 1
fi
