#!/bin/sh
# cli_test.sh BINARY - the headless commands as a script would use them:
# exit codes, error messages, output formats, and that a failed import
# leaves the database exactly as it was.
set -u
BIN=$(readlink -f "$1")
T=$(mktemp -d /tmp/recscope-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $1"; }
nok() { fail=$((fail + 1)); echo "not ok - $1"; }
# expect DESCRIPTION WANT_EXIT CMD...: runs CMD, keeps stdout/stderr in $T/out $T/err
expect() {
    desc=$1 want=$2
    shift 2
    "$@" >"$T/out" 2>"$T/err" </dev/null
    got=$?
    if [ "$got" -eq "$want" ]; then ok "$desc"; else
        nok "$desc (exit $got, want $want)"
        sed 's/^/    # /' "$T/err" | head -5
    fi
}
has() { # DESCRIPTION FILE TEXT
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        nok "$1: no '$3' in $(basename "$2")"
        sed 's/^/    # /' "$2" | head -5
    fi
}
dump() { sqlite3 "$1" .dump 2>&1; }

# --- usage, help, version -----------------------------------------------------
expect "no arguments is a usage error" 2 "$BIN"
expect "--help" 0 "$BIN" --help
has "--help lists import" "$T/out" "import"
expect "--version" 0 "$BIN" --version
has "--version names the version" "$T/out" "recscope 0."
if grep -q "CUDA: not built" "$T/out" || grep -q "CUDA [0-9]" "$T/out"; then ok "--version tells the CUDA build"; else nok "--version tells the CUDA build"; fi
expect "unknown command" 2 "$BIN" frobnicate
has "unknown command message" "$T/err" "recscope: unknown command 'frobnicate'"
for c in import generate info users items history; do
    expect "$c --help" 0 "$BIN" $c --help
    has "$c --help shows usage" "$T/out" "usage: recscope $c"
done
expect "import without paths" 2 "$BIN" import "$T/x.db"
expect "import bad --format" 2 "$BIN" import "$T/x.db" a --format nope
has "bad --format lists valid ones" "$T/err" "ml-100k"
expect "info on a missing database" 1 "$BIN" info "$T/none.db"
has "missing database named" "$T/err" "none.db"
expect "TUI on a missing database" 1 "$BIN" "$T/none.db"

# --- generate and import the generator's output ---------------------------------
expect "generate a small dataset" 0 "$BIN" generate "$T/gen" --users 50 --items 80 --interactions 2000 --seed 7
expect "import the generated folder" 0 "$BIN" import "$T/g.db" "$T/gen"
has "import report" "$T/out" "2000 interactions added"
expect "info --format json" 0 "$BIN" info "$T/g.db" --format json
for k in users items interactions density rating_min rating_max; do
    has "info json has $k" "$T/out" "\"$k\":"
done
has "info json counts users" "$T/out" '"users":50,'
if command -v python3 >/dev/null 2>&1; then
    if python3 -m json.tool "$T/out" >/dev/null 2>&1; then ok "info json parses"; else nok "info json parses"; fi
    "$BIN" users "$T/g.db" --format json --limit 0 >"$T/u.json"
    if python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(len(d)!=50)' "$T/u.json"; then
        ok "users json lists all 50 users"; else nok "users json lists all 50 users"; fi
fi
expect "users --search --limit" 0 "$BIN" users "$T/g.db" --search 1 --limit 3
[ "$(wc -l <"$T/out")" -eq 4 ] && ok "users --limit 3 prints 3 rows" || nok "users --limit 3 prints 3 rows"
expect "items tsv" 0 "$BIN" items "$T/g.db" --format tsv --limit 5
has "items tsv header" "$T/out" "item	title	year	genres	interactions	mean_rating"
u=$(sed -n '2p' "$T/gen/interactions.csv" | cut -d, -f1)
expect "history of a user" 0 "$BIN" history "$T/g.db" "$u" --format tsv
[ "$(wc -l <"$T/out")" -gt 1 ] && ok "history has rows" || nok "history has rows"
expect "history of an unknown user" 1 "$BIN" history "$T/g.db" no-such-user
has "unknown user message" "$T/err" 'no user with id "no-such-user"'

# the committed sample data is exactly what the generator writes
SD=$(dirname "$0")/../sample-data
if [ -f "$SD/generator.txt" ]; then
    # shellcheck disable=SC2046
    expect "regenerate the sample data" 0 "$BIN" generate "$T/sample" $(sed 's/^recscope generate //' "$SD/generator.txt")
    same=1
    for f in interactions.csv items.csv users.csv generator.txt; do cmp -s "$SD/$f" "$T/sample/$f" || same=0; done
    [ $same -eq 1 ] && ok "sample-data/ is the generator's output, byte for byte" || nok "sample-data/ is the generator's output, byte for byte"
fi

# --- bad input leaves the database unchanged ------------------------------------
before=$(dump "$T/g.db")
printf 'user,item,rating\nu1,i1,4\nu2,i2,abc\n' >"$T/bad.csv"
expect "bad rating fails" 1 "$BIN" import "$T/g.db" "$T/bad.csv"
has "bad rating message" "$T/err" "recscope: $T/bad.csv:3: field 'rating': expected a number, got \"abc\""
[ "$(dump "$T/g.db")" = "$before" ] && ok "database unchanged after a bad import" || nok "database unchanged after a bad import"
expect "--skip-bad imports the good rows" 0 "$BIN" import "$T/g.db" "$T/bad.csv" --skip-bad
has "--skip-bad reports the skipped row" "$T/out" "skipped 1 bad rows"
has "--skip-bad shows where" "$T/out" "bad.csv:3:"
expect "failed import into a new file" 1 "$BIN" import "$T/new.db" "$T/bad.csv"
[ ! -e "$T/new.db" ] && ok "no database left behind by a failed first import" || nok "no database left behind by a failed first import"
mkdir "$T/emptydir"
expect "a folder with no dataset" 1 "$BIN" import "$T/g.db" "$T/emptydir"
has "folder message" "$T/err" "no recognised dataset"
printf 'x' >"$T/notdb.db"
printf 'this is not sqlite, it is long enough to have a header......................................' >"$T/notdb.db"
expect "a file that is not a database" 1 "$BIN" info "$T/notdb.db"
has "not-a-database message" "$T/err" "not a SQLite database"

# --- MovieLens 100K, when present ---------------------------------------------
ML=${RECSCOPE_ML100K:-}
[ -z "$ML" ] && for d in ../shared/datasets/ml-100k "$(dirname "$0")/../../shared/datasets/ml-100k"; do
    [ -f "$d/u.data" ] && ML=$d && break
done
if [ -n "$ML" ] && [ -f "$ML/u.data" ]; then
    expect "import ML-100K" 0 "$BIN" import "$T/ml.db" "$ML"
    expect "info ML-100K" 0 "$BIN" info "$T/ml.db" --format json
    has "943 users" "$T/out" '"users":943,'
    has "1682 items" "$T/out" '"items":1682,'
    has "100000 interactions" "$T/out" '"interactions":100000,'
    expect "item 1" 0 "$BIN" items "$T/ml.db" --limit 1 --format tsv
    has "item 1 is Toy Story" "$T/out" "1	Toy Story (1995)	1995"
else
    echo "skip - MovieLens-100K not found (set RECSCOPE_ML100K or provide ../shared/datasets/ml-100k)"
fi

[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail ${RS_SUITE:-cli}" >>"$RS_RESULTS"
echo "${RS_SUITE:-cli}: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
