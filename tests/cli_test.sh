#!/bin/sh
# cli_test.sh BINARY - the headless commands as a script would use them:
# exit codes, error messages, output formats, and that a failed import
# leaves the database exactly as it was.
set -u
BIN=$(readlink -f "$1")
T=$(mktemp -d /tmp/recscope-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
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

# --- splits, runs and what a run says --------------------------------------------
for c in split train runs recommend explain similar whatif export-recs export-split; do
    expect "$c --help" 0 "$BIN" $c --help
    has "$c --help shows usage" "$T/out" "usage: recscope $c"
done
expect "random split" 0 "$BIN" split "$T/g.db" --name r80 --test-frac 0.2 --seed 3
has "split report" "$T/out" "split r80 (random):"
expect "the same split name twice" 1 "$BIN" split "$T/g.db" --name r80
has "duplicate split message" "$T/err" 'a split named "r80" exists already'
expect "split without --name" 2 "$BIN" split "$T/g.db"
expect "split with a bad method" 2 "$BIN" split "$T/g.db" --name x --method magic
expect "loo split" 0 "$BIN" split "$T/g.db" --name loo --method loo
expect "kfold split" 0 "$BIN" split "$T/g.db" --name cv5 --method kfold --folds 5
"$BIN" export-split "$T/g.db" --split r80 --part test >"$T/test.tsv"
"$BIN" export-split "$T/g.db" --split r80 --part train >"$T/train.tsv"
tr=$(($(wc -l <"$T/train.tsv") - 1)); te=$(($(wc -l <"$T/test.tsv") - 1))
[ $((tr + te)) -eq 2000 ] && [ "$te" -gt 300 ] && [ "$te" -lt 500 ] && ok "export-split parts add up (train $tr, test $te)" || nok "export-split parts add up (train $tr, test $te)"
tail -n +2 "$T/test.tsv" | cut -f1,2 >"$T/pairs.tsv"
expect "file split from an exported test part" 0 "$BIN" split "$T/g.db" --name again --method file --test-file "$T/pairs.tsv"
"$BIN" export-split "$T/g.db" --split again --part test >"$T/test2.tsv"
cmp -s "$T/test.tsv" "$T/test2.tsv" && ok "file split reproduces the exported split" || nok "file split reproduces the exported split"
printf '1\tnot-an-item\n' >"$T/badpairs.tsv"
expect "file split with an unknown item" 1 "$BIN" split "$T/g.db" --name bad --method file --test-file "$T/badpairs.tsv"
has "unknown item message" "$T/err" 'badpairs.tsv:1: unknown item "not-an-item"'
expect "train pop" 0 "$BIN" train "$T/g.db" --algo pop --split r80 -q
expect "train with an unknown algorithm" 2 "$BIN" train "$T/g.db" --algo magic --split r80
has "unknown algorithm lists valid ones" "$T/err" "valid: pop"
expect "train with an unknown parameter" 1 "$BIN" train "$T/g.db" --algo pop --split r80 --param nope=1
has "unknown parameter lists valid ones" "$T/err" "unknown parameter 'nope' (valid: min_rating)"
expect "train on an unknown split" 1 "$BIN" train "$T/g.db" --algo pop --split nosuch
has "unknown split lists the splits" "$T/err" 'no split named "nosuch" (splits: r80, loo, cv5, again)'
expect "train on a k-fold split" 1 "$BIN" train "$T/g.db" --algo pop --split cv5
has "k-fold split points to cv" "$T/err" "recscope cv"
# NeuMF pre-training, on a copy (its runs would change the listings below)
sqlite3 "$T/g.db" ".backup $T/init.db"
expect "init-from on an algorithm without pre-training" 2 "$BIN" train "$T/init.db" --algo als --split r80 --init-from pop-1
has "init-from names the algorithm" "$T/err" "als cannot start from other runs"
expect "init-from a run that does not exist" 1 "$BIN" train "$T/init.db" --algo neumf --split r80 --init-from nosuch -q
has "init-from names the missing run" "$T/err" 'no run named "nosuch"'
expect "init-from a pop run" 1 "$BIN" train "$T/init.db" --algo neumf --split r80 --init-from pop-1 -q
has "init-from says what neumf starts from" "$T/err" "neumf starts from one gmf and one mlp model, not pop"
expect "gmf for pre-training" 0 "$BIN" train "$T/init.db" --algo gmf --split r80 --name g1 --param epochs=1 -q
expect "mlp for pre-training" 0 "$BIN" train "$T/init.db" --algo mlp --split r80 --name m1 --param epochs=1 -q
expect "init-from a run of another split" 1 "$BIN" train "$T/init.db" --algo neumf --split loo --init-from g1,m1 -q
has "init-from refuses another split" "$T/err" 'run "g1" was trained on split "r80", not "loo"'
expect "neumf from gmf and mlp" 0 "$BIN" train "$T/init.db" --algo neumf --split r80 --name nm --init-from g1,m1 --param epochs=1 --param lr=0.0001 -q
expect "runs" 0 "$BIN" runs "$T/init.db" --format tsv
has "the run records where it started" "$T/out" '"init_from":"g1,m1"'
expect "runs" 0 "$BIN" runs "$T/g.db" --format tsv
has "runs lists pop-1" "$T/out" "pop-1	pop	done	r80	cpu"
expect "recommend" 0 "$BIN" recommend "$T/g.db" --run pop-1 --user "$u" --k 5 --format tsv
[ "$(wc -l <"$T/out")" -eq 6 ] && ok "recommend gives 5 items" || nok "recommend gives 5 items"
top=$(sed -n 2p "$T/out" | cut -f2)
expect "explain" 0 "$BIN" explain "$T/g.db" --run pop-1 --user "$u" --item "$top" --format json
has "explain says the rank" "$T/out" '"rank":1,'
expect "whatif" 0 "$BIN" whatif "$T/g.db" --run pop-1 --items "$top" --k 3 --format tsv
grep -q "	$top	" "$T/out" && nok "whatif leaves out the profile's items" || ok "whatif leaves out the profile's items"
expect "export-recs" 0 "$BIN" export-recs "$T/g.db" --run pop-1 --k 3
has "export-recs header" "$T/out" "user	item	rank	score"
expect "recommend for an unknown user" 1 "$BIN" recommend "$T/g.db" --run pop-1 --user nobody
has "unknown user message" "$T/err" 'no user with id "nobody"'
expect "recommend from an unknown run" 1 "$BIN" recommend "$T/g.db" --run nope --user "$u"
has "unknown run lists the runs" "$T/err" 'no run named "nope" (runs: pop-1)'
for c in eval cv compare; do
    expect "$c --help" 0 "$BIN" $c --help
    has "$c --help shows usage" "$T/out" "usage: recscope $c"
done
expect "eval --format json" 0 "$BIN" eval "$T/g.db" --run pop-1 --k 5,10 --format json
for k in '"run":"pop-1"' '"protocol":"full"' '"ndcg@10":' '"precision@10":' '"recall@10":' '"map@10":' '"mrr@10":' '"hr@10":' '"coverage@10":'; do
    has "eval json has $k" "$T/out" "$k"
done
grep -q '"rmse"' "$T/out" && nok "eval json has no rmse for pop" || ok "eval json has no rmse for pop"
expect "eval --device cpu" 0 "$BIN" eval "$T/g.db" --run pop-1 --device cpu --no-save
expect "eval --device with a bad device" 2 "$BIN" eval "$T/g.db" --run pop-1 --device tpu
expect "--device is eval's alone" 2 "$BIN" cv "$T/g.db" --algo pop --device cpu
expect "eval --device gpu on a model without factors" 1 "$BIN" eval "$T/g.db" --run pop-1 --device gpu --no-save
if "$BIN" --version | grep -q "device: NVIDIA\|device: .*GiB"; then
    ok "eval --device gpu on a machine without a GPU (skipped: this machine has one)"
else
    has "eval --device gpu says why" "$T/err" "--device gpu:"
fi
expect "export-recs --device gpu on a model without factors" 1 "$BIN" export-recs "$T/g.db" --run pop-1 --device gpu
has "export-recs --device gpu says why" "$T/err" "--device gpu: "
expect "--device is not an option of recommend" 2 "$BIN" recommend "$T/g.db" --run pop-1 --user "$u" --device cpu
expect "eval sampled" 0 "$BIN" eval "$T/g.db" --run pop-1 --protocol sampled --no-save
has "eval text names the protocol" "$T/out" "sampled protocol (each test item among 99 sampled negatives)"
expect "eval with a bad protocol" 2 "$BIN" eval "$T/g.db" --run pop-1 --protocol magic
expect "eval with bad cut-offs" 2 "$BIN" eval "$T/g.db" --run pop-1 --k 0
expect "runs shows the stored NDCG@10" 0 "$BIN" runs "$T/g.db" --format json
grep -q '"ndcg@10":null' "$T/out" && nok "runs shows the stored NDCG@10" || ok "runs shows the stored NDCG@10"
expect "cv --format json" 0 "$BIN" cv "$T/g.db" --algo pop --folds 3 --format json
has "cv json has means under metrics" "$T/out" '"metrics":{'
has "cv json has standard deviations" "$T/out" '"std":{'
has "cv json has the time" "$T/out" '"seconds":'
expect "a second pop run" 0 "$BIN" train "$T/g.db" --algo pop --split r80 --name pop-rated --param min_rating=4 -q
expect "compare two runs" 0 "$BIN" compare "$T/g.db" --runs pop-1,pop-rated --k 10
has "compare shows the paired test" "$T/out" "Wilcoxon p ="
expect "compare the lists for a user" 0 "$BIN" compare "$T/g.db" --runs pop-1,pop-rated --user "$u" --k 5
has "compare --user names the user" "$T/out" "user $u: top 5 of each run"
expect "compare one run" 1 "$BIN" compare "$T/g.db" --runs pop-1

# a damaged model blob is an error, not a crash
cp "$T/g.db" "$T/tamper.db"
sqlite3 "$T/tamper.db" "UPDATE runs SET model = substr(model, 1, length(model) - 9) WHERE name = 'pop-1'"
expect "a truncated model blob" 1 "$BIN" recommend "$T/tamper.db" --run pop-1 --user "$u"
has "truncated blob message" "$T/err" "damaged"

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
