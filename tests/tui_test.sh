#!/bin/sh
# tui_test.sh BINARY - drives the real recscope TUI in a detached tmux on a
# private socket: imports a tiny dataset, opens it, checks the overview's
# numbers, the help overlay, resizing (80x24, 20x5), the empty-file message,
# sanitising of the file name, ASCII mode, and that q and Esc leave the
# terminal restored; then, on the project's sample data at 80x24 and
# 120x40, browses: Users (sort, reverse, filter, re: filter), a user
# (history, sort by rating, genre profile), Esc back, Items, an item
# (ratings, its users), a user from the item's users, o back to the
# overview; then Runs and background training on a copy of the sample
# data: the new-run form (defaults, inline validation, the default r80
# split), a run that appears as done with its NDCG@10, a run another
# process trains, two trainings at once while browsing with the title-bar
# indicator, the job view's loss curve, cancelling with x + y, and the
# question before quitting while a training runs. It waits for marker
# texts (polling capture-pane), never for fixed long sleeps. Prints
# "ok - ..." / "not ok - ..." per check, then "N passed, N failed"; exits
# non-zero on any failure.
set -u

BIN=${1:?usage: tui_test.sh BINARY}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
command -v tmux >/dev/null 2>&1 || { echo "tui_test: tmux not found" >&2; exit 1; }
[ -x "$BIN" ] || { echo "tui_test: $BIN is not executable" >&2; exit 1; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rstui.XXXXXX")
# never read or write the settings of the person running the tests
XDG_CONFIG_HOME=$TMP/xdg-none
export XDG_CONFIG_HOME
T="tmux -L rstest$$ -f /dev/null"
trap '$T kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT
trap 'exit 2' INT TERM HUP
PASS=0
FAIL=0
SESSION=

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
notok() {
    FAIL=$((FAIL + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'
    return 0
}

# --- driving the session -------------------------------------------------------

# start NAME COLS LINES DB [VAR=VALUE...]: runs the TUI on DB in a new
# session with a UTF-8 locale; once it exits, the pane prints a marker with
# its exit status, then the tty's icanon and echo modes.
start() {
    SESSION=$1
    script=$TMP/run-$1.sh
    cols=$2 lines=$3 db=$4
    shift 4
    {
        printf "env -u RECSCOPE_ASCII -u NO_COLOR LANG=C.UTF-8 LC_ALL=C.UTF-8 %s '%s' '%s'\n" \
            "$*" "$BIN" "$db"
        printf '%s\n' 'echo "EXITED rc=$?"'
        printf '%s\n' "stty -a | tr ' ;' '\\n\\n' | grep -x -e '-*icanon' -e '-*echo'"
        printf '%s\n' 'exec sleep 600'
    } > "$script"
    $T new-session -d -s "$SESSION" -x "$cols" -y "$lines" "sh '$script'"
}

screen() { $T capture-pane -p -t "$SESSION" 2>/dev/null; }
keys() { $T send-keys -t "$SESSION" "$@"; }
resize() { $T resize-window -t "$SESSION" -x "$1" -y "$2"; }

# wait_until COMMAND...: polls (up to about 10 s) until COMMAND succeeds
wait_until() {
    i=0
    while [ $i -lt 100 ]; do
        "$@" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
shows() { screen | grep -qF -- "$1"; }
shows_re() { screen | grep -qE -- "$1"; }
hides() { ! shows "$1"; }
line_is() { screen | sed -n "$1p" | grep -qE -- "$2"; } # line_is N REGEX
wait_for() { wait_until shows "$1"; }

# wait_frame LINE HINT: waits until line LINE (the last) starts with the
# key-hint bar text HINT. curses writes a frame top to bottom, so the bar
# being there means the whole new frame is.
wait_frame() { wait_until line_is "$1" "^ $2"; }

# expect DESCRIPTION REGEX...: one check, ok when a single capture of the
# pane has a line matching each extended REGEX
expect() {
    desc=$1
    shift
    snap=$(screen)
    for re in "$@"; do
        if ! printf '%s\n' "$snap" | grep -qE -- "$re"; then
            notok "$desc" "$snap"
            return 0
        fi
    done
    ok "$desc"
}

# expect_wait DESCRIPTION COMMAND...: ok when COMMAND succeeds within the timeout
expect_wait() {
    desc=$1
    shift
    if wait_until "$@"; then ok "$desc"; else notok "$desc" "$(screen)"; fi
}

# check_hidden DESCRIPTION TEXT: ok when the pane does not show TEXT
check_hidden() {
    if hides "$2"; then ok "$1"; else notok "$1" "$(screen)"; fi
}

# expect_width DESCRIPTION N: ok when no line of the pane is wider than N
expect_width() {
    if [ "$(screen | LC_ALL=C.UTF-8 wc -L)" -le "$2" ]; then
        ok "$1"
    else
        notok "$1" "$(screen)"
    fi
}

# cursor_line: the pane's line under the terminal cursor, and its column
cursor_line() {
    cy=$($T display -p -t "$SESSION" '#{cursor_y}')
    screen | sed -n "$((cy + 1))p"
}
cursor_x() { $T display -p -t "$SESSION" '#{cursor_x}'; }

# expect_cursor DESCRIPTION REGEX: ok when the cursor is visible, at the
# start of the line (column 0 or 1: inside the body's margin) and that line
# matches REGEX
expect_cursor() {
    CUR_RE=$2
    if wait_until eval 'cursor_line | grep -qE -- "$CUR_RE" && [ "$(cursor_x)" -le 1 ] &&
        [ "$($T display -p -t "$SESSION" "#{cursor_flag}")" = 1 ]'; then
        ok "$1"
    else
        notok "$1" "cursor at x=$(cursor_x) on: $(cursor_line)"
    fi
}

# expect_cursor_x DESCRIPTION X: ok when the cursor is in column X of the
# status line (the line above the key-hint bar)
expect_cursor_x() {
    CUR_X=$2
    if wait_until eval '[ "$(cursor_x)" = "$CUR_X" ] && cursor_line | grep -qE "^ /"'; then
        ok "$1"
    else
        notok "$1" "cursor at x=$(cursor_x) on: $(cursor_line)"
    fi
}

# quit KEY WHAT: presses KEY and checks the exit status and the tty modes
quit() {
    keys "$1"
    # the tty modes are printed after the exit status: wait for the last
    if ! wait_until shows_re '^-?echo$'; then
        notok "$2 ends the program" "$(screen)"
        return 0
    fi
    expect "$2 ends the program with status 0" '^EXITED rc=0$'
    expect "$2 leaves the terminal in canonical mode with echo" '^icanon$' '^echo$'
}

# --- the test dataset ----------------------------------------------------------

mkdir "$TMP/data"
cat > "$TMP/data/interactions.csv" <<'EOF'
user_id,item_id,rating,timestamp
u1,i1,5,1577836800
u1,i2,4,1578441600
u1,i3,3,1579046400
u2,i1,4,1579651200
u2,i4,2,1580256000
u2,i5,5,1580860800
u3,i1,3,1581465600
u3,i2,5,1582070400
u3,i6,1,1582675200
u4,i1,4,1583280000
u4,i3,4,1583884800
u4,i5,2,1585612800
EOF
cat > "$TMP/data/items.csv" <<'EOF'
item_id,title,year,genres,tags,description
i1,Alpha,1999,Drama,classic,First item
i2,Beta,2001,Comedy|Drama,,Second item
i3,Gamma,2005,Action,,Third item
i4,Delta,2010,Horror,,Fourth item
i5,Epsilon,2015,Drama,,Fifth item
i6,Zeta,2020,Comedy,,Sixth item
EOF

DB=$TMP/tiny.db
if "$BIN" import "$DB" "$TMP/data" >"$TMP/import.log" 2>&1; then
    ok "import creates the test database"
else
    notok "import creates the test database" "$(cat "$TMP/import.log")"
    echo "$PASS passed, $FAIL failed"
    exit 1
fi

# --- the overview at 100x30 --------------------------------------------------------
# 4 users, 6 items, 12 interactions (density 12/24), ratings 1x1 2x2 3x2 4x4
# 5x3 (mean 3.5), every user has 3 interactions, items have 1..4, dates
# 2020-01-01 .. 2020-03-31.

start main 100 30 "$DB"
expect_wait "the overview appears with the key-hint bar on line 30" wait_frame 30 'q Quit'
expect "the overview shows every section" 'Dataset' 'Ratings' \
    'Interactions per user / item' 'Popularity long tail' 'Interactions over time'
expect "the title bar names recscope, the database and the screen" \
    '^ recscope .*tiny\.db +Overview$'
expect "counts of users, items and interactions" \
    'Users +4( |$)' 'Items +6( |$)' 'Interactions +12( |$)'
expect "density 12 / (4 x 6) = 50%" 'Density +50\.0%'
expect "rated and timed counts" 'Rated +12 +100%' 'Timed +12 +100%'
expect "no splits and no runs yet" 'Splits / runs +0 / 0'
expect "rating histogram bars with counts" \
    ' 1 [^0-9]+ 1 +8\.3%' ' 4 [^0-9]+ 4 +33\.3%' ' 5 [^0-9]+ 3 +25\.0%'
expect "rating mean and range" 'Ratings +mean 3\.50 . range 1-5'
expect "interactions per user: min 3 .. max 3" '^ +user +3( +3)+ +top  5%'
expect "interactions per item: min 1 .. max 4" '^ +item +1( +[0-9.]+)* +4 +top 10%'
expect "popularity long tail" 'top  1% .* 33\.3%$' 'top 50% .* 66\.7%$'
expect "interactions over time with first and last dates (UTC)" \
    '^ +2020-01-01 +2020-03-31$'
expect "the key-hint bar" '^ q Quit +\? Help +\^L Redraw +u Users +i Items +o Overview *$'
expect_width "nothing wider than 100 columns" 100

# --- help --------------------------------------------------------------------------------

keys '?'
expect_wait "? opens the help overlay" wait_frame 30 'any key Close'
expect "the help overlay says how to close it" 'press any key to close'
expect "help is generated from the key table" \
    'q, Esc +Quit' '\?, F1 +Help' '\^L +Redraw'
keys x
expect_wait "any key closes the help" wait_frame 30 'q Quit'
expect "the overview is back after help" 'Users +4( |$)'
check_hidden "the help overlay is gone" "press any key to close"

# --- sizes ----------------------------------------------------------------------------------

resize 80 24
expect_wait "resizing to 80x24 redraws with the hints on line 24" wait_frame 24 'q Quit'
expect "80x24 shows every section" 'Dataset' 'Ratings' 'Interactions per user / item' \
    'Popularity long tail' 'Interactions over time' '^ +2020-01-01 +2020-03-31$' \
    'Splits / runs +0 / 0'
expect_wait "80x24 has the title on line 1" line_is 1 '^ recscope .*tiny\.db +Overview$'
expect_width "nothing wider than 80 columns" 80
resize 20 5
expect_wait "20x5 says the terminal is too small" shows "terminal too small"
resize 100 30
expect_wait "growing again brings the overview back" wait_frame 30 'q Quit'
expect "the overview is whole again at 100x30" 'Users +4( |$)' '^ +2020-01-01 +2020-03-31$'
keys C-l
expect_wait "^L redraws the overview" wait_frame 30 'q Quit'
quit q "q on the overview"

# --- Esc, an empty file, a hostile file name, ASCII ------------------------------------------

start esc 80 24 "$DB"
wait_frame 24 'q Quit'
quit Escape "Esc on the overview"

: > "$TMP/empty.db"
start empty 80 24 "$TMP/empty.db"
expect_wait "an empty file says how to import" wait_frame 24 'q Quit'
expect "the import command is shown" 'recscope import DB PATH'
expect "the empty message says there are no interactions" 'has no interactions yet'
quit q "q on the empty overview"

EVIL="$TMP/evil$(printf '\033')]0;pwned$(printf '\007')x.db"
cp "$DB" "$EVIL"
start evil 100 30 "$EVIL"
wait_frame 30 'q Quit'
expect "control characters in the file name are replaced" 'evil\?\]0;pwned\?x\.db'
quit q "q with a hostile file name"

# hostile titles and ids in the database: escape sequences (clear screen,
# set the window title, colours), quotes, % and _, a newline; shown with
# the controls replaced, never written raw to the terminal
H=$TMP/hostile
mkdir -p "$H"
ESC=$(printf '\033')
BEL=$(printf '\007')
printf 'user_id,age,gender,occupation\n"u%s]0;pwned%s",35,M,"clerk%s[2J"\n50%%,41,M,x\n' \
    "$ESC" "$BEL" "$ESC" >"$H/users.csv"
{
    printf 'item_id,title,year,genres,tags,description\n'
    printf '"i""1","Title with ""quotes"", 100%% and _under_",1999,Drama,,\n'
    printf 'i2,"Line one\nLine two",2000,Comedy,,\n'
    printf 'i3,"%s[2J%s]0;owned%sEvil",2001,Horror,,"%s[31mred"\n' "$ESC" "$ESC" "$BEL" "$ESC"
} >"$H/items.csv"
{
    printf 'user_id,item_id,rating,timestamp\n'
    for u in "\"u$ESC]0;pwned$BEL\"" '50%'; do
        for i in '"i""1"' i2 i3; do printf '%s,%s,4,100\n' "$u" "$i"; done
    done
} >"$H/interactions.csv"
if "$BIN" import "$TMP/hostile.db" "$H" >"$TMP/import-hostile.log" 2>&1; then
    start hostile 100 30 "$TMP/hostile.db"
    wait_frame 30 'q Quit'
    keys i
    expect_wait "hostile titles: the Items screen opens" line_is 1 ' Items$'
    expect "hostile titles: escapes shown replaced, the screen not cleared" \
        '\?\[2J\?\]0;owned\?Evil' 'Title with "quotes", 100% and _und' 'Line one Line two'
    if [ "$($T display -p -t "$SESSION" '#{pane_title}')" = owned ]; then
        notok "hostile titles: the window title is not set by a title" "$(screen)"
    else
        ok "hostile titles: the window title is not set by a title"
    fi
    keys u
    expect_wait "hostile ids: the Users screen shows the id escaped" shows_re 'u\?\]0;pwne.* clerk\?\[2J'
    keys o
    wait_frame 30 'q Quit'
    quit q "q after the hostile titles"
else
    notok "import the hostile titles" "$(cat "$TMP/import-hostile.log")"
fi

# another process imports into the database the TUI is browsing: the
# screens keep answering, and no "database is locked" reaches the screen
sqlite3 "$DB" ".backup $TMP/conc.db"
"$BIN" generate "$TMP/more" --users 3000 --items 1500 --interactions 300000 --seed 9 -q
start conc 100 30 "$TMP/conc.db"
wait_frame 30 'q Quit'
"$BIN" import "$TMP/conc.db" "$TMP/more" -q >"$TMP/import-more.log" 2>&1 &
IMPORT_PID=$!
keys u
expect_wait "during another process's import: u opens Users" line_is 1 ' Users$'
keys i
expect_wait "during another process's import: i opens Items" line_is 1 ' Items$'
keys o
expect_wait "during another process's import: o goes back to the overview" wait_frame 30 'q Quit'
if wait "$IMPORT_PID"; then ok "the concurrent import succeeds"; else
    notok "the concurrent import succeeds" "$(cat "$TMP/import-more.log")"; fi
check_hidden "no 'database is locked' on the screen" 'locked'
quit q "q after the concurrent import"

start ascii 80 24 "$DB" RECSCOPE_ASCII=1
wait_frame 24 'q Quit'
expect "RECSCOPE_ASCII=1 draws the bars in ASCII" ' 4 #+ +4 +33\.3%'
if screen | LC_ALL=C grep -q '[^ -~]'; then
    notok "RECSCOPE_ASCII=1 writes only ASCII" "$(screen)"
else
    ok "RECSCOPE_ASCII=1 writes only ASCII"
fi
quit q "q in ASCII mode"

# --- browsing the sample data ------------------------------------------------------------------
# The sample dataset (sample-data/, fixed): 943 users, 1,682 items. User 1
# has 34 interactions (mean 3.74); the most active have 841 (932 first in
# descending order), the least 20 (8 first); 32 users are scientists; the
# most popular item is 587, "The Quiet Truth" (1974), with 759 interactions.

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SDB=$TMP/sample.db
if "$BIN" import "$SDB" "$ROOT/sample-data" >"$TMP/import-sample.log" 2>&1; then
    ok "import of the sample data"
else
    notok "import of the sample data" "$(cat "$TMP/import-sample.log")"
fi

# data_rows FIRST LAST REGEX: every non-blank line FIRST..LAST matches REGEX
data_rows() {
    screen | sed -n "$1,$2p" | grep -v '^ *$' | grep -qvE -- "$3" && return 1
    [ -n "$(screen | sed -n "$1,$2p" | grep -v '^ *$')" ]
}

# browse COLS LINES: the whole browsing tour at one terminal size
browse() {
    c=$1 l=$2 at="at $1x$2"
    start "browse$1" "$c" "$l" "$SDB"
    wait_frame "$l" 'q Quit'
    keys u
    expect_wait "u opens Users $at" line_is 1 ' Users$'
    expect_wait "Users counts the users and says its order $at" \
        shows_re 'Users  943 users . sorted by User, ascending'
    expect_wait "Users lists user 1 with its numbers $at" \
        shows_re ' 1 +34 +3\.74 +1997-10-30 +1997-11-03 +25, F, scientist'
    expect_wait "the hint bar shows the list keys $at" \
        line_is "$l" '^ Enter Open +/ Filter +s Sort +r Reverse +q Back'
    expect "the position is on the status line $at" 'row 1 of 943$'
    keys j j j
    expect_wait "j moves the selection $at" shows 'row 4 of 943'
    expect_cursor "the terminal cursor sits on the selected row $at" '^ 4 +148 +2\.76 '
    keys k
    expect_wait "k moves it back up $at" shows 'row 3 of 943'
    expect_cursor "the cursor follows the selection up $at" '^ 3 +24 +3\.38 '
    keys g
    keys s
    expect_wait "s sorts by interactions, most first $at" \
        line_is 5 '^ 932 +841 '
    expect "the sorted column shows an arrow $at" 'Interactions▼'
    keys r
    expect_wait "r reverses: fewest interactions first $at" line_is 5 '^ 8 +20 '
    keys End
    expect_wait "End goes to the last row $at" shows 'row 943 of 943'
    keys Home
    expect_wait "Home goes back to the first $at" shows 'row 1 of 943'
    keys / s c i e n t i s t
    expect_wait "/ filters as one types $at" \
        line_is $((l - 1)) '^ /scientist.* row 1 of 32 matches$'
    expect "the hint bar shows the prompt's keys $at" '^ Enter Apply +Esc Cancel +\^U Clear'
    if data_rows 5 $((l - 3)) 'scientist'; then ok "every row shown is a scientist $at"
    else notok "every row shown is a scientist $at" "$(screen)"; fi
    keys C-u r e : ^ 9 3 2 '$'
    expect_wait "a re: filter anchors on the id field $at" shows 'row 1 of 1 match'
    expect "the re: filter keeps user 932 alone $at" '^ 932 +841 '
    keys Enter
    expect_wait "Enter applies the filter $at" line_is "$l" '^ Enter Open'
    expect "the applied filter is shown $at" 'filter: re:\^932\$'
    keys Enter
    expect_wait "Enter opens the user $at" shows_re 'User 932  age 31 . F . scientist'
    expect_wait "the user's activity line $at" \
        shows_re '841 interactions . mean rating 3\.80 \(841 rated\) . 2017-03-26 to 2023-06-12'
    expect_wait "the history, newest first $at" shows 'History  newest first'
    expect "the history has titles, ratings and dates $at" 'Date▼' ' 2023-06-12 '
    expect "the genre profile with bars $at" 'Genre profile' ' Drama +█+'
    expect "the recommendations pane is there $at" 'Recommendations'
    keys s
    expect_wait "s sorts the history by rating $at" shows 'History  highest rating first'
    keys Tab Enter
    expect_wait "Enter on a genre searches the history for it $at" shows 'search: Drama'
    keys Escape
    expect_wait "Esc goes back to Users $at" line_is 1 ' Users$'
    expect_wait "the filter is still there $at" shows 'filter: re:^932$'
    keys Escape
    expect_wait "Esc clears the filter $at" shows 'row 1 of 943'
    keys i
    expect_wait "i opens Items, most popular first $at" \
        shows_re 'Items  1,682 items . sorted by Popularity, descending'
    expect_wait "the most popular item first $at" line_is 5 '^ 587 +The Quiet Truth +1974 .* 759 '
    keys Enter
    expect_wait "Enter opens the item $at" shows 'The Quiet Truth (1974)  item 587'
    expect_wait "the item's rating distribution $at" shows_re 'Ratings  759 rated, mean 3\.[0-9]{2}'
    expect "five rating bars $at" '^ 5 [^0-9]+ [0-9]+ ' '^ 1 [^0-9]+ [0-9]+ '
    expect "the users who interacted $at" 'Users who interacted' 'User +Rating +Date +Interactions'
    if [ "$c" -ge 120 ]; then
        expect "each user with their numbers and attributes $at" \
            'User +Rating +Date +Interactions +Mean +Attributes' \
            ' [0-9]+ +[1-5] +[0-9]{4}-[0-9]{2}-[0-9]{2} +[0-9,]+ +[0-9]\.[0-9]{2}  [0-9]+, [FM]'
    fi
    keys Enter
    expect_wait "Enter opens a user from the item's users $at" line_is 3 '^ User [0-9]+ '
    expect_wait "that user's history $at" shows 'History  newest first'
    keys '?'
    expect_wait "help opens over the user screen $at" shows 'press any key to close'
    expect "help lists the user screen's keys, from the key tables $at" 'Help — User' \
        'Down, Up, j, k +Move down / up' 'Tab, S-Tab +Next pane' 'u +Users' 'q, Esc +Back'
    keys x
    keys o
    expect_wait "o goes back to the overview $at" line_is 1 ' Overview$'
    expect_width "nothing wider than $c columns $at" "$c"
    quit q "q after browsing $at"
}

browse 80 24
browse 120 40

start browse-ascii 80 24 "$SDB" RECSCOPE_ASCII=1
wait_frame 24 'q Quit'
keys u Enter
expect_wait "ASCII mode: the user screen draws its genre bars in ASCII" \
    shows 'Genre profile'
expect_wait "ASCII mode: genre bars" shows_re ' Drama +#+'
if screen | LC_ALL=C grep -q '[^ -~]'; then
    notok "ASCII mode: the user screen writes only ASCII" "$(screen)"
else
    ok "ASCII mode: the user screen writes only ASCII"
fi
keys o
wait_frame 24 'q Quit'
quit q "q in ASCII mode after the user screen"

# --- suspend and resume -------------------------------------------------------------------
# recscope runs under an interactive shell with job control: ^Z stops it
# and gives the prompt back with the terminal in its normal modes; fg
# brings the screen back as it was, and keys still work.

if command -v bash >/dev/null 2>&1; then
    SESSION=suspend
    $T new-session -d -s suspend -x 80 -y 24 \
        "env -u RECSCOPE_ASCII -u NO_COLOR LANG=C.UTF-8 LC_ALL=C.UTF-8 PS1='PROMPT\$ ' bash --norc --noprofile -i"
    wait_until shows 'PROMPT$'
    keys "'$BIN' '$SDB'" Enter
    wait_frame 24 'q Quit'
    keys u j
    wait_until shows 'row 2 of 943'
    keys C-z
    expect_wait "^Z stops recscope and the shell prompt is back" shows_re '^\[1\]\+ +Stopped'
    keys "stty -a | tr ' ;' '\\n\\n' | grep -x -e '-*icanon' -e '-*echo' | tr '\\n' ' '; echo MODES" Enter
    expect_wait "the suspended terminal is in canonical mode with echo" shows_re '^icanon echo MODES$'
    resize 100 30 # the terminal changes size while recscope is stopped
    keys fg Enter
    expect_wait "fg redraws the screen at the new size" line_is 30 '^ Enter Open +/ Filter'
    expect "fg brings back Users as it was" '^ recscope .* Users$' 'row 2 of 943$'
    expect_cursor "after fg the cursor is on the selected row" '^ 2 +107 +3\.73 '
    keys j
    expect_wait "keys work after fg" shows 'row 3 of 943'
    keys q q
    wait_until hides 'row 3 of 943'
    keys 'echo "AFTER rc=$?"' Enter
    expect_wait "q after fg ends recscope with status 0" shows_re '^AFTER rc=0$'
    $T kill-session -t suspend >/dev/null 2>&1
else
    echo "# suspend tests skipped: no bash for job control"
fi

# --- runs and background training ----------------------------------------------------------
# On a copy of the sample data (no split yet): R opens Runs, n the form,
# Enter trains MostPopular on a new default split r80 and the run appears
# as done with its NDCG@10; a run another process trains appears on the
# Runs timer; then ALS (200 factors, 1000 iterations) and BPR (10000
# epochs), minutes of work, train at once while Users is browsed, the title bar shows both,
# the job view draws the loss curve, and x + y cancels each.

RDB=$TMP/runs.db
cp "$SDB" "$RDB"

# pick_algo NAME: presses Right in the form until NAME is selected
pick_algo() {
    n=0
    while [ $n -lt 24 ]; do
        cur=$(screen | grep -E '^ >algorithm')
        printf '%s\n' "$cur" | grep -qE "^ >algorithm +$1([^a-z0-9_]|\$)" && return 0
        keys Right
        wait_until eval '[ "$(screen | grep -E "^ >algorithm")" != "$cur" ]'
        n=$((n + 1))
    done
    return 1
}

start runs 100 30 "$RDB"
wait_frame 30 'q Quit'
keys R
expect_wait "R opens Runs" line_is 1 ' Runs$'
expect "Runs is empty at first and says how to start" 'Runs  0 runs . NDCG@10 under the full-ranking protocol' \
    'No runs yet\. Press n to train a model\.'
expect "the Runs hint bar" '^ Enter Job view +n New run +x Cancel training +/ Filter +s Sort +r Reverse +Space Show in Compare'
keys n
expect_wait "n opens the new-run form" line_is 1 ' New run$'
expect "the form starts on MostPopular with its parameters and defaults" \
    '^ >algorithm +pop' '^  min_rating +0 '
expect "without a split the form offers the default r80" \
    '^  split +r80 +no split yet: a random 80/20 split "r80"'
expect "the form has device, seed and name" '^  device +auto' '^  seed +42' '^  name  +'
keys Down C-u 1 x
expect_wait "a bad parameter is refused inline" \
    shows "parameter min_rating: expected a number, got '1x'"
keys Enter
expect "Enter does not start a training with a bad parameter" '^ >min_rating +1x'
keys C-u 0 Enter
expect_wait "Enter starts the training and closes the form" line_is 1 ' Runs$'
expect_wait "the finished run appears without restarting" shows_re '^ pop-1 +pop +done +r80 '
expect_wait "the run gets its NDCG@10 once evaluated" \
    shows_re '^ pop-1 +pop +done +r80 .* 0\.[0-9]{4} '
expect_wait "the selected run's details show the protocol" \
    shows_re 'NDCG@10 0\.[0-9]{4} \(full protocol'
check_hidden "nothing is training: no indicator in the title bar" 'training:'

if "$BIN" train "$RDB" --algo pop --split r80 --name other-proc -q >"$TMP/train.log" 2>&1; then
    expect_wait "a run trained by another process appears on the timer" shows_re '^ other-proc +pop +done'
else
    notok "a run trained by another process appears on the timer" "$(cat "$TMP/train.log")"
fi

# the Runs list is the generic table: sort, reverse, filter, export
keys s
expect_wait "Runs: s sorts by run name" shows 'sorted by Run, ascending'
expect "Runs: other-proc before pop-1 by name" '^ other-proc .*'
if screen | grep -nE '^ (other-proc|pop-1) ' | head -1 | grep -q other-proc; then
    ok "Runs: the name order puts other-proc first"
else notok "Runs: the name order puts other-proc first" "$(screen)"; fi
keys r
expect_wait "Runs: r reverses the order" shows 'sorted by Run, descending'
if screen | grep -nE '^ (other-proc|pop-1) ' | head -1 | grep -q pop-1; then
    ok "Runs: reversed, pop-1 comes first"
else notok "Runs: reversed, pop-1 comes first" "$(screen)"; fi
keys / o t h e r
expect_wait "Runs: / filters the runs as one types" shows 'row 1 of 1 match'
check_hidden "Runs: the filter hides pop-1" ' pop-1 '
expect_cursor_x "Runs: the cursor at the prompt's insertion point" 7
keys Enter
expect_wait "Runs: Enter applies the filter" shows 'filter: other'
expect_cursor "Runs: the cursor on the only row left" '^ other-proc +pop +done'
keys Escape
expect_wait "Runs: Esc clears the filter" shows 'row 1 of 2'
keys e C-u
keys "$TMP/runs.md" Enter
expect_wait "Runs: e exports the list" shows "2 rows written to $TMP/runs.md"
if grep -q '^| Run | Algorithm | Status | Split | Device | Train s | NDCG@10 | Parameters |' \
    "$TMP/runs.md" && grep -q '^| other-proc | pop | done | r80 |' "$TMP/runs.md"; then
    ok "Runs: the export has every column and run"
else
    notok "Runs: the export has every column and run" "$(cat "$TMP/runs.md" 2>&1)"
fi
keys s s s s s s s s
expect_wait "Runs: s cycles back to the order of creation" \
    shows_re 'Runs  2 runs . NDCG@10 under the full-ranking protocol'
keys G # the last row selected follows new runs
expect_wait "Runs: G selects the last run" shows 'row 2 of 2'
keys Space
expect_wait "Runs: Space shows the run in Compare" shows 'Shown in Compare and on the model screens'
expect "Runs: its details say so" '^ other-proc pop . cpu seed 42 .* shown in Compare'
keys Space
expect_wait "Runs: Space again takes it off" shows 'No longer shown on the model screens.'
check_hidden "Runs: the details no longer say it is shown" 'shown in Compare'

keys n
wait_until line_is 1 ' New run$'
if pick_algo als; then ok "Right cycles the algorithms to ALS"; else notok "Right cycles the algorithms to ALS" "$(screen)"; fi
expect "ALS shows its own parameters" '^  iterations +15 '
keys Down C-u 2 0 0 Down Down Down C-u 1 0 0 0 Enter
expect_wait "ALS starts in the background" shows_re 'training: als-1 '
keys n
wait_until line_is 1 ' New run$'
if pick_algo bpr; then ok "Right cycles the algorithms to BPR"; else notok "Right cycles the algorithms to BPR" "$(screen)"; fi
keys Down Down C-u 1 0 0 0 0 Enter
expect_wait "two trainings show in the title bar" \
    line_is 1 'training: als-1 [0-9]+%.* \| bpr-1 [0-9]+%.* Runs$'
keys u
expect_wait "Users opens while training" line_is 1 'training: .*als-1.*bpr-1.* Users$'
expect_wait "Users lists its rows while training" shows_re ' 1 +34 +3\.74 '
keys Enter
expect_wait "a user opens while training" shows 'History  newest first'
expect_wait "the indicator shows progress, ETA and loss" \
    line_is 1 'training: als-1 [0-9]+% ETA [0-9]+[smh][0-9ms]* loss [0-9.e-]+ \| bpr-1 [0-9]+%'
keys R
expect_wait "R goes back to Runs" line_is 1 ' Runs$'
expect_wait "both runs are listed as running" shows_re '^ als-1 +als +running [0-9]+%' \
    && expect "bpr is running too" '^ bpr-1 +bpr +running [0-9]+%'
keys k Enter
expect_wait "Enter opens the job view of ALS" shows_re 'als-1  als . running'
expect_wait "the job view shows epochs and the loss curve" shows 'Loss curve'
expect "the job view shows epoch, loss, elapsed and ETA" 'epoch [0-9]+/1000' 'Loss +[0-9.e-]+' \
    'Elapsed .* ETA '
expect "the loss curve is drawn with blocks" '[▁▂▃▄▅▆▇█]'
keys x
expect_wait "x asks for confirmation" shows 'Cancel the training of als-1? (y/n)'
keys y
expect_wait "y cancels the training" shows_re 'als-1  als . cancelled'
keys q
expect_wait "the cancelled run is marked in Runs" shows_re '^ als-1 +als +cancelled '
keys j x
expect_wait "x on a running run asks for confirmation" shows 'Cancel the training of bpr-1? (y/n)'
keys n
expect_wait "n keeps it running" shows 'Still training.'
keys x y
expect_wait "x y cancels the second training" shows_re 'bpr-1  bpr . cancelled'
keys q
expect_wait "Runs shows both cancelled" shows_re '^ bpr-1 +bpr +cancelled '
expect_wait "the indicator goes away when nothing trains" line_is 1 '^ recscope .* Runs$'
check_hidden "no training indicator once idle" 'training:'
keys q
wait_frame 30 'q Quit'
quit q "q after training"

# quitting while a training runs asks first
start quitjob 100 30 "$RDB"
wait_frame 30 'q Quit'
keys R n
wait_until line_is 1 ' New run$'
pick_algo bpr >/dev/null
keys Down Down C-u 1 0 0 0 0 Enter
expect_wait "a training runs before quitting" shows_re 'training: bpr-2 '
keys q q
expect_wait "q while training asks before quitting" \
    shows '1 training is running: quit and cancel it? (y/n)'
expect "the question's hint bar" '^ y Quit and cancel the trainings +any key Keep them running'
keys n
expect_wait "n keeps the program" wait_frame 30 'q Quit'
expect "the training goes on" '^ recscope .*training: bpr-2 .* Overview$'
check_hidden "the question is gone" 'quit and cancel it?'
keys q
wait_until shows 'quit and cancel it? (y/n)'
quit y "y quits while training"
if "$BIN" runs "$RDB" 2>&1 | grep -qE '^bpr-2 +bpr +cancelled'; then
    ok "quitting recorded the training as cancelled"
else
    notok "quitting recorded the training as cancelled" "$("$BIN" runs "$RDB" 2>&1)"
fi

if [ "$(id -u)" != 0 ]; then
    cp "$SDB" "$TMP/ro.db" && chmod a-w "$TMP/ro.db"
    start ro 100 30 "$TMP/ro.db"
    wait_frame 30 'q Quit'
    keys R n
    expect_wait "a read-only database opens and says training is off" \
        shows 'Training is off: the database (or its folder) is read-only.'
    keys q
    quit q "q on a read-only database"
fi

# --- the model screens: recommendations, explain, compare, what-if ----------------------------
# A copy of the sample database with a split and two fast runs (pop, then
# itemknn: the most recent run is the one shown by default). The user
# opened is the first whose itemknn top 10 holds a held-out test item.

MDB=$TMP/models.db
cp "$SDB" "$MDB"
if "$BIN" split "$MDB" --name r80 -q >"$TMP/models.log" 2>&1 &&
    "$BIN" train "$MDB" --algo pop --split r80 --name pop-t -q >>"$TMP/models.log" 2>&1 &&
    "$BIN" train "$MDB" --algo itemknn --split r80 --name knn-t -q >>"$TMP/models.log" 2>&1; then
    ok "models: a split and two runs for the model screens"
else
    notok "models: a split and two runs for the model screens" "$(cat "$TMP/models.log")"
fi
HITU=
for u in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if "$BIN" recommend "$MDB" --run knn-t --user $u 2>/dev/null | grep -q ' hit '; then
        HITU=$u
        break
    fi
done
if [ -n "$HITU" ]; then ok "models: user $HITU has a hit in the top 10"
else notok "models: a user with a hit in the top 10" "$("$BIN" recommend "$MDB" --run knn-t --user 1 2>&1)"; fi

start models 120 40 "$MDB"
wait_frame 40 'q Quit'
keys u
wait_until line_is 1 ' Users$'
keys / r e : ^ "$HITU" '$' Enter
wait_until shows 'row 1 of 1 match'
keys Enter
expect_wait "models: the user screen shows the recommendations of the newest run" \
    shows 'knn-t (itemknn)'
expect_wait "models: a held-out test item is marked as a hit" \
    shows_re '  ([ 1][0-9])\* [A-Za-z]'
expect "models: ten recommendations" '  10[ *] [A-Za-z]'
keys Tab Tab Enter
expect_wait "models: Enter on a recommendation opens its explanation" line_is 1 ' Explain$'
expect_wait "models: the explanation names the item, user and run" \
    shows_re "Why .* for user $HITU\$"
expect "models: the explanation has the score, the rank and the method" \
    'under knn-t \(itemknn\)' 'score [0-9.e+-]+ +. rank 1 among the unseen items' \
    'Contributions +value, share of the score' '^ +\+[0-9.e+-]+ +[0-9.]+% '
keys Escape
wait_until line_is 1 ' User$'
keys c
expect_wait "models: c opens Compare with a metrics table" shows_re 'Compare  full protocol, K = 10, split r80'
expect_wait "models: the metrics of both runs" shows_re '^ ndcg@10 +0\.[0-9]{4} +0\.[0-9]{4}'
expect "models: the paired test against the first run" \
    'pop-t vs knn-t on ndcg@10: [+-]0\.[0-9]{4}, 95% CI \[[+-]0\.[0-9]{4}, [+-]0\.[0-9]{4}\], Wilcoxon p = [0-9.e-]+: (not )?significant'
expect "models: the same-list detector flags MostPopular only" \
    'pop-t: [0-9]+ distinct items .*! every user gets the same list' \
    'knn-t: [0-9]+ distinct items in the top-10 of 20 users *$'
expect "models: the user's lists side by side with hits and rank changes" \
    "User $HITU  [0-9]+ of 943 evaluated" '^ +knn-t +pop-t' '(new|[+-][0-9]+) *$'
keys +
expect_wait "models: + raises K to 20" shows_re '^ ndcg@20 +0\.[0-9]{4} +0\.[0-9]{4}'
keys n
expect_wait "models: n moves to the next evaluated user" \
    shows_re "User [0-9]+  $((HITU + 1)) of 943 evaluated"
keys q
wait_until line_is 1 ' User$'
keys S
expect_wait "models: S opens the run selection" shows 'Runs shown (up to 3)'
expect "models: the newest run is selected" '\[x\] knn-t' '\[ \] pop-t'
keys k Space q
wait_until line_is 1 ' User$'
expect_wait "models: both selected runs side by side on the user screen" \
    shows_re 'knn-t \(itemknn\) +pop-t \(pop\)'
keys q
wait_until line_is 1 ' Users$'
keys w
expect_wait "models: w opens a what-if user from nobody" shows 'What-if user  from nobody'
expect "models: an empty profile" 'Profile  0 items, 0 on'
keys a Q u i e t
expect_wait "models: the search lists matching titles" shows 'Quiet Mischief (1989)'
keys Enter C-u H a v e n p o r t
expect_wait "models: a second search" shows 'The Havenport Legacy: Part 1'
keys Enter Escape
expect_wait "models: two items in the profile" shows 'Profile  2 items, 2 on'
expect "models: the profile lists them" '\[x\] Quiet Mischief' '\[x\] The Havenport Legacy: Part 1'
expect "models: fold-in recommendations of both runs" 'knn-t \(itemknn\) +pop-t \(pop\)' \
    '^ +.* 10  [A-Za-z]'
keys Space
expect_wait "models: Space turns an item off" shows 'Profile  2 items, 1 on'
keys Tab Enter
expect_wait "models: a what-if recommendation explained" shows 'for a what-if user of 1 items'
keys i
wait_until line_is 1 ' Items$'
keys Enter
expect_wait "models: the item screen lists similar items" shows 'Similar items'
expect_wait "models: under each selected run, or why not" \
    shows_re 'under knn-t \(itemknn\)'
expect "models: ItemKNN's neighbours and MostPopular's lack of them" \
    '^ +1  [A-Za-z]' 'pop has no item similarity'
keys o
wait_frame 40 'q Quit'
quit q "q after the model screens"

# The dataset and the runs load on a worker thread: a model screen shows a
# "loading..." placeholder (or, on a fast machine, already its result) and
# keys keep working meanwhile; Esc leaves a screen that is still loading.
start loading 100 30 "$MDB"
wait_frame 30 'q Quit'
keys c
expect_wait "loading: Compare opens at once, loading or loaded" \
    shows_re 'loading the dataset|loading run|runs loaded|Compare  full protocol'
keys Escape
expect_wait "loading: Esc leaves Compare whatever it was doing" line_is 1 ' Overview$'
keys i Enter
expect_wait "loading: the item screen shows its similar items, loading or loaded" \
    shows_re 'under knn-t \(itemknn\)'
expect_wait "loading: the similar items arrive without a key" shows_re '^ +1  [A-Za-z]'
keys j
expect_wait "loading: keys work on the item screen" shows 'row 2 of'
keys c
expect_wait "loading: Compare gets its metrics once the runs are in" \
    shows_re '^ ndcg@10 +0\.[0-9]{4} +0\.[0-9]{4}'
keys o
wait_frame 30 'q Quit'
quit q "q after the loading checks"

start models80 80 24 "$MDB"
wait_frame 24 'q Quit'
keys u
wait_until line_is 1 ' Users$'
keys / r e : ^ "$HITU" '$' Enter
wait_until shows 'row 1 of 1 match'
keys Enter
expect_wait "models at 80x24: the recommendations beside the history" shows 'knn-t (itemknn)'
expect_wait "models at 80x24: the hit marker" shows_re '  ([ 1][0-9])\* [A-Za-z]'
expect_width "models at 80x24: nothing wider than 80 columns" 80
keys c
expect_wait "models at 80x24: compare fits the paired test" shows 'Wilcoxon p'
expect_width "models at 80x24: compare is no wider than 80 columns" 80
keys o
wait_frame 24 'q Quit'
quit q "q after the model screens at 80x24"

# --- every screen at one size ------------------------------------------------------------
# tour DB COLS LINES LABEL: opens every screen in turn on DB (which has the
# split r80 and the runs pop-t and knn-t; it gains a run pop-1) and checks
# that each one draws its title, its key-hint bar on the last line, its
# own marker texts, and nothing wider than the terminal; then that the
# terminal shrunk to 60x15 says it is too small, and that growing it back
# redraws the screen.

# screen_ok DESC NAME MARKER...: the title names the screen, the frame is
# whole (the hint bar on the last line), every marker is there, no line is
# wider than the terminal
screen_ok() {
    desc=$1 name=$2
    shift 2
    if ! wait_until line_is 1 "^ recscope .* $name\$" || ! wait_until line_is "$tl" '^ [^ ]'; then
        notok "$desc: the $name screen" "$(screen)"
        return 0
    fi
    for m in "$@"; do
        if ! wait_until shows_re "$m"; then
            notok "$desc: the $name screen shows /$m/" "$(screen)"
            return 0
        fi
    done
    if [ "$(screen | LC_ALL=C.UTF-8 wc -L)" -le "$tc" ]; then
        ok "$desc: the $name screen fits"
    else
        notok "$desc: the $name screen fits" "$(screen)"
    fi
}

tour() {
    tdb=$1 tc=$2 tl=$3 at="$4 at $2x$3"
    start "tour$2$4" "$tc" "$tl" "$tdb"
    screen_ok "$at" Overview 'Dataset' 'Interactions over time' '^ +[0-9]{4}-[0-9]{2}-[0-9]{2} +[0-9]{4}-'
    keys u
    screen_ok "$at" Users 'Users  943 users' 'row 1 of 943$'
    keys Enter
    screen_ok "$at" User 'History  newest first' 'Genre profile' 'knn-t \(itemknn\)' \
        '  1[ *] [A-Za-z]'
    keys Tab Tab Enter
    screen_ok "$at" Explain '^ Why ' 'under knn-t \(itemknn\)' 'Contributions'
    keys Escape w
    screen_ok "$at" What-if 'from the training history of user' 'Profile  [0-9]+ items' \
        ' 1  [A-Za-z]'
    keys S
    screen_ok "$at" What-if 'Runs shown \(up to 3\)' '\[x\] knn-t'
    keys q q c
    screen_ok "$at" Compare 'Compare  full protocol, K = 10' '^ ndcg@10 +0\.[0-9]{4} +0\.[0-9]{4}' \
        'Wilcoxon p'
    keys '?'
    screen_ok "$at" Compare 'Help — Compare' 'press any key to close'
    keys x i
    screen_ok "$at" Items 'Items  1,682 items' 'row 1 of 1,682$'
    keys Enter
    screen_ok "$at" Item 'Ratings  [0-9]+ rated' 'Users who interacted' 'Similar items' \
        'under knn-t \(itemknn\)'
    keys R
    screen_ok "$at" Runs 'Runs  2 runs' '^ pop-t +pop +done' '^ knn-t +itemknn +done'
    keys n
    screen_ok "$at" 'New run' '^ >algorithm +pop' '^  split +r80'
    keys Enter
    screen_ok "$at" Runs '^ pop-1 +pop +done'
    expect_cursor "$at: the cursor on the new run" '^ pop-1 +pop +done'
    keys Enter
    screen_ok "$at" Job 'pop-1  pop . done'
    keys q
    resize 60 15
    expect_wait "$at: 60x15 is too small" shows 'terminal too small'
    expect "$at: the too-small screen says what is needed" 'need 80x24'
    resize "$tc" "$tl"
    screen_ok "$at, grown back," Runs '^ pop-1 +pop +done'
    keys o
    wait_frame "$tl" 'q Quit'
    quit q "$at: q after the tour"
}

cp "$MDB" "$TMP/tour80.db" # copies: each tour adds a run
tour "$TMP/tour80.db" 80 24 sample
cp "$MDB" "$TMP/tour120.db"
tour "$TMP/tour120.db" 120 40 sample
if [ -n "${RECSCOPE_ML100K:-}" ] && [ -f "$RECSCOPE_ML100K/u.data" ]; then
    MLDB=$TMP/ml100k.db
    if "$BIN" import "$MLDB" "$RECSCOPE_ML100K" >"$TMP/ml.log" 2>&1 &&
        "$BIN" split "$MLDB" --name r80 -q >>"$TMP/ml.log" 2>&1 &&
        "$BIN" train "$MLDB" --algo pop --split r80 --name pop-t -q >>"$TMP/ml.log" 2>&1 &&
        "$BIN" train "$MLDB" --algo itemknn --split r80 --name knn-t -q >>"$TMP/ml.log" 2>&1; then
        ok "MovieLens-100K: imported with a split and two runs"
        tour "$MLDB" 80 24 MovieLens-100K
    else
        notok "MovieLens-100K: imported with a split and two runs" "$(cat "$TMP/ml.log")"
    fi
else
    echo "# MovieLens-100K tour skipped: set RECSCOPE_ML100K to its folder"
fi

# --- the settings file; a what-if user from a user's training history ------------
XDG=$TMP/xdg
mkdir -p "$XDG/recscope"
printf '# test settings\ntheme = mono\ncolour = red\ndefault_k = 10\n' >"$XDG/recscope/config"
NTRAIN=$("$BIN" export-split "$MDB" --split r80 --part train 2>/dev/null |
    awk -F'\t' -v u="$HITU" '$1 == u' | wc -l | tr -d ' ')
NALL=$("$BIN" export-split "$MDB" --split r80 --part test 2>/dev/null |
    awk -F'\t' -v u="$HITU" '$1 == u' | wc -l | tr -d ' ')
start settings 120 40 "$MDB" XDG_CONFIG_HOME="$XDG"
wait_frame 40 'q Quit'
expect "settings: an unknown key is a one-line warning in the title" \
    "settings line 3: unknown setting 'colour'"
keys u
wait_until line_is 1 ' Users$'
keys / r e : ^ "$HITU" '$' Enter
wait_until shows 'row 1 of 1 match'
keys Enter
wait_until shows 'knn-t (itemknn)'
keys w
expect_wait "what-if from a user starts from the training part of the run's split" \
    shows "from the training history of user $HITU, split r80"
if [ "${NALL:-0}" -gt 0 ] && [ "${NTRAIN:-0}" -gt 0 ]; then
    expect "what-if from a user: the $NTRAIN training items, not the $NALL held-out ones too" \
        "Profile  $NTRAIN items, $NTRAIN on"
else
    notok "what-if from a user: user $HITU has training and test items" \
        "$NTRAIN $NALL $("$BIN" export-split "$MDB" --split r80 --part test 2>&1 | head -3)"
fi
expect "what-if: K from the settings" 'top 10, fold-in'
keys +
expect_wait "what-if: + raises K and saves it as default_k" shows 'top 20 (saved), fold-in, no retraining'
if grep -qx 'default_k = 20' "$XDG/recscope/config" && grep -qx 'theme = mono' "$XDG/recscope/config" &&
    [ "$(ls "$XDG/recscope")" = config ]; then
    ok "settings: saved atomically with the other settings kept"
else
    notok "settings: saved atomically with the other settings kept" "$(ls "$XDG/recscope"; cat "$XDG/recscope/config")"
fi
keys o
wait_frame 40 'q Quit'
quit q "q after the settings checks"

[ -n "${RS_RESULTS:-}" ] && echo "$PASS $FAIL tui" >>"$RS_RESULTS"
echo "tui: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
