#!/bin/sh
# hostile_test.sh BINARY - untrusted input at the command line: ids and
# titles with quotes, %, _, newlines and terminal escape sequences (never
# written raw to the terminal, exact in tsv/json), a 1 MB field and a line
# over the limit, databases that are not recscope's, of a newer schema or
# read-only, and tampered model blobs. Each gives a clear error (or works),
# never a crash, and leaves the database exactly as it was.
set -u
BIN=$(readlink -f "$1")
T=$(mktemp -d /tmp/recscope-hostile.XXXXXX)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
ESC=$(printf '\033')
BEL=$(printf '\007')
# no raw ESC or BEL in a file (what the terminal would see)
clean() { # DESCRIPTION FILE
    if grep -q "[$ESC$BEL]" "$2"; then nok "$1: raw control characters"; else ok "$1"; fi
}
sum() { sqlite3 "$1" .dump 2>&1 | sha1sum; }
unchanged() { # DESCRIPTION DB SUM
    [ "$(sum "$2")" = "$3" ] && ok "$1: database unchanged" || nok "$1: database unchanged"
}
PY=
command -v python3 >/dev/null 2>&1 && PY=python3

# --- hostile ids and titles ------------------------------------------------------------
H=$T/h
mkdir "$H"
printf 'user_id,age,gender,occupation\n"u""q\047 1",30,F,"clerk\033[2J"\n50%%,41,M,x\na_b,22,F,y\n"u\033]0;pwned\007",35,M,z\n' >"$H/users.csv"
{
    printf 'item_id,title,year,genres,tags,description\n'
    printf '"i""1","Title with ""quotes"", 100%% and _under_",1999,Drama,,\n'
    printf 'i2,"Line one\nLine two",2000,Comedy,,\n'
    printf 'i3,"\033[2J\033]0;owned\007Evil",2001,Horror,,"\033[31mred"\n'
    printf 'i4,"A plain title",2002,Drama,,\n'
} >"$H/items.csv"
printf 'user_id,item_id,rating,timestamp\n' >"$H/interactions.csv"
for u in '"u""q'"'"' 1"' '50%' 'a_b' "\"u$ESC]0;pwned$BEL\""; do
    for i in '"i""1"' i2 i3 i4; do printf '%s,%s,4,100\n' "$u" "$i" >>"$H/interactions.csv"; done
done
expect "import hostile ids and titles" 0 "$BIN" import "$T/h.db" "$H"
has "all 16 interactions" "$T/out" "16 interactions added"
expect "items as text" 0 "$BIN" items "$T/h.db"
clean "items text output is sanitised" "$T/out"
[ "$(wc -l <"$T/out")" -eq 5 ] && ok "a newline in a title does not break the table" || nok "a newline in a title does not break the table ($(wc -l <"$T/out") lines)"
expect "users as text" 0 "$BIN" users "$T/h.db"
clean "users text output is sanitised" "$T/out"
expect "items as tsv" 0 "$BIN" items "$T/h.db" --format tsv --limit 0
[ "$(wc -l <"$T/out")" -eq 5 ] && ok "tsv escapes the newline" || nok "tsv escapes the newline"
has "tsv keeps the text exact (escaped newline)" "$T/out" 'Line one\nLine two'
expect "items as json" 0 "$BIN" items "$T/h.db" --format json --limit 0
clean "json escapes control characters" "$T/out"
if [ -n "$PY" ]; then
    if $PY - "$T/out" <<'PYEOF'; then ok "json round-trips every title exactly"; else nok "json round-trips every title exactly"; fi
import json, sys
d = {r["item"]: r["title"] for r in json.load(open(sys.argv[1], encoding="utf-8"))}
want = {'i"1': 'Title with "quotes", 100% and _under_', "i2": "Line one\nLine two",
        "i3": "\x1b[2J\x1b]0;owned\x07Evil", "i4": "A plain title"}
sys.exit(0 if d == want else 1)
PYEOF
    "$BIN" users "$T/h.db" --format json --limit 0 >"$T/u.json"
    if $PY - "$T/u.json" <<'PYEOF'; then ok "json round-trips every user id exactly"; else nok "json round-trips every user id exactly"; fi
