#!/bin/sh
# run.sh BINARY BENCHDIR - the benchmarks, as one table. Each figure is the
# median of several runs, beside a reference measured in the same run on
# the same machine.
#   BENCH_RUNS=N        runs per figure (default 3)
#   BENCH_SIZE=N        interactions of the generated dataset (default 1000000)
#   BENCH_20M=1         also load a generated 20M-interaction dataset (slow)
#   BENCH_LOO=0         leave out the next-item quality table (a few minutes)
set -eu
BIN=$(readlink -f "$1")
BD=$(readlink -f "$2")
RUNS=${BENCH_RUNS:-3}
N=${BENCH_SIZE:-1000000}
PY=/usr/bin/python3
T=$(mktemp -d /tmp/recscope-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export OMP_NUM_THREADS=$(nproc) OPENBLAS_NUM_THREADS=$(nproc)

now() { date +%s.%N; }
calc() { awk "BEGIN { print $1 }"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# time_cmd FILE CMD...: appends the wall seconds of CMD to FILE
time_cmd() {
    f=$1
    shift
    t0=$(now)
    "$@" >/dev/null 2>&1
    t1=$(now)
    calc "$t1 - $t0" >>"$f"
}
row() { # NAME SIZE RS REF (seconds; REF may be -)
    if [ "$4" = - ]; then
        printf '| %-40s | %-12s | %10.3f s | %14s | %7s |\n' "$1" "$2" "$3" "-" "-"
    else
        printf '| %-40s | %-12s | %10.3f s | %12.3f s | %6.2fx |\n' "$1" "$2" "$3" "$4" "$(calc "$4 / $3")"
    fi
}
note() { printf '| %-40s | %-12s | %s |\n' "$1" "$2" "$3"; }
have_py() { [ -x "$PY" ] && "$PY" -c 'import numpy, scipy' 2>/dev/null; }
have_torch() { [ -x "$PY" ] && "$PY" -c 'import torch' 2>/dev/null; }

echo "recscope benchmarks: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), medians of $RUNS runs"
echo "ratio = reference time / recscope time (above 1: recscope is faster)"
echo
echo "| benchmark | size | recscope | reference | ratio |"
echo "|---|---|---|---|---|"

users=$((N / 106 + 1))
items=$((N / 60 + 1))
[ "$items" -gt 16000 ] && items=16000
"$BIN" generate "$T/data" --users $users --items $items --interactions "$N" --seed 1 -q

# import: recscope vs sqlite3's own CSV import into a bare table
for r in $(seq "$RUNS"); do
    rm -f "$T/b.db" "$T/b.db-wal" "$T/b.db-shm" "$T/ref.db"
    time_cmd "$T/imp.rs" "$BIN" import "$T/b.db" "$T/data" -q
    time_cmd "$T/imp.ref" sqlite3 "$T/ref.db" "PRAGMA journal_mode=WAL;" \
        "CREATE TABLE r(user TEXT, item TEXT, rating REAL, ts INTEGER);" \
        ".mode csv" ".import --skip 1 $T/data/interactions.csv r"
done
rs=$(median <"$T/imp.rs")
row "import (ref: sqlite3 .import, bare table)" "$N" "$rs" "$(median <"$T/imp.ref")"
note "  import rate" "$N" "$(calc "$N / $rs" | cut -d. -f1) interactions/s"

# loading into memory: recscope vs a bare SQLite scan of the same table
"$BD/bench_load" "$T/b.db" "$RUNS" | sed -n 's/^median \(.*\) s/\1/p' >"$T/load.rs"
for r in $(seq "$RUNS"); do
    time_cmd "$T/load.ref" sqlite3 "$T/b.db" "SELECT count(*), sum(rating), sum(ts), sum(item_id) FROM interactions"
done
row "load into CSR+CSC (ref: SQLite full scan)" "$N" "$(cat "$T/load.rs")" "$(median <"$T/load.ref")"
if [ "${BENCH_20M:-0}" = 1 ]; then
    "$BIN" generate "$T/d20" --users 138493 --items 26744 --interactions 20000000 --seed 1 -q
    "$BIN" import "$T/b20.db" "$T/d20" -q
    rm -rf "$T/d20"
    "$BD/bench_load" "$T/b20.db" "$RUNS" | sed -n 's/^median \(.*\) s/\1/p' >"$T/load20.rs"
    row "load into CSR+CSC" "20000000" "$(cat "$T/load20.rs")" -
    rm -f "$T/b20.db"*
    echo
    sh "$(dirname "$0")/load20m.sh" "$BIN" 20000000
    echo
fi

# models: fit on every interaction, peak memory, recommend latency
model() { # ALGO PARAMS... -> fit median in $T/fit, details in $T/model.out
    "$BD/bench_models" "$T/b.db" "$@" runs=$RUNS >"$T/model.out"
    sed -n 's/^median fit \(.*\) s/\1/p' "$T/model.out" >"$T/fit"
}
details() { # NAME
    note "  $1 peak memory" "$N" "$(sed -n 's/^peak memory //p' "$T/model.out")"
    note "  $1 recommend latency" "$N" "$(sed -n 's/^recommend latency //p' "$T/model.out")"
}
ref_py() { # SCRIPT ARGS... -> median seconds or -
    if have_py; then "$PY" "$@" runs=$RUNS 2>/dev/null | sed -n 's/^median \(.*\) s/\1/p'; else echo -; fi
}
model als
row "ALS 64 factors, 15 iters (ref: numpy/scipy CG)" "$N" "$(cat "$T/fit")" \
    "$(ref_py "$(dirname "$0")/als_ref.py" "$T/data/interactions.csv")"
details ALS
model itemknn k=100
row "ItemKNN k=100 (ref: scipy sparse cosine)" "$N" "$(cat "$T/fit")" \
    "$(ref_py "$(dirname "$0")/ref_models.py" itemknn "$T/data/interactions.csv" k=100)"
details ItemKNN
if "$BIN" train --list | grep -q '^bpr '; then
    model bpr
    row "BPR-MF 64 factors, default epochs" "$N" "$(cat "$T/fit")" -
    details BPR
    model bpr epochs=5
    bref=-
    if have_torch; then
        bref=$("$PY" "$(dirname "$0")/ref_models.py" bpr "$T/data/interactions.csv" epochs=5 \
            threads="$(nproc)" runs=$RUNS 2>/dev/null | sed -n 's/^median \(.*\) s/\1/p')
    fi
    row "BPR-MF 5 epochs (ref: PyTorch SGD, batch 1024)" "$N" "$(cat "$T/fit")" "${bref:--}"
fi
# EASE on a 10,000-item catalogue
"$BIN" generate "$T/d10k" --users 5000 --items 10000 --interactions 500000 --seed 2 -q
"$BIN" import "$T/e.db" "$T/d10k" -q
"$BD/bench_models" "$T/e.db" ease runs=$RUNS >"$T/model.out"
row "EASE, 10,000 items (ref: numpy inv)" "500000" \
    "$(sed -n 's/^median fit \(.*\) s/\1/p' "$T/model.out")" \
    "$(ref_py "$(dirname "$0")/ref_models.py" ease "$T/d10k/interactions.csv")"
N=500000 details EASE
# biased MF, 5-fold CV on MovieLens-100K (Surprise's published figure: 6 s)
ML=${RECSCOPE_ML100K:-}
[ -z "$ML" ] && for d in ../shared/datasets/ml-100k "$(dirname "$0")/../../../shared/datasets/ml-100k"; do
    [ -f "$d/u.data" ] && ML=$d && break
done
if [ -n "$ML" ] && [ -f "$ML/u.data" ] && "$BIN" train --list | grep -q '^mf '; then
    "$BIN" import "$T/ml.db" "$ML" -q
    for r in $(seq "$RUNS"); do
        "$BIN" cv "$T/ml.db" --algo mf --folds 5 --rating-only --format json | sed -n 's/.*"seconds":\([0-9.]*\).*/\1/p' >>"$T/cv"
    done
    row "MF 5-fold CV on ML-100K (Surprise: 6 s)" "100000" "$(median <"$T/cv")" -
fi

# deep models: one training epoch, recscope against PyTorch on the CPU with
# the same threads. Both print lines
#   [pytorch V] MODEL epoch DATA N samples, T thread(s): S s, R samples/s
# and the rows compare seconds per epoch scaled to the same samples.
epoch_rows() { # TITLE RSFILE REFFILE
    for data in ml-100k gen-1m; do
        for th in 1 2; do
            rsl=$(grep " epoch $data .* $th thread(s):" "$2" | head -1)
            [ -z "$rsl" ] && continue
            rs_n=$(echo "$rsl" | sed 's/.* \([0-9]*\) samples,.*/\1/')
            rs_s=$(echo "$rsl" | sed 's/.*: \([0-9.]*\) s,.*/\1/')
            refl=$(grep " epoch $data .* $th thread(s):" "$3" 2>/dev/null | head -1)
            ref=-
            if [ -n "$refl" ]; then
                ref_n=$(echo "$refl" | sed 's/.* \([0-9]*\) samples,.*/\1/')
                ref=$(calc "$(echo "$refl" | sed 's/.*: \([0-9.]*\) s,.*/\1/') * $rs_n / $ref_n")
            fi
            row "$1 epoch, $data, $th thr (ref: PyTorch)" "$rs_n" "$rs_s" "$ref"
        done
    done
}
ML_DIR=${ML:-${RECSCOPE_ML100K:-../shared/datasets/ml-100k}}
deep_bench() { # TITLE NAME: build/bench/bench_NAME against tests/bench/NAME_ref.py
    [ -x "$BD/bench_$2" ] || return 0
    "$BD/bench_$2" "$ML_DIR" "$RUNS" >"$T/$2.rs" 2>/dev/null || true
    : >"$T/$2.ref"
    if have_torch && [ -f "$(dirname "$0")/$2_ref.py" ]; then
        for th in 1 2; do
            "$PY" "$(dirname "$0")/$2_ref.py" "$ML_DIR" "$RUNS" $th >>"$T/$2.ref" 2>/dev/null || true
        done
    fi
    epoch_rows "$1" "$T/$2.rs" "$T/$2.ref"
}
deep_bench NeuMF neumf
deep_bench GRU4Rec gru4rec
deep_bench SASRec sasrec

# next-item quality of every model on ML-100K (leave-last-out), the README's table
if [ "${BENCH_LOO:-1}" = 1 ]; then
    echo
    echo "Next-item prediction on MovieLens-100K (last interaction by time held out; sampled: among 99 never-seen items):"
    sh "$(dirname "$0")/loo_table.sh" "$BIN"
fi

# the TUI's queries (keyset pages, filters) on the generated database
if [ -x "$BD/bench_tui_queries" ]; then
    echo
    echo "TUI screen queries on $N interactions (each under 50 ms is the target):"
    "$BD/bench_tui_queries" "$T/b.db" "$RUNS" | tail -25
fi

