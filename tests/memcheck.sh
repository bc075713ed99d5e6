#!/bin/sh
# memcheck.sh BUILD - the unit tests, the fuzz targets over their corpus and
# the command-line tests (cli and hostile) under valgrind memcheck: invalid
# reads and writes, uses of uninitialised values and definite leaks are
# errors (still-reachable and possible leaks are not: libraries keep such
# memory until exit). Suppressions
# for third-party noise only, each explained, in tests/valgrind.supp.
# Counts go to RS_RESULTS like the other suites. Slow: not part of make test.
# MEMCHECK_ONLY="build/tests/test_x ..." checks only those unit-test binaries,
# MEMCHECK_CLI="hostile_test" only those command-line scripts.
set -u
build=$1
here=$(cd "$(dirname "$0")" && pwd)
L=$(mktemp -d /tmp/recscope-memcheck.XXXXXX)
trap 'rm -rf "$L"' EXIT
# The unit tests' MovieLens-100K checks take hours under valgrind: skipped
# unless MEMCHECK_ML100K=1 (the CLI tests still import ML-100K when found).
ML_CLI=${RECSCOPE_ML100K:-}
[ "${MEMCHECK_ML100K:-0}" = 1 ] || export RECSCOPE_ML100K=
# OpenBLAS: one thread, and kernels for a core valgrind emulates (no AVX-512)
export OPENBLAS_NUM_THREADS=1 OPENBLAS_CORETYPE=Haswell
VG="valgrind -q --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite \
--error-exitcode=99 --num-callers=30 --suppressions=$here/valgrind.supp"
pass=0
fail=0

# --- unit tests: one check per binary ------------------------------------------
for t in ${MEMCHECK_ONLY:-"$build"/tests/test_*}; do
    case $t in *.o | *.d) continue ;; esac
    name=$(basename "$t")
    # shellcheck disable=SC2086
    nice $VG --log-file="$L/$name.log" "$t" >"$L/$name.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$L/$name.log" ]; then
        pass=$((pass + 1))
        echo "ok - memcheck $name"
    else
        fail=$((fail + 1))
        echo "not ok - memcheck $name (exit $rc)"
        head -40 "$L/$name.log" | sed 's/^/    # /'
        grep -E '^\[  (FAILED|ERROR)' "$L/$name.out" | head -5 | sed 's/^/    # /'
    fi
done

# --- the fuzz targets over their committed corpus (memcheck sees uses of
# uninitialised memory, which ASan does not) --------------------------------------
for f in "$build"/fuzz/run_*; do
    name=$(basename "$f")
    t=${name#run_}
    # shellcheck disable=SC2086
    nice $VG --log-file="$L/$name.log" "$f" "$here"/fuzz/corpus/"$t"/* >"$L/$name.out" 2>&1
    rc=$?
    if [ $rc -eq 0 ] && [ ! -s "$L/$name.log" ]; then
        pass=$((pass + 1))
        echo "ok - memcheck fuzz corpus $t"
    else
        fail=$((fail + 1))
        echo "not ok - memcheck fuzz corpus $t (exit $rc)"
        head -40 "$L/$name.log" | sed 's/^/    # /'
    fi
done

# --- command-line tests through a wrapper that runs the binary under valgrind ----
BIN=$(readlink -f "$build/recscope")
# hostile_test.sh runs some commands as nobody (when root): they must reach
# the wrapper and write their logs
chmod 755 "$L"
mkdir -m 1777 "$L/cli"
cat >"$L/recscope" <<WRAP
#!/bin/sh
exec $VG --log-file="$L/cli/%p.log" "$BIN" "\$@"
WRAP
chmod 755 "$L/recscope"
for s in ${MEMCHECK_CLI-cli_test hostile_test}; do
    RECSCOPE_ML100K=$ML_CLI RS_RESULTS= nice sh "$here/$s.sh" "$L/recscope" >"$L/$s.out" 2>&1
    rc=$?
    grep '^not ok' "$L/$s.out" | sed 's/^/    # /'
    tail -1 "$L/$s.out"
    [ $rc -eq 0 ] && pass=$((pass + 1)) || fail=$((fail + 1))
done
bad=0
for f in "$L"/cli/*.log; do
    [ -s "$f" ] || continue
    bad=$((bad + 1))
    [ $bad -le 3 ] && head -40 "$f" | sed 's/^/    # /'
done
n=$(ls "$L"/cli | wc -l)
if [ $bad -eq 0 ]; then
    pass=$((pass + 1))
    echo "ok - memcheck: $n recscope processes clean"
else
    fail=$((fail + 1))
    echo "not ok - memcheck: $bad of $n recscope processes with errors"
fi

[ -n "${RS_RESULTS:-}" ] && echo "$pass $fail memcheck" >>"$RS_RESULTS"
echo "memcheck: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
