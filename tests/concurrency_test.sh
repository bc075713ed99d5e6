#!/bin/sh
# concurrency_test.sh BINARY - two recscope processes write into one
# database (an import then a split, and a training run) while a third reads
# it in a loop (runs, info, users, items): every command succeeds and no
# "database is locked" (or busy) error reaches the user; afterwards the
# database is intact and holds both runs.
set -u
BIN=$(readlink -f "$1")
T=$(mktemp -d /tmp/recscope-conc.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

"$BIN" generate "$T/g1" --users 2000 --items 1500 --interactions 150000 --seed 1 -q
"$BIN" generate "$T/g2" --users 2500 --items 1500 --interactions 150000 --seed 2 -q
"$BIN" import "$T/c.db" "$T/g1" >/dev/null
"$BIN" split "$T/c.db" --name r --seed 1 >/dev/null

(
    "$BIN" import "$T/c.db" "$T/g2" >/dev/null 2>"$T/w1.err" && echo "import ok" >"$T/w1.st"
    "$BIN" split "$T/c.db" --name r2 --seed 2 >/dev/null 2>>"$T/w1.err" && echo "split ok" >>"$T/w1.st"
    touch "$T/w1.done"
) &
(
    "$BIN" train "$T/c.db" --algo bpr --split r --param epochs=4 --threads 1 -q 2>"$T/w2.err" &&
        echo "train ok" >"$T/w2.st"
    "$BIN" train "$T/c.db" --algo pop --split r -q 2>>"$T/w2.err" && echo "train ok" >>"$T/w2.st"
    touch "$T/w2.done"
) &
n=0
bad=0
start=$(date +%s)
while [ ! -e "$T/w1.done" ] || [ ! -e "$T/w2.done" ]; do
    n=$((n + 1))
    for c in runs info "users --limit 5" "items --limit 5 --format tsv"; do
        # shellcheck disable=SC2086
        "$BIN" $c "$T/c.db" >/dev/null 2>>"$T/r.err" || bad=$((bad + 1))
    done
    [ $(($(date +%s) - start)) -gt 90 ] && break
done
wait
[ $bad -eq 0 ] && ok "$n rounds of reads while two processes write, all succeed" ||
    nok "$bad of $((4 * n)) reads failed"
[ "$(cat "$T/w1.st" 2>/dev/null)" = "import ok
split ok" ] && ok "the import and the split succeed" || nok "the import and the split succeed"
[ "$(cat "$T/w2.st" 2>/dev/null)" = "train ok
train ok" ] && ok "both trainings succeed" || nok "both trainings succeed"
if cat "$T"/*.err | grep -qi "locked\|busy"; then
    nok "no 'database is locked' reaches the user"
    grep -i "locked\|busy" "$T"/*.err | head -3 | sed 's/^/    # /'
else
    ok "no 'database is locked' reaches the user"
fi
[ "$(sqlite3 "$T/c.db" 'PRAGMA integrity_check')" = ok ] && ok "integrity ok" || nok "integrity ok"
st=$(sqlite3 "$T/c.db" "SELECT group_concat(status, ' ') FROM runs")
[ "$st" = "done done" ] && ok "both runs are done" || nok "both runs are done ($st)"
[ "$(sqlite3 "$T/c.db" 'SELECT count(*) FROM splits')" = 2 ] && ok "both splits" || nok "both splits"

[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail ${RS_SUITE:-concurrency}" >>"$RS_RESULTS"
echo "${RS_SUITE:-concurrency}: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
