#!/usr/bin/env bash
# tests/docs_examples.sh: run the shell examples of README.md and docs/*.md as a reader would.
#
# Every fenced shell block carries a marker on the line before it (tests/test_docs.c fails the
# CPU suite on a block without one):
#   <!-- docs-test: run [VAR=value ...] -->  run here, from the repository root, with those
#                                            variables set (e.g. a small CONFIG for make sweep)
#   <!-- docs-test: ci -->                   CI runs each of its lines (.ci/run): not run here
#   <!-- docs-test: gpu -->                  needs a GPU: skipped with one line
#   <!-- docs-test: template -->             a synopsis, or files the reader supplies: not run
# Each run block runs under `bash -e`, its stdout and stderr into a log that is shown when it
# fails. Without a GPU the examples run on the CPU backend (rotorbench's auto). Also checks that
# `make sweep` prints nothing on stdout but the Markdown table (build and plot lines go to
# stderr), so `make sweep > table.md` is the table.
# Exit status: 0 when every run block exited 0, 1 otherwise. make docs-test runs it; so does CI.
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb_docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0 ran=0

# blocks FILE: one line per marked shell block, "LINE<TAB>KIND<TAB>VARS", its body in $tmp/block.LINE
blocks() {
    awk -v out="$tmp/block." '
        /^```/ && inb { inb = 0; close(f); next }
        inb { print > f; next }
        /^```(sh|bash|shell|console)( |$)/ {
            kind = "none"; vars = ""
            if (match(prev, /<!-- docs-test: [a-z]+/)) {
                kind = substr(prev, RSTART + 16, RLENGTH - 16)
                rest = substr(prev, RSTART + RLENGTH); sub(/-->.*/, "", rest); gsub(/^ +| +$/, "", rest); vars = rest
            }
            f = out NR; printf "" > f; inb = 1
            printf "%d\t%s\t%s\n", NR, kind, vars
            next
        }
        { prev = $0 }' "$1"
}

for doc in README.md docs/*.md; do
    while IFS=$'\t' read -r line kind vars; do
        body="$tmp/block.$line"
        case "$kind" in
        run)
            ran=$((ran + 1))
            log="$tmp/log.$ran"
            t0=$(date +%s)
            # shellcheck disable=SC2086 # vars is a list of VAR=value words
            if env $vars bash -e "$body" >"$log" 2>&1; then
                echo "docs-test: $doc:$line: ok ($(($(date +%s) - t0)) s): $(head -n 1 "$body")"
            else
                echo "docs-test: $doc:$line: FAILED (exit status above): $(head -n 1 "$body")"
                tail -n 30 "$log" | sed 's/^/    /'
                fail=1
            fi
            ;;
        gpu) echo "docs-test: $doc:$line: needs a GPU: skipped: $(head -n 1 "$body")" ;;
        ci | template) ;;
        *) echo "docs-test: $doc:$line: no docs-test marker on the line before the block (see $0)"; fail=1 ;;
        esac
    done < <(blocks "$doc")
done

# make sweep: only the table on stdout
if CONFIG=configs/smoke.json make --no-print-directory sweep >"$tmp/table.md" 2>"$tmp/sweep.err"; then
    bad=$(grep -vE '^(#|\||$|[A-Za-z(*_-])' "$tmp/table.md" | head -n 3)
    chatter=$(grep -E '^(make|deps|run_sweep|make_plots|rotorbench)(\[[0-9]+\])?:|^(gcc|cc|nvcc|ar|\.?/)' "$tmp/table.md" | head -n 3)
    if [ -n "$chatter$bad" ] || ! grep -q '^| method |' "$tmp/table.md"; then
        echo "docs-test: make sweep > table.md: stdout is not only the table:"
        printf '%s\n%s\n' "$chatter" "$bad" | sed '/^$/d; s/^/    /'
        fail=1
    else
        echo "docs-test: make sweep > table.md: only the table on stdout ($(wc -l <"$tmp/table.md") lines)"
    fi
else
    echo "docs-test: CONFIG=configs/smoke.json make sweep failed:"
    tail -n 20 "$tmp/sweep.err" | sed 's/^/    /'
    fail=1
fi

echo "docs-test: $ran examples run, $([ $fail = 0 ] && echo "all passed" || echo "FAILED")"
exit $fail