import json, sys
d = {r["user"] for r in json.load(open(sys.argv[1], encoding="utf-8"))}
want = {"u\"q' 1", "50%", "a_b", "u\x1b]0;pwned\x07"}
print(d ^ want) if d != want else None
sys.exit(d != want)
PYEOF
fi
"$BIN" users "$T/h.db" --search % --format tsv >"$T/out"
[ "$(tail -n +2 "$T/out" | cut -f1)" = "50%" ] && ok "search % is a literal %" || nok "search % is a literal %"
"$BIN" users "$T/h.db" --search _ --format tsv >"$T/out"
[ "$(tail -n +2 "$T/out" | cut -f1)" = "a_b" ] && ok "search _ is a literal _" || nok "search _ is a literal _"
expect "history of a user id with quotes" 0 "$BIN" history "$T/h.db" "u\"q' 1"
clean "history text output is sanitised" "$T/out"
expect "history of a user id with an escape sequence" 0 "$BIN" history "$T/h.db" "u$ESC]0;pwned$BEL"
expect "an unknown user id with escapes" 1 "$BIN" history "$T/h.db" "no$ESC[2J"
clean "the error message is sanitised" "$T/err"
expect "split" 0 "$BIN" split "$T/h.db" --name s --method loo
expect "train pop" 0 "$BIN" train "$T/h.db" --algo pop --split s -q
expect "recommend as text" 0 "$BIN" recommend "$T/h.db" --run pop-1 --user a_b --k 4
clean "recommend text output is sanitised" "$T/out"
expect "explain as text" 0 "$BIN" explain "$T/h.db" --run pop-1 --user a_b --item i3
clean "explain text output is sanitised" "$T/out"

# --- bad rows with escapes, a 1 MB field, a line over the limit -------------------------
before=$(sum "$T/h.db")
{
    printf 'item_id,title,year,genres,tags,description\ni9,"'
    head -c 1000000 /dev/zero | tr '\0' 'x'
    printf '",2002,Drama,,\ni10,Short,2003,Drama,,\n'
} >"$T/bigitems.csv"
printf 'user,item,rating\nu1,i9,4\nu1,i10,3\n' >"$T/big.csv"
expect "a 1 MB title" 1 "$BIN" import "$T/h.db" "$T/big.csv" --items "$T/bigitems.csv"
has "the 1 MB title is refused by name and line" "$T/err" "bigitems.csv:2: field 'title': too long (1000000 bytes"
unchanged "a refused 1 MB title" "$T/h.db" "$before"
expect "a 1 MB title with --skip-bad" 0 "$BIN" import "$T/h.db" "$T/big.csv" --items "$T/bigitems.csv" --skip-bad
has "the other item is imported" "$T/out" "skipped 1 bad rows"
before=$(sum "$T/h.db")
printf 'user,item,rating\nu1,i1,\033[2J\n' >"$T/esc.csv"
expect "a bad rating holding an escape sequence" 1 "$BIN" import "$T/h.db" "$T/esc.csv"
clean "the import error shows it escaped" "$T/err"
has "the import error names the line" "$T/err" "esc.csv:2:"
{
    printf 'user,item,rating\nu1,"'
    head -c 2100000 /dev/zero | tr '\0' 'y'
    printf '",4\n'
} >"$T/long.csv"
expect "a 2 MB line" 1 "$BIN" import "$T/h.db" "$T/long.csv"
has "the long line is named" "$T/err" "long.csv:2:"
unchanged "failed imports" "$T/h.db" "$before"

# --- databases that are not recscope's, or newer ------------------------------------------
"$BIN" generate "$T/gen" --users 40 --items 60 --interactions 1200 --seed 3 -q
sqlite3 "$T/other.db" "CREATE TABLE notes(x); INSERT INTO notes VALUES('keep me')"
before=$(sum "$T/other.db")
expect "info on another program's SQLite file" 1 "$BIN" info "$T/other.db"
has "says it is not recscope's" "$T/err" "not a recscope database"
expect "import into another program's SQLite file" 1 "$BIN" import "$T/other.db" "$T/gen"
expect "the TUI on another program's SQLite file" 1 "$BIN" "$T/other.db"
unchanged "another program's file" "$T/other.db" "$before"
"$BIN" import "$T/g.db" "$T/gen" >/dev/null
"$BIN" split "$T/g.db" --name r --seed 1 >/dev/null
"$BIN" train "$T/g.db" --algo pop --split r -q
u=$(sed -n '2p' "$T/gen/interactions.csv" | cut -d, -f1)
cp "$T/g.db" "$T/newer.db"
sqlite3 "$T/newer.db" "PRAGMA user_version = 99"
before=$(sum "$T/newer.db")
for c in info runs; do
    expect "$c on a newer schema" 1 "$BIN" $c "$T/newer.db"
    has "$c names the newer version" "$T/err" "newer recscope (schema version 99"
done
expect "import into a newer schema" 1 "$BIN" import "$T/newer.db" "$T/gen"
expect "split on a newer schema" 1 "$BIN" split "$T/newer.db" --name x
unchanged "a newer schema" "$T/newer.db" "$before"

