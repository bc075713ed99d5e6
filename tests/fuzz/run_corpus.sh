#!/bin/sh
# run_corpus.sh BUILD TARGET... - runs every committed input of
# tests/fuzz/corpus/TARGET/ (seeds and the regression inputs of crashes
# found) through BUILD/fuzz/run_TARGET, the target linked with driver.c.
# One check per input; a crash fails the input it was on and the ones after.
set -u
build=$1
shift
here=$(dirname "$0")
pass=0
fail=0
for t in "$@"; do
    bin=$build/fuzz/run_$t
    set -- "$here"/corpus/"$t"/*
    [ -e "$1" ] || { echo "not ok - fuzz $t: no corpus"; fail=$((fail + 1)); continue; }
    total=$#
    out=$("$bin" "$@" 2>&1)
    rc=$?
    ok=$(printf '%s\n' "$out" | grep -c '^ok ')
    pass=$((pass + ok))
    if [ "$rc" -ne 0 ] || [ "$ok" -ne "$total" ]; then
        fail=$((fail + total - ok))
        [ "$ok" -eq "$total" ] && fail=$((fail + 1))
        echo "not ok - fuzz $t: $ok of $total inputs (exit $rc)"
        printf '%s\n' "$out" | grep -v '^ok ' | head -30 | sed 's/^/    # /'
    else
        echo "ok - fuzz $t: $total inputs"
    fi
done
[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail fuzz-corpus" >>"$RS_RESULTS"
echo "fuzz-corpus: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
