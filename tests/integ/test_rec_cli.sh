#!/bin/sh
# rrload record on bad input: one line naming the file, exit 2; what came before a truncation
# is stored; a good file stores its exchanges and the meta the summary goes to.
set -u
R="$RRLOAD"
D=$(mktemp -d)
trap 'rm -rf "$D"' EXIT
SEEDS="$RR_SOURCE_ROOT/tests/data/fuzz/pcap"
fail=0

expect2() { # name, then the command
    name=$1; shift
    "$@" >"$D/out" 2>"$D/err"
    rc=$?
    if [ $rc -ne 2 ]; then echo "FAIL $name: exit $rc, want 2"; cat "$D/err"; fail=1; return; fi
    lines=$(wc -l <"$D/err")
    if [ "$lines" -lt 1 ]; then echo "FAIL $name: no message"; fail=1; return; fi
    echo "ok $name: $(head -1 "$D/err")"
}

expect2 missing "$R" record -q -r "$D/nope.pcap" -o "$D/a.db"
printf 'this is not a capture\n' >"$D/text.pcap"
expect2 not-a-capture "$R" record -q -r "$D/text.pcap" -o "$D/b.db"
[ -e "$D/b.db" ] && { echo "FAIL not-a-capture: a store was created"; fail=1; }
# a pcap header with link type 147 (USER0)
printf '\324\303\262\241\002\000\004\000\000\000\000\000\000\000\000\000\377\377\000\000\223\000\000\000' >"$D/user0.pcap"
expect2 linktype "$R" record -q -r "$D/user0.pcap" -o "$D/c.db"
grep -q "link type" "$D/err" || { echo "FAIL linktype: message does not say link type"; fail=1; }
expect2 usage "$R" record -q -o "$D/d.db"

expect2 truncated "$R" record -q -r "$SEEDS/truncated.pcap" -o "$D/t.db"
grep -q "truncated.pcap" "$D/err" && grep -q "packet 3" "$D/err" ||
    { echo "FAIL truncated: message does not name the file and the packet"; fail=1; }
n=$("$R" show "$D/t.db" exchanges --json | grep -c '"method":"GET"')
[ "$n" -eq 1 ] || { echo "FAIL truncated: $n exchanges stored before the damage, want 1"; fail=1; }

"$R" record -r "$SEEDS/vlan.pcap" -o "$D/g.db" 2>"$D/err" || { echo "FAIL good file"; fail=1; }
grep -q "^exchanges: 2 " "$D/err" || { echo "FAIL good file summary"; cat "$D/err"; fail=1; }
"$R" show "$D/g.db" meta >"$D/meta" 2>&1
for k in recorded_by source record_summary; do
    grep -q "$k" "$D/meta" || { echo "FAIL meta has no $k"; cat "$D/meta"; fail=1; }
done
# --max-exchanges stops the recording and commits what came before
"$R" record -q -r "$SEEDS/eth.pcap" --max-exchanges 1 -o "$D/m.db" || { echo "FAIL max-exchanges exit"; fail=1; }
n=$("$R" show "$D/m.db" exchanges --json | grep -c '"id"')
[ "$n" -eq 1 ] || { echo "FAIL max-exchanges: $n stored, want 1"; fail=1; }
# packets cut by the snaplen: the exchanges say so
"$R" record -q -r "$SEEDS/raw-snaplen.pcap" -o "$D/s.db" || { echo "FAIL snaplen exit"; fail=1; }
"$R" show "$D/s.db" exchanges --json | grep -q '"truncated"' ||
    { echo "FAIL snaplen: no exchange flagged truncated"; fail=1; }
# the bundled samples: every exchange of the table in samples/README.md, none incomplete
for pair in features-h1:18 lookups:60 mix-123:125 shop-h1:111 shop-h2c:40; do
    f=${pair%%:*}; want=${pair##*:}
    [ -f "$RR_SOURCE_ROOT/samples/$f.pcap" ] || continue
    "$R" record -r "$RR_SOURCE_ROOT/samples/$f.pcap" -o "$D/$f.db" 2>"$D/err"
    grep -q "^exchanges: $want (incomplete 0," "$D/err" ||
        { echo "FAIL sample $f: want $want complete exchanges"; head -1 "$D/err"; fail=1; }
done
exit $fail
