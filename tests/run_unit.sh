#!/bin/sh
# run_unit.sh BUILD TEST... - runs the cmocka test binaries and sums them up.
# Prints each binary's cmocka report and a closing "N passed, N failed" line.
build=$1
shift
pass=0
fail=0
failed=
for t in "$@"; do
    out=$("$t" 2>&1)
    rc=$?
    printf '%s\n' "$out"
    p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
    pass=$((pass + ${p:-0}))
    fail=$((fail + ${f:-0}))
    if [ $rc -ne 0 ] && [ -z "$f" ]; then
        fail=$((fail + 1))
        failed="$failed $(basename "$t")(exit $rc)"
    elif [ $rc -ne 0 ]; then
        failed="$failed $(basename "$t")"
    fi
done
[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail unit($build)" >> "$RS_RESULTS"
echo "unit: $pass passed, $fail failed"
[ -n "$failed" ] && echo "failing:$failed"
[ "$fail" -eq 0 ]
