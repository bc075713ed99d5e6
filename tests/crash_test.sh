#!/bin/sh
# crash_test.sh BINARY - SIGKILLs recscope in the middle of an import, a
# training run and a split, at delays drawn from a fixed seed, then reopens
# the database: PRAGMA integrity_check is ok, the counts are exactly the
# old or the new state, and a killed training shows as interrupted (never
# as running forever) the next time the runs are listed.
set -u
BIN=$(readlink -f "$1")
T=$(mktemp -d /tmp/recscope-crash.XXXXXX)
trap 'rm -rf "$T"' EXIT
ITER=${CRASH_ITER:-3}
. "$(dirname "$0")/lib.sh"
check() { # DESCRIPTION CONDITION...
    d=$1
    shift
    if "$@"; then ok "$d"; else nok "$d"; fi
}
q() { sqlite3 "$1" "$2" 2>&1; }
counts() { q "$1" "SELECT (SELECT count(*) FROM users)||' '||(SELECT count(*) FROM items)||' '||(SELECT count(*) FROM interactions)||' '||(SELECT count(*) FROM imports)"; }
# delays in seconds, uniform in [LO, HI), from the fixed seed
delays() { awk -v n="$ITER" -v lo="$1" -v hi="$2" -v s="$3" 'BEGIN { srand(s); for (k = 0; k < n; k++) printf "%.2f\n", lo + (hi - lo) * rand() }'; }
# kill_after DELAY CMD...: runs CMD, SIGKILLs it after DELAY seconds; the
# exit status is 137 when it was killed
kill_after() {
    d=$1
    shift
    "$@" >"$T/out" 2>&1 &
    p=$!
    sleep "$d"
    kill -KILL "$p" 2>/dev/null
    { wait "$p"; } 2>/dev/null
}
integrity() { [ "$(q "$1" 'PRAGMA integrity_check')" = ok ]; }

# --- data: two generated sets, the base database and the two end states -------
"$BIN" generate "$T/g1" --users 3000 --items 2000 --interactions 400000 --seed 1 -q
"$BIN" generate "$T/g2" --users 3500 --items 2500 --interactions 400000 --seed 2 -q
"$BIN" import "$T/base.db" "$T/g1" >/dev/null || { echo "not ok - base import"; exit 1; }
"$BIN" split "$T/base.db" --name r --seed 1 >/dev/null
old=$(counts "$T/base.db")
cp "$T/base.db" "$T/new.db"
"$BIN" import "$T/new.db" "$T/g2" >/dev/null
new=$(counts "$T/new.db")
[ "$old" != "$new" ] && ok "the two states differ ($old / $new)" || nok "the two states differ"

# --- import into an existing database ---------------------------------------------
n=0
for d in $(delays 0.2 3.5 11); do
    n=$((n + 1))
    rm -f "$T/t.db" "$T/t.db-wal" "$T/t.db-shm"
    cp "$T/base.db" "$T/t.db"
    kill_after "$d" "$BIN" import "$T/t.db" "$T/g2"
    rc=$?
    got=$(counts "$T/t.db")
    check "import $n killed after ${d}s (exit $rc): integrity ok" integrity "$T/t.db"
    check "import $n: counts are the old or the new state ($got)" \
        [ "$got" = "$old" -o "$got" = "$new" ]
    "$BIN" info "$T/t.db" >/dev/null 2>"$T/err"
    check "import $n: info opens it afterwards" [ $? -eq 0 ]
done

# --- first import into a new file ---------------------------------------------------
n=0
for d in $(delays 0.1 1.5 12); do
    n=$((n + 1))
    rm -f "$T/f.db" "$T/f.db-wal" "$T/f.db-shm"
    kill_after "$d" "$BIN" import "$T/f.db" "$T/g1"
    if [ ! -e "$T/f.db" ]; then
        ok "first import $n killed after ${d}s: no file left"
    else
        got=$(counts "$T/f.db")
        check "first import $n killed after ${d}s: integrity ok" integrity "$T/f.db"
        check "first import $n: empty or complete ($got)" \
            [ "$got" = "0 0 0 0" -o "$got" = "$old" -o -z "${got##*no such table*}" ]
        "$BIN" info "$T/f.db" >/dev/null 2>"$T/err"
        rc=$?
        check "first import $n: info gives an answer, not a crash (exit $rc)" [ $rc -le 1 ]
    fi
done

# --- split ----------------------------------------------------------------------------
split_state() { q "$1" "SELECT (SELECT count(*) FROM splits)||' '||(SELECT count(*) FROM split_members)"; }
sold=$(split_state "$T/base.db")
cp "$T/base.db" "$T/s.db"
"$BIN" split "$T/s.db" --name k --seed 5 >/dev/null
snew=$(split_state "$T/s.db")
n=0
for d in $(delays 0.02 0.4 13); do
    n=$((n + 1))
    rm -f "$T/s.db" "$T/s.db-wal" "$T/s.db-shm"
    cp "$T/base.db" "$T/s.db"
    kill_after "$d" "$BIN" split "$T/s.db" --name k --seed 5
    rc=$?
    got=$(split_state "$T/s.db")
    check "split $n killed after ${d}s (exit $rc): integrity ok" integrity "$T/s.db"
    check "split $n: the old or the new state ($got)" [ "$got" = "$sold" -o "$got" = "$snew" ]
done

# --- training -------------------------------------------------------------------------
n=0
for d in $(delays 0.3 2.5 14); do
    n=$((n + 1))
    rm -f "$T/r.db" "$T/r.db-wal" "$T/r.db-shm"
    cp "$T/base.db" "$T/r.db"
    kill_after "$d" "$BIN" train "$T/r.db" --algo bpr --split r --param epochs=40 --threads 1 -q
    rc=$?
    check "train $n killed after ${d}s (exit $rc): integrity ok" integrity "$T/r.db"
    st=$(q "$T/r.db" "SELECT group_concat(status) FROM runs")
    "$BIN" runs "$T/r.db" --format tsv >"$T/runs" 2>&1
    if [ -z "$st" ]; then
        ok "train $n: killed before the run was recorded"
    elif [ "$st" = done ]; then
        ok "train $n: finished before the kill"
    else
        check "train $n: runs shows it interrupted" grep -q "	interrupted	" "$T/runs"
        st=$(q "$T/r.db" "SELECT group_concat(status) FROM runs")
        check "train $n: stored as interrupted ($st)" [ "$st" = interrupted ]
        "$BIN" runs "$T/r.db" --format json >"$T/runs"
        check "train $n: never running" [ -z "$(grep running "$T/runs")" ]
    fi
done

[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail ${RS_SUITE:-crash}" >>"$RS_RESULTS"
echo "${RS_SUITE:-crash}: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
