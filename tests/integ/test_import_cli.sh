#!/bin/sh
# rrload import: a good HAR is stored and counted; bad ones give one line and exit 2.
set -u
: "${RRLOAD:?}" "${RR_SOURCE_ROOT:?}"
data="$RR_SOURCE_ROOT/tests/data/har"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # name expected-status command...
    name=$1; want=$2; shift 2
    "$@" >"$tmp/out" 2>"$tmp/err"
    got=$?
    if [ "$got" != "$want" ]; then
        echo "FAIL $name: exit $got, wanted $want"; cat "$tmp/out" "$tmp/err"; fails=$((fails + 1))
    else
        echo "ok $name"
    fi
}

check "import small.har" 0 "$RRLOAD" import "$data/small.har" -o "$tmp/s.db"
grep -q "4 exchanges, 3 connections, 2 entries skipped" "$tmp/out" || { echo "FAIL summary: $(cat "$tmp/out")"; fails=$((fails + 1)); }

check "bad JSON" 2 "$RRLOAD" import "$data/bad-json.har" -o "$tmp/b.db"
[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "bad-json.har: line 3 column" "$tmp/err" ||
    { echo "FAIL bad JSON message: $(cat "$tmp/err")"; fails=$((fails + 1)); }

check "missing url" 2 "$RRLOAD" import "$data/bad-missing-url.har" -o "$tmp/b.db"
grep -q "bad-missing-url.har: entry 1: missing request.url" "$tmp/err" ||
    { echo "FAIL missing url message: $(cat "$tmp/err")"; fails=$((fails + 1)); }

check "missing file" 2 "$RRLOAD" import "$tmp/nope.har" -o "$tmp/b.db"
grep -q "nope.har" "$tmp/err" || { echo "FAIL missing file message"; fails=$((fails + 1)); }

check "no file given" 2 "$RRLOAD" import
check "help" 0 "$RRLOAD" import --help

[ "$fails" -eq 0 ]
