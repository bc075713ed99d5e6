#!/bin/sh
# tui_storm.sh BINARY - the random-key storm of the TUI issue: imports the
# sample data (with an r80 split and a popularity run, so the model screens
# have something to show), runs the TUI in a detached tmux on a private
# socket and sends it thousands of keys drawn from a fixed-seed
# pseudo-random sequence (awk srand(42)) out of the keys the screens use,
# in batches, with a resize between batches (60x15 .. 160x50; below 80x24
# the "too small" screen). q and Esc are
# in the storm too: when they end the program, the pane's runner script
# records the exit status and starts it again, so every exit on the way is
# checked for status 0. Afterwards the program must still respond (Ctrl-L,
# o shows the Overview) and leave with status 0 on Esc/q (answering y to
# the question asked while a training runs), with the terminal restored.
# Prints "ok - ..." / "not ok - ..." per check, then
# "tui-storm: N passed, N failed"; exits non-zero on any failure.
# STORM_SEED and STORM_BATCHES override the seed (42) and the batch count.
set -u

BIN=${1:?usage: tui_storm.sh BINARY}
case $BIN in /*) ;; *) BIN=$(pwd)/$BIN ;; esac
command -v tmux >/dev/null 2>&1 || { echo "tui_storm: tmux not found" >&2; exit 1; }
[ -x "$BIN" ] || { echo "tui_storm: $BIN is not executable" >&2; exit 1; }
SRC=$(cd "$(dirname "$0")/.." && pwd)/sample-data
SEED=${STORM_SEED:-42}
BATCHES=${STORM_BATCHES:-60}
PER_BATCH=50

TMP=$(mktemp -d "${TMPDIR:-/tmp}/rsstorm.XXXXXX")
# never read or write the tester's own settings
export XDG_CONFIG_HOME="$TMP/config"
T="tmux -L storm$$ -f /dev/null"
trap '$T kill-server >/dev/null 2>&1; rm -rf "$TMP"' EXIT
trap 'exit 2' INT TERM HUP
PASS=0
FAIL=0
S=storm

ok() { PASS=$((PASS + 1)); echo "ok - $1"; }
notok() {
    FAIL=$((FAIL + 1))
    echo "not ok - $1"
    [ -n "${2:-}" ] && printf '%s\n' "$2" | sed 's/^/#   /'
    return 0
}
finish() {
    [ -n "${RS_RESULTS:-}" ] && echo "$PASS $FAIL tui-storm" >>"$RS_RESULTS"
    echo "tui-storm: $PASS passed, $FAIL failed"
    [ "$FAIL" -eq 0 ]
    exit
}

screen() { $T capture-pane -p -t "$S" 2>/dev/null; }
keys() { $T send-keys -t "$S" "$@"; }
shows() { screen | grep -qF -- "$1"; }
screen_re() { screen | grep -qE -- "$1"; }
wait_until() {
    i=0
    while [ $i -lt 100 ]; do
        "$@" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
exits() { [ -f "$TMP/exits" ] && wc -l <"$TMP/exits" | tr -d ' ' || echo 0; }

# --- the database ---------------------------------------------------------------

DB=$TMP/storm.db
if "$BIN" import "$DB" "$SRC" -q >"$TMP/prep.log" 2>&1 &&
    "$BIN" split "$DB" --name r80 -q >>"$TMP/prep.log" 2>&1 &&
    "$BIN" train "$DB" --algo pop --split r80 -q >>"$TMP/prep.log" 2>&1; then
    ok "the sample database with a split and a run"
else
    notok "the sample database with a split and a run" "$(cat "$TMP/prep.log")"
    finish
fi

# --- the runner: restarts the TUI after each exit until told to stop ----------------

mkdir "$TMP/cwd" # the storm's e + Enter write exports here
cat >"$TMP/run.sh" <<EOF
cd '$TMP/cwd' || exit 1
while :; do
    env -u RECSCOPE_ASCII -u NO_COLOR LANG=C.UTF-8 LC_ALL=C.UTF-8 '$BIN' '$DB' 2>>'$TMP/stderr'
    echo "rc=\$?" >>'$TMP/exits'
    [ -f '$TMP/stop' ] && break
    [ \$(wc -l <'$TMP/exits') -ge 200 ] && break
done
echo "EXITED"
stty -a | tr ' ;' '\\n\\n' | grep -x -e '-*icanon' -e '-*echo'
exec sleep 600
EOF
$T new-session -d -s "$S" -x 100 -y 30 "sh '$TMP/run.sh'"
if wait_until shows 'q Quit'; then
    ok "the TUI starts at 100x30"
else
    notok "the TUI starts at 100x30" "$(screen)"
    finish
fi

# --- the storm ------------------------------------------------------------------------
# Each line of the plan is a batch: "resize W H" or "keys K K K...". Keys
# are weighted towards moving, opening and switching screens; q and Esc
# are rare so that most of the storm happens inside the program.

awk -v seed="$SEED" -v batches="$BATCHES" -v per="$PER_BATCH" 'BEGIN {
    srand(seed)
    n = split("u i o R c w S n p N x y s r / ? j k h l g G Enter Enter Tab BTab " \
              "Up Down Left Right PPage NPage Home End BSpace C-l F1 " \
              "j j k k Down Down Up Enter u i o R c w S a b e 1 2 9 0 - . Space", K, " ")
    for (b = 0; b < batches; b++) {
        w = 60 + int(rand() * 101); h = 15 + int(rand() * 36)
        if (b % 10 == 9) { w = 100; h = 30 }
        printf "resize %d %d\n", w, h
        line = "keys"
        for (i = 0; i < per; i++) {
            r = rand()
            if (r < 0.006) k = "q"
            else if (r < 0.02) k = "Escape"
            else k = K[1 + int(rand() * n)]
            line = line " " k
        }
        print line
    }
}' >"$TMP/plan"

nkeys=0
while read -r cmd a b; do
    case $cmd in
    resize) $T resize-window -t "$S" -x "$a" -y "$b" 2>/dev/null ;;
    keys)
        # shellcheck disable=SC2086
        set -- $a $b
        nkeys=$((nkeys + $#))
        keys "$@" 2>/dev/null
        sleep 0.05
        ;;
    esac
done <"$TMP/plan"
$T resize-window -t "$S" -x 100 -y 30
# a slow build (ASan) may still be working through the keys: wait until
# the pane stops changing
stable() {
    a=$(screen)
    sleep 0.8
    [ "$a" = "$(screen)" ] && ! printf '%s\n' "$a" | grep -qE 'Loading|Evaluating'
}
wait_until stable

# exits_ok WHAT: every exit so far had status 0
exits_ok() {
    bad=$(grep -vc '^rc=0$' "$TMP/exits" 2>/dev/null)
    if [ "${bad:-0}" -eq 0 ]; then
        ok "$1: $(exits) exits, all with status 0"
    else
        notok "$1: every exit has status 0" \
            "$(sort "$TMP/exits" | uniq -c; tail -20 "$TMP/stderr" 2>/dev/null)"
    fi
}
exits_ok "$nkeys keys in $BATCHES batches with resizes"

# --- still responding -------------------------------------------------------------------
# The storm may have left a prompt open: Escape leaves prompts and forms
# without quitting the first screen only when it is not on top, so use
# Ctrl-L and o (typed into a prompt at worst) and Enter/Escape pairs only
# while the Overview does not show.

# responds: Ctrl-L, then o; a modal overlay (the run selection, a
# question) ignores o, so while the Overview does not show, Escape closes
# the top screen (the Overview is always the first, so Escape never quits
# from here).
on_overview() { shows 'Interactions over time' && screen | sed -n 30p | grep -q '^ q Quit'; }
responds() {
    keys C-l
    keys o
    j=0
    while [ $j -lt 20 ]; do # up to 2 s for a slow build to draw
        on_overview && return 0
        sleep 0.1
        j=$((j + 1))
    done
    keys Escape
    return 1
}
restarts=$(exits)
if shows EXITED; then
    notok "the program still runs after the storm" "$(screen)"
elif wait_until responds && [ "$(exits)" -eq "$restarts" ]; then
    ok "after the storm, Ctrl-L and o (Esc out of overlays) show the Overview"
else
    notok "after the storm, Ctrl-L and o (Esc out of overlays) show the Overview" "$(screen)"
fi

# --- export and the help overlay, after the storm -----------------------------------------

rm -f "$TMP/cwd/recscope-users.csv"
keys u
title_is() { screen | sed -n 1p | grep -qE -- " $1\$"; }
if wait_until title_is Users; then
    keys e
    wait_until shows 'Export to: recscope-users.csv'
    keys Enter
    if wait_until shows 'rows written to recscope-users.csv' &&
        head -1 "$TMP/cwd/recscope-users.csv" 2>/dev/null | grep -q '^User,Interactions,Mean,First,Last,Attributes'; then
        ok "e + Enter on Users writes recscope-users.csv"
    else
        notok "e + Enter on Users writes recscope-users.csv" "$(screen)"
    fi
    # the User screen's help is taller than an 80x24 terminal
    keys Home Enter
    wait_until title_is User
    $T resize-window -t "$S" -x 80 -y 24
    keys '?'
    if wait_until screen_re '[0-9]+-[0-9]+ of [0-9]+ '; then
        ok "help on a short terminal says which lines it shows"
    else
        notok "help on a short terminal says which lines it shows" "$(screen)"
    fi
    keys / r e v
    if wait_until shows '/rev' && shows 'Reverse' && ! shows 'Overview '; then
        ok "/ filters the help lines"
    else
        notok "/ filters the help lines" "$(screen)"
    fi
    keys Escape
    if wait_until sh -c "! $T capture-pane -p -t $S | grep -qF /rev" && shows 'Help' &&
        shows 'Previous match'; then
        ok "Esc drops the help filter and keeps the help open"
    else
        notok "Esc drops the help filter and keeps the help open" "$(screen)"
    fi
    keys Escape
    $T resize-window -t "$S" -x 100 -y 30
    if wait_until sh -c "! $T capture-pane -p -t $S | grep -q 'j/k scroll'" && title_is User; then
        ok "a second Esc closes the help, back on the user"
    else
        notok "a second Esc closes the help, back on the user" "$(screen)"
    fi
else
    notok "u opens Users after the storm" "$(screen)"
fi

exits_ok "after the checks"
touch "$TMP/stop"

# --- quitting ------------------------------------------------------------------------------

i=0
while [ $i -lt 40 ] && ! shows EXITED; do
    if shows 'y Quit' || shows '(y/n)' || shows 'y/N'; then keys y; else keys Escape; fi
    sleep 0.2
    i=$((i + 1))
done
if wait_until shows 'EXITED'; then
    last=$(tail -1 "$TMP/exits")
    if [ "$last" = "rc=0" ]; then ok "Esc/q ends the program with status 0"; else
        notok "Esc/q ends the program with status 0" "$last"
    fi
    if wait_until sh -c "$T capture-pane -p -t $S | grep -qx echo" &&
        screen | grep -qx icanon; then
        ok "the terminal is restored (icanon, echo)"
    else
        notok "the terminal is restored (icanon, echo)" "$(screen)"
    fi
else
    notok "Esc/q ends the program" "$(screen)"
fi
if [ -s "$TMP/stderr" ] && grep -qE 'ERROR: AddressSanitizer|runtime error|LeakSanitizer' "$TMP/stderr"; then
    notok "no sanitizer reports" "$(grep -E -A30 'ERROR|runtime error' "$TMP/stderr" | head -60)"
fi
finish
