#!/bin/sh
# Run libFuzzer targets for a fixed time each, on scratch copies of their seed corpora.
# usage: tests/fuzz/run.sh <dir with the target binaries> <seconds> <target>...
# The seed corpora are in <dir>/corpus/<target>/ (tests/fuzz/mkcorpus.py writes them).
# Prints "fuzz: <target> <N> runs, <N> crashes" per target (plus where the reproducer is) and
# exits 1 if any target crashed. FUZZ_JOBS targets run at a time (default: all of them).
set -u

bindir=$1 secs=$2
shift 2
here=$(dirname "$0")
jobs=${FUZZ_JOBS:-$#}

# One target, in run/<target>/: a fresh copy of its corpus (which libFuzzer adds to), its
# crash inputs, its log and exit status. -timeout: an input running 10 s is a hang, reported
# like a crash. The outer timeout is only a backstop should libFuzzer itself not stop.
fuzz_one() {
    t=$1 dir=$bindir/run/$1
    rm -rf "$dir"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp -R "$bindir/corpus/$t/." "$dir/corpus/"
    set -- -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/"
    [ -f "$here/$t.dict" ] && set -- "$@" -dict="$here/$t.dict"
    timeout -k 10 $((secs + 120)) "$bindir/$t" "$@" "$dir/corpus" </dev/null >"$dir/log" 2>&1
    echo $? >"$dir/status"
}

# "Done N runs" when it ran its time out; after a crash, the final stats or the last status line.
runs_of() {
    log=$1
    n=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n 1)
    [ -n "$n" ] ||
        n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    [ -n "$n" ] || n=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    echo "${n:-0}"
}

report() {
    t=$1 dir=$bindir/run/$1
    status=$(cat "$dir/status")
    crashes=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' \
        -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
    [ "$status" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1 # died without saving an input
    echo "fuzz: $t $(runs_of "$dir/log") runs, $crashes crashes"
    [ "$crashes" -eq 0 ] && return 0
    grep -m 3 -E '^(SUMMARY|fuzz: .*invariant broken|==[0-9]+==ERROR)' "$dir/log" |
        sed 's/^fuzz: //; s/^/fuzz:   /'
    for a in "$dir"/artifacts/*; do
        [ -f "$a" ] || continue
        echo "fuzz:   reproduce: $bindir/$t $a"
        echo "fuzz:   minimize:  $bindir/$t -minimize_crash=1 -runs=100000 $a"
    done
    echo "fuzz:   log: $dir/log (exit status $status)"
    return 1
}

failed=0 running=0
for t in "$@"; do
    fuzz_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$jobs" ]; then
        wait
        running=0
    fi
done
wait
for t in "$@"; do
    report "$t" || failed=1
done
exit $failed
