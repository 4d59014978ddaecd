#!/usr/bin/env bash
# palette.sh: each method's colour and point type, from the registry, as a gnuplot file on
# stdout: it loads palette.gp (the shared look), then defines mcolor(m) and mpoint(m) and sets
# rb_methods to the registry's method names in the order of configs and results. make_plots.sh
# loads it in place of palette.gp, so a new built-in method or a plugin is drawn in a colour of
# its own (rotorbench methods --json: a palette indexed by registry position) with no edit here.
#
# usage: plots/palette.sh [RESULT.json]
#   RESULT.json  a result whose "plugins" libraries are loaded too (those still readable).
#   ROTORBENCH=path overrides the binary (default build/rotorbench beside this folder).
# Exit status 0; 1 when the registry could not be read (one line on stderr): the file printed
# then has palette.gp's fallbacks alone (every method black).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rb=${ROTORBENCH:-$here/../build/rotorbench}
q() { printf "'%s'" "${1//\'/\'\'}"; } # a gnuplot single-quoted literal

plugargs=()
if [ $# -ge 1 ] && [ -r "$1" ]; then
    while IFS= read -r lib; do [ -r "$lib" ] && plugargs+=(--plugin "$lib"); done < <(awk '
        /"library"[ \t]*:/ { sub(/^[^:]*:[ \t]*"/, ""); sub(/"[ \t,]*$/, ""); print }' "$1" | sort -u)
fi
# one method per line: "name":"...", ..., "color":"#rrggbb", "point":N (methods_cmd.c)
err=$(mktemp "${TMPDIR:-/tmp}/rb_palette.XXXXXX")
trap 'rm -f "$err"' EXIT
json=$("$rb" methods --json ${plugargs[@]+"${plugargs[@]}"} 2>"$err" || "$rb" methods --json 2>>"$err") || json=""
list=$(awk 'function val(k) { return match($0, "\"" k "\":(\"[^\"]*\"|[0-9]+)") ? substr($0, RSTART + length(k) + 3, RLENGTH - length(k) - 3) : "" }
            { n = val("name"); c = val("color"); p = val("point"); gsub(/"/, "", n); gsub(/"/, "", c)
              if (n ~ /^[a-z0-9_-]+$/ && c ~ /^#[0-9a-f]+$/ && p != "") print n, c, p }' <<<"$json")

echo "load $(q "$here/palette.gp")"
if [ -z "$list" ]; then
    echo "rb_methods = ''"
    echo "palette: cannot read the registry ('$rb methods --json': $(head -n 1 "$err")): every method drawn black; make build/rotorbench" >&2
    exit 1
fi
printf 'mcolor(m) = '; while read -r n c p; do printf "m eq '%s' ? '%s' : " "$n" "$c"; done <<<"$list"; echo "'#000000'"
printf 'mpoint(m) = '; while read -r n c p; do printf "m eq '%s' ? %s : " "$n" "$p"; done <<<"$list"; echo 6
echo "rb_methods = '$(awk '{ printf "%s%s", (NR > 1 ? " " : ""), $1 }' <<<"$list")'"
