#!/bin/sh
# run_fuzz.sh BUILD SECONDS TARGET... - runs each libFuzzer target for
# SECONDS, niced, starting from its committed corpus (new inputs go to
# BUILD/corpus/TARGET, never into the source tree). A crash leaves its input
# in BUILD/artifacts/TARGET/; fix the bug, then commit that input under
# tests/fuzz/corpus/TARGET/ as a regression test. Prints execs per target.
set -u
build=$1
secs=$2
shift 2
here=$(dirname "$0")
status=0
for t in "$@"; do
    work=$build/corpus/$t
    art=$build/artifacts/$t
    mkdir -p "$work" "$art"
    log=$build/fuzz-$t.log
    OPENBLAS_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
        nice -n 10 "$build/fuzz/lf_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        -max_len=200000 -print_final_stats=1 -artifact_prefix="$art/" \
        "$work" "$here/corpus/$t" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    if [ "$rc" -eq 0 ]; then
        echo "fuzz $t: ${execs:-?} execs in ${secs}s, $cov, no crash"
    else
        status=1
        echo "fuzz $t: CRASH after ${execs:-?} execs (exit $rc); see $log and $art/"
        grep -m1 -A12 'ERROR\|runtime error\|deadly signal' "$log" | sed 's/^/    /'
    fi
done
exit $status
