#!/bin/sh
# load20m.sh BINARY [N] - the whole pipeline on a generated dataset of N
# interactions (default 20,000,000; ML-20M's shape: 138,493 users, 26,744
# items): generate, import, split (per-user random 80/20), train ALS and
# ItemKNN, evaluate both (full protocol), export the top-10 lists; each step's
# wall time and peak memory (GNU time's maximum resident set size). Slow: run
# by `BENCH_20M=1 make bench`, or alone.
set -eu
BIN=$(readlink -f "$1")
N=${2:-20000000}
T=$(mktemp -d /tmp/recscope-20m.XXXXXX)
trap 'rm -rf "$T"' EXIT
users=$((N * 138493 / 20000000))
items=$((N * 26744 / 20000000))
[ "$items" -lt 100 ] && items=100
[ "$users" -lt 100 ] && users=100
step() { # NAME CMD...: runs CMD, prints a table row
    name=$1
    shift
    if ! /usr/bin/time -f '%e %M' -o "$T/time" "$@" >"$T/out" 2>"$T/err"; then
        printf '| %-38s | failed: %s |\n' "$name" "$(tail -1 "$T/err")"
        return 1
    fi
    read -r secs kb <"$T/time"
    printf '| %-38s | %9.1f s | %7.0f MiB |\n' "$name" "$secs" "$(awk "BEGIN { print $kb / 1024 }")"
}
echo "pipeline on $N generated interactions ($users users, $items items), $(nproc) cores:"
echo "| step | wall | peak memory |"
echo "|---|---|---|"
step "generate" "$BIN" generate "$T/data" --users "$users" --items "$items" --interactions "$N" --seed 1 -q
step "import" "$BIN" import "$T/db" "$T/data" -q
rm -rf "$T/data"
step "split (random 80/20)" "$BIN" split "$T/db" --name r80 --method random --test-frac 0.2 --seed 1 -q
step "train ALS (64 factors, 15 iterations)" "$BIN" train "$T/db" --algo als --split r80 --name als --device cpu -q
step "train ItemKNN (k = 100)" "$BIN" train "$T/db" --algo itemknn --split r80 --name iknn -q
step "eval ALS (full protocol, CPU)" "$BIN" eval "$T/db" --run als --k 10 --device cpu
step "eval ItemKNN (full protocol)" "$BIN" eval "$T/db" --run iknn --k 10
step "export-recs ALS (top 10, CPU)" "$BIN" export-recs "$T/db" --run als --k 10 --device cpu
