# lib.sh - what the shell tests share (sourced, not run): TAP-like result
# lines counted into $pass and $fail, and for the command-line tests
# `expect` and `has`, which keep a command's output in $T/out and $T/err
# ($T: the test's temporary folder).
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
# has DESCRIPTION FILE TEXT: ok when FILE contains TEXT
has() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        nok "$1: no '$3' in $(basename "$2")"
        sed 's/^/    # /' "$2" | head -5
    fi
}
