#!/bin/sh
# summary.sh RESULTS - sums the "PASSED FAILED NAME" lines the suites wrote.
f=$1
[ -f "$f" ] || { echo "summary: no results in $f"; exit 1; }
awk '{ p += $1; q += $2; printf "  %-28s %5d passed, %d failed\n", $3, $1, $2 }
     END { printf "total: %d passed, %d failed\n", p, q; exit (q > 0) }' "$f"
