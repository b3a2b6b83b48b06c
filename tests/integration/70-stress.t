#!/bin/bash
# A short run of tests/stress/stress.sh (`make stress` runs it in full): the
# supervisor killed at every 7th system call of a warm launch of two tiers
# and at every 70th of a cold one, each followed by moat gc and a check that
# nothing is left; launches at once; races of launches of one name.
. "$(dirname "$0")/lib.sh"
require_root
command -v strace >/dev/null || skip_all "strace is not installed (run 'make deps')"

MOAT="$MOAT" "$SRCDIR/tests/stress/stress.sh" --tiers "public internal" --step 7 --cold-step 70 \
	--concurrent 12 --races 3 --racers 6 </dev/null >"$TMP/out" 2>&1
code=$?
cat "$TMP/out"
is "$code" 0 "the short stress run held: no crash point left anything, every race had one winner"
like "$(grep '^# crash points' "$TMP/out")" "[1-9][0-9]* swept .* 0 left something behind" \
	"crash points were swept"
check_no_leaks
done_testing
