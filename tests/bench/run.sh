#!/bin/sh
# run.sh BINARY - the benchmarks. Each figure is the median of several runs,
# printed beside a reference measured in the same run on the same machine.
#   BENCH_RUNS=N      runs per figure (default 5)
#   BENCH_SIZES="1000000 ..."   interaction counts for the import benchmark
set -eu
BIN=$(readlink -f "$1")
RUNS=${BENCH_RUNS:-5}
SIZES=${BENCH_SIZES:-1000000}
T=$(mktemp -d /tmp/recscope-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "recscope benchmarks ($(nproc) cores, $RUNS runs each, medians)"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
printf '%-34s %12s %14s %14s %8s\n' benchmark size recscope reference ratio

for n in $SIZES; do
    users=$((n / 106 + 1))
    items=$((n / 60 + 1))
    [ "$items" -gt 30000 ] && items=30000
    "$BIN" generate "$T/data" --users $users --items $items --interactions "$n" --seed 1 >/dev/null
    # reference: sqlite3's own .import of the same CSV into a plain table
    # (no ids interned, no validation, no indexes): the floor of SQLite's speed
    : >"$T/rs.times"
    : >"$T/ref.times"
    for r in $(seq "$RUNS"); do
        rm -f "$T/b.db" "$T/b.db-wal" "$T/b.db-shm" "$T/ref.db"
        t0=$(now)
        "$BIN" import "$T/b.db" "$T/data" -q
        t1=$(now)
        calc "$t1 - $t0" >>"$T/rs.times"
        t0=$(now)
        sqlite3 "$T/ref.db" "PRAGMA journal_mode=WAL;" \
            "CREATE TABLE r(user TEXT, item TEXT, rating REAL, ts INTEGER);" \
            ".mode csv" ".import --skip 1 $T/data/interactions.csv r" >/dev/null
        t1=$(now)
        calc "$t1 - $t0" >>"$T/ref.times"
    done
    rs=$(median <"$T/rs.times")
    ref=$(median <"$T/ref.times")
    printf '%-34s %12s %10.0f/s %10.0f/s %7.2fx\n' "import (interactions/s)" "$n" \
        "$(calc "$n / $rs")" "$(calc "$n / $ref")" "$(calc "$ref / $rs")"
    printf '%-34s %12s %12.2f s %12.2f s\n' "  import wall time (median)" "$n" "$rs" "$ref"
done
echo "ratio = reference time / recscope time (above 1: recscope is faster)"