# --- read-only file and folder ----------------------------------------------------------
# root writes through permissions: run the commands as nobody when root
AS=
if [ "$(id -u)" -eq 0 ]; then
    if command -v setpriv >/dev/null 2>&1 && id nobody >/dev/null 2>&1; then
        AS="setpriv --reuid=nobody --regid=$(id -g nobody) --clear-groups"
    else
        AS=skip
    fi
fi
if [ "$AS" = skip ]; then
    echo "skip - read-only tests: running as root without setpriv"
else
    R=$T/ro
    mkdir "$R"
    cp "$T/g.db" "$R/g.db"
    chmod 755 "$T"
    [ -n "$AS" ] && chown -R nobody "$R"
    chmod 444 "$R/g.db"
    before=$(sum "$R/g.db")
    expect "info on a read-only file" 0 $AS "$BIN" info "$R/g.db"
    expect "runs on a read-only file" 0 $AS "$BIN" runs "$R/g.db"
    expect "import into a read-only file" 1 $AS "$BIN" import "$R/g.db" "$T/gen"
    has "says the file is read-only" "$T/err" "read-only"
    expect "split on a read-only file" 1 $AS "$BIN" split "$R/g.db" --name x
    unchanged "a read-only file" "$R/g.db" "$before"
    chmod 644 "$R/g.db"
    rm -f "$R/g.db-wal" "$R/g.db-shm"
    chmod 555 "$R"
    expect "info in a read-only folder" 0 $AS "$BIN" info "$R/g.db"
    has "info reads it" "$T/out" "interactions"
    expect "runs in a read-only folder" 0 $AS "$BIN" runs "$R/g.db"
    expect "recommend in a read-only folder (the dataset loader too)" 0 $AS "$BIN" recommend "$R/g.db" --run pop-1 --user "$u" --k 3
    expect "split in a read-only folder" 1 $AS "$BIN" split "$R/g.db" --name x
    has "says the folder is not writable" "$T/err" "folder is not writable"
    unchanged "a read-only folder" "$R/g.db" "$before"
    chmod 755 "$R"
fi

# --- tampered model blobs -------------------------------------------------------------------
"$BIN" train "$T/g.db" --algo als --split r --param factors=4 --param iterations=2 -q
# tamper NAME SQL-EXPR WANT-TEXT: the blob replaced by SQL-EXPR (of model)
tamper() {
    cp "$T/g.db" "$T/t.db"
    sqlite3 "$T/t.db" "UPDATE runs SET model = $2 WHERE name = 'als-1'"
    before=$(sum "$T/t.db")
    expect "recommend from a blob $1" 1 "$BIN" recommend "$T/t.db" --run als-1 --user "$u"
    has "the blob $1 is named" "$T/err" "$3"
    expect "explain from a blob $1" 1 "$BIN" explain "$T/t.db" --run als-1 --user "$u" --item 1
    unchanged "a blob $1" "$T/t.db" "$before"
}
tamper "cut short" "substr(model, 1, length(model) - 100)" "damaged"
# (|| makes text of blobs: cast back)
tamper "with a byte appended" "CAST(model || x'00' AS BLOB)" "damaged"
tamper "of a future container version" "CAST(substr(model, 1, 8) || x'02000000' || substr(model, 13) AS BLOB)" "version 2"
tamper "with a bad magic" "CAST(x'00' || substr(model, 2) AS BLOB)" "not a recscope model blob"
tamper "that is empty" "x''" "truncated"
tamper "that is text" "'hello'" "model blob"
if [ -n "$PY" ]; then
    # NaN factors behind a valid checksum: blob_hash() of all but the last 8
    # bytes (FNV-1a 64 with the offset basis 1469598103934665603, as
    # engine/blob.c has it: stored models depend on that value)
    blob=$(sqlite3 "$T/g.db" "SELECT hex(model) FROM runs WHERE name = 'als-1'")
    nan=$($PY - "$blob" <<'PYEOF'
import struct, sys
b = bytearray(bytes.fromhex(sys.argv[1]))[:-8]
for k in range(len(b) - 40, len(b) - 8, 4):
    b[k:k + 4] = struct.pack("<f", float("nan"))
h = 1469598103934665603
for c in b:
    h = ((h ^ c) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
print((bytes(b) + struct.pack("<Q", h)).hex())
PYEOF
)
    tamper "with NaN factors (checksum fixed)" "x'$nan'" "ALS model blob damaged"
fi

[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail ${RS_SUITE:-hostile}" >>"$RS_RESULTS"
echo "${RS_SUITE:-hostile}: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
