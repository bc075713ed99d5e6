#!/bin/sh
# check_man.sh BINARY [MANPAGE] - keeps man/recscope.1 honest:
#   1. the page renders without warnings (groff -ww, and man --warnings when
#      man is installed);
#   2. every command listed under "commands:" by 'BINARY --help' has a .SS
#      heading in the page, and every long option that 'BINARY CMD --help'
#      prints (--format, --skip-bad, ...) appears in that command's section;
#      the options of 'BINARY --help' itself appear somewhere in the page.
# Prints "ok - ..." / "not ok - ..." lines and "N passed, N failed"; exits 1
# on any failure, 2 on a usage error.
set -u
if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: sh tests/check_man.sh BINARY [MANPAGE]" >&2
    exit 2
fi
BIN=$1
MAN=${2:-$(dirname "$0")/../man/recscope.1}
T=$(mktemp -d /tmp/recscope-man.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"
indent() { sed 's/^/    # /' | head -n "${1:-10}"; }
finish() {
    [ -n "${RS_RESULTS:-}" ] && echo "$pass $fail man" >>"$RS_RESULTS"
    echo "man: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit $?
}

if [ ! -r "$MAN" ]; then
    nok "man page $MAN exists"
    finish
fi

# --- 1. rendering ----------------------------------------------------------------
if command -v groff >/dev/null 2>&1; then
    groff -man -Tutf8 -ww -z "$MAN" >"$T/groff" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/groff" ]; then
        ok "groff -man -ww renders the page without warnings"
    else
        nok "groff -man -ww renders the page without warnings (exit $rc)"
        indent <"$T/groff"
    fi
else
    nok "groff is installed (apt-get install groff-base)"
fi
if command -v man >/dev/null 2>&1; then
    LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$MAN" 2>"$T/man" >/dev/null
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$T/man" ]; then
        ok "man --warnings -l renders the page without warnings"
    else
        nok "man --warnings -l renders the page without warnings (exit $rc)"
        indent <"$T/man"
    fi
fi

# --- 2. commands and options ---------------------------------------------------------
# The page as plain words: "\-" -> "-", font and no-op escapes and quotes dropped.
sed -e 's/\\-/-/g' -e 's/\\%//g' -e 's/\\&//g' -e 's/\\f[BIRP]//g' -e 's/\\f(..//g' \
    -e 's/\\f\[[^]]*\]//g' -e 's/"//g' "$MAN" >"$T/page"

# section CMD: the lines of the .SS section whose heading names CMD
# (from that heading up to the next .SS or .SH).
section() {
    awk -v cmd="$1" '
        /^\.S[SH]/ {
            keep = 0
            if ($1 == ".SS")
                for (k = 2; k <= NF; k++)
                    if ($k == cmd) keep = 1
        }
        keep' "$T/page"
}

# long_opts FILE: the long options mentioned in a --help text, one a line.
long_opts() {
    grep -oE -e '--[A-Za-z0-9][A-Za-z0-9-]*' "$1" | sort -u
}

# has_opt FILE OPT: OPT appears in FILE as a whole option (not a prefix).
has_opt() {
    grep -qE -e "$2([^A-Za-z0-9-]|\$)" "$1"
}

if [ ! -x "$BIN" ]; then
    nok "$BIN is an executable"
    finish
fi
if "$BIN" --help >"$T/help" 2>"$T/err" </dev/null; then
    ok "recscope --help"
else
    nok "recscope --help exits 0"
    indent <"$T/err"
fi
awk '/^commands:/ { f = 1; next } f && NF == 0 { exit } f { print $1 }' "$T/help" >"$T/cmds"
if [ -s "$T/cmds" ]; then
    ok "recscope --help lists $(wc -l <"$T/cmds" | tr -d ' ') commands"
else
    nok "recscope --help lists commands under 'commands:'"
fi
for opt in $(long_opts "$T/help"); do
    if has_opt "$T/page" "$opt"; then ok "man page documents recscope $opt"; else
        nok "man page documents recscope $opt"
    fi
done

for cmd in $(cat "$T/cmds"); do
    section "$cmd" >"$T/sec"
    if [ -s "$T/sec" ]; then
        ok "man page has a .SS section for $cmd"
    else
        nok "man page has a .SS section for $cmd"
        continue
    fi
    if ! "$BIN" "$cmd" --help >"$T/chelp" 2>"$T/err" </dev/null; then
        nok "recscope $cmd --help exits 0"
        indent <"$T/err"
        continue
    fi
    for opt in $(long_opts "$T/chelp"); do
        if has_opt "$T/sec" "$opt"; then ok "man page documents $cmd $opt"; else
            nok "man page documents $cmd $opt (not in its .SS section)"
        fi
    done
done
finish
