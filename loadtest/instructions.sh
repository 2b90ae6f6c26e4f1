#!/bin/bash
# Instructions per customer message: the regression guard of the message path (issue
# 21), a count rather than a time, so it compares across days on this noisy machine.
#   loadtest/instructions.sh [--record] [BINARY ...]
# Runs benches/message_path.rs (built with `cargo bench --bench message_path --no-run`
# when no BINARY is given) under valgrind's callgrind: once with no message (the
# engine's start: the admin password's argon2 hash, the store, the actors) and once
# with $MESSAGES messages (default 2000), three times each, and prints the median of
# (with - without) / MESSAGES for each binary: instructions per message.
# Compares the first binary's figure with loadtest/instructions.recorded and prints
# the change; --record writes it there (with the commit) instead. Run-to-run spread
# is about 2% (threads interleave differently under callgrind); a change beyond 3% is
# worth a look. Needs valgrind (apt-get install valgrind). Run from the repository
# root; nothing else should be running.
set -eu
record=0
if [ "${1:-}" = "--record" ]; then record=1; shift; fi
messages=${MESSAGES:-2000}
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
  bin=$(cargo bench --bench message_path --no-run --message-format=json 2>/dev/null |
    python3 -c 'import json,sys
for l in sys.stdin:
    m = json.loads(l)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "message_path" and m.get("executable"):
        print(m["executable"])')
  bins=("$bin")
fi
out=$(mktemp -d)
count() { # binary messages -> total instructions
  SB_MESSAGES=$2 valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$1" > /dev/null 2>&1
  awk '/^summary:/{print $2}' "$out/cg"
  rm -f "$out"/cg*
}
median() { sort -n | sed -n 2p; }
first=""
for bin in "${bins[@]}"; do
  per=$(for i in 1 2 3; do
    base=$(count "$bin" 0)
    total=$(count "$bin" "$messages")
    echo $(( (total - base) / messages ))
  done | median)
  echo "$bin instructions_per_message=$per messages=$messages"
  [ -z "$first" ] && first=$per
done
rm -rf "$out"
recorded=loadtest/instructions.recorded
if [ $record = 1 ]; then
  echo "$first $(git rev-parse --short HEAD) $(date -u +%F)" > $recorded
  echo "recorded in $recorded"
elif [ -f $recorded ]; then
  read -r was commit day < $recorded
  python3 -c "import sys; was, now = int(sys.argv[1]), int(sys.argv[2]); print(f'recorded {was} at {sys.argv[3]} ({sys.argv[4]}); now {now}: {100 * (now - was) / was:+.1f}%')" \
    "$was" "$first" "$commit" "$day"
fi
