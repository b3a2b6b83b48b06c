#!/bin/bash
# The command line's contract beyond moat run's launch: untrusted text in
# messages is escaped (one line, no control bytes), help for every command,
# exit codes of bad names, policy values that could never launch (pids),
# bind paths with a trailing slash, and what make install puts where.
. "$(dirname "$0")/lib.sh"
require_root

# A name, path or value as an attacker or a typo would pass it: a newline
# (a second, forged line) and an ESC sequence (terminal control).
BAD=$'x\nmoat: forged\x1b[2J'
BAD_ESC='x\\nmoat: forged\\x1b\[2J'

# mrun ARGS...: moat run under a name of this file's, whose audit log
# cli_cleanup removes (moat keeps every sandbox's log).
_runs=0
mrun() {
	_runs=$((_runs + 1))
	"$MOAT" run --name "cli-$_runs-$$" "$@"
}
cli_cleanup() {
	rm -f /var/log/moat/cli-*-$$.jsonl /var/log/moat/cli-*-$$.log
}

# one_clean_line FILE DESCRIPTION: FILE is exactly one line, and no byte of it
# but its final newline is a control character.
one_clean_line() {
	local file=$1
	shift
	is "$(wc -l <"$file")" 1 "$*: one line"
	is "$(tail -c 1 "$file" | od -An -c | tr -d ' ')" '\n' "$*: ends with its newline"
	if head -c -1 "$file" | LC_ALL=C grep -q '[[:cntrl:]]'; then
		ok 1 "$*: no raw control byte"
		sed 's/^/#   /' "$file" | cat -v
	else
		ok 0 "$*: no raw control byte"
	fi
}

# --- escaping in error lines ------------------------------------------------------------
"$MOAT" run --name "$BAD" -- /bin/true 2>"$TMP/err"
is "$?" 125 "run with a bad name: 125"
one_clean_line "$TMP/err" "run --name with a newline and an ESC"
like "$(cat "$TMP/err")" "^moat: run: invalid name \"$BAD_ESC\"" "the name is shown escaped"

for cmd in stop status events; do
	"$MOAT" $cmd "$BAD" 2>"$TMP/err"
	one_clean_line "$TMP/err" "$cmd with a newline and an ESC in the name"
	like "$(cat "$TMP/err")" "^moat: $cmd: .*\"$BAD_ESC\"" "$cmd shows the name escaped"
done
"$MOAT" events --follow "$BAD" 2>"$TMP/err"
one_clean_line "$TMP/err" "events --follow with a bad name"

"$MOAT" "$BAD" 2>"$TMP/err"
one_clean_line "$TMP/err" "an unknown command"
"$MOAT" status "--$BAD" 2>"$TMP/err"
one_clean_line "$TMP/err" "an unknown option"

# Paths and values from the user, in messages made deep in the library.
mrun --policy "$TMP/$BAD.ini" -- /bin/true 2>"$TMP/err"
is "$?" 125 "a policy file that does not exist: 125"
one_clean_line "$TMP/err" "run --policy with a newline in the path"
like "$(cat "$TMP/err")" "$BAD_ESC" "the path is shown escaped"
mrun --bind "/no/such/$BAD:/x" -- /bin/true 2>"$TMP/err"
one_clean_line "$TMP/err" "a bind source with a newline"
mrun --env "$BAD" -- /bin/true 2>"$TMP/err"
one_clean_line "$TMP/err" "an --env with a newline"
"$MOAT" metrics --listen "$BAD" 2>"$TMP/err"
one_clean_line "$TMP/err" "metrics --listen with a newline"
printf '[sandbox]\nbogus = 1\n' >"$TMP/$BAD.ini"
"$MOAT" policy check "$TMP/$BAD.ini" 2>"$TMP/err"
is "$?" 1 "policy check of a bad file: 1"
one_clean_line "$TMP/err" "policy check's FILE:LINE: line for a path with a newline"
like "$(cat "$TMP/err")" "$BAD_ESC\\.ini:2: " "policy check shows the path escaped"
printf '[sandbox]\n' >"$TMP/$BAD.ini"
"$MOAT" policy check "$TMP/$BAD.ini" >"$TMP/out"
one_clean_line "$TMP/out" "policy check's FILE: ok line"

# --- help --------------------------------------------------------------------------------
# Every command and sub-subcommand: its own usage on stdout, nothing on
# stderr, exit 0; moat help CMD prints the same.
for cmd in run stop ls status top metrics events gc policy "policy check" "policy show"; do
	for opt in --help -h; do
		"$MOAT" $cmd $opt >"$TMP/out" 2>"$TMP/err"
		is "$?:$(cat "$TMP/err")" "0:" "moat $cmd $opt: exit 0, nothing on stderr"
		like "$(head -1 "$TMP/out")" "^Usage: moat $cmd( |$)" "moat $cmd $opt: its usage on stdout"
	done
	"$MOAT" help $cmd >"$TMP/help" 2>"$TMP/err"
	is "$?:$(cat "$TMP/err")" "0:" "moat help $cmd: exit 0"
	cmp -s "$TMP/help" "$TMP/out"
	ok $? "moat help $cmd prints what moat $cmd --help does"
done
"$MOAT" policy --help >"$TMP/parent"
for sub in check show; do
	"$MOAT" policy $sub --help | grep -q "^Usage: moat policy $sub " && ! "$MOAT" policy $sub --help | cmp -s - "$TMP/parent"
	ok $? "policy $sub --help is its own usage, not policy's"
done
"$MOAT" help >"$TMP/out"
like "$(head -1 "$TMP/out")" "^Usage: moat COMMAND" "moat help alone: the summary"
"$MOAT" help no-such-command 2>"$TMP/err"
is "$?" 2 "moat help of an unknown command: 2"
one_clean_line "$TMP/err" "moat help of an unknown command"
"$MOAT" policy check -x 2>"$TMP/err"
is "$?:$(cat "$TMP/err")" "2:moat: policy check: unknown option -x" "policy check -x: bad usage"
"$MOAT" policy check -- --help 2>"$TMP/err"
is "$?" 1 "policy check -- --help checks a file named --help"
like "$(cat "$TMP/err")" "--help" "and says it cannot read it"
"$MOAT" policy show --tier internal "$TMP/x.ini" 2>"$TMP/err"
is "$?" 2 "policy show with --tier and a FILE: bad usage"
"$MOAT" policy show -t internal | grep -q '^mode = veth'
ok $? "policy show -t TIER shows the tier"

# --- exit codes ----------------------------------------------------------------------------
# A malformed name is bad usage (2) for every command that takes one; a valid
# name of no sandbox is 3.
for cmd in stop status events; do
	for bad in "$BAD" "../x" "a/b" "" "-" ".hidden"; do
		"$MOAT" $cmd -- "$bad" >/dev/null 2>&1
		is "$?" 2 "$cmd $(printf '%q' "$bad"): malformed name, exit 2"
	done
	"$MOAT" $cmd "cli-none-$$" >/dev/null 2>&1
	is "$?" 3 "$cmd of a valid name no sandbox has: exit 3"
done

# --- policy values that could never launch -------------------------------------------------
printf '[resources]\npids = 1\n' >"$TMP/pids1.ini"
err=$("$MOAT" policy check "$TMP/pids1.ini" 2>&1)
is "$?" 1 "policy check refuses pids = 1"
like "$err" "pids1.ini:2: pids: below 2, the fewest" "the message names the key and the minimum"
err=$(mrun --pids 1 -- /bin/true 2>&1)
is "$?" 125 "run --pids 1: 125, before anything starts"
like "$err" "^moat: run: pids: below 2" "run says why in one line"
mrun --pids 2 -- /bin/true
is "$?" 0 "pids = 2 is enough for moat-init and the command"
mrun --tier internal --pids 2 -- /bin/true
is "$?" 0 "pids = 2 is enough on a veth tier too"

# --- bind paths with a trailing slash ------------------------------------------------------
mkdir -p "$TMP/srv/x" "$TMP/srv/y"
echo in-x >"$TMP/srv/x/file"
out=$(mrun --bind "$TMP/srv/x/:/opt/x" -- /bin/cat /opt/x/file 2>&1)
is "$?:$out" "0:in-x" "--bind SRC/:DST binds SRC"
out=$(mrun --bind "$TMP/srv/x//:/opt/x/" -- /bin/cat /opt/x/file 2>&1)
is "$?:$out" "0:in-x" "--bind SRC//:DST/ binds SRC on DST"
printf '[filesystem]\nro = %s/srv/x/\n' "$TMP" >"$TMP/slash.ini"
out=$("$MOAT" policy show "$TMP/slash.ini" | grep "^ro = ")
is "$out" "ro = $TMP/srv/x" "a policy's ro = SRC/ is SRC"
out=$(mrun --policy "$TMP/slash.ini" -- /bin/cat "$TMP/srv/x/file" 2>&1)
is "$?:$out" "0:in-x" "and binds it"
err=$(mrun --bind "$TMP/srv/x:/opt/x" --bind "$TMP/srv/y:/opt/x/" -- /bin/true 2>&1)
is "$?" 125 "DST and DST/ are the same place"
like "$err" "two binds on \"/opt/x\"" "and the clash is named"

# What a sandbox says about itself, on stdout: its command line, in status and events.
name=cli-esc-$$
mdetach "$name" -- /bin/sh -c 'exec sleep 1000' "$BAD" >/dev/null 2>&1
"$MOAT" status "$name" >"$TMP/out" 2>&1
grep '^  command' "$TMP/out" >"$TMP/line"
one_clean_line "$TMP/line" "status shows an argument with a newline and an ESC"
like "$(cat "$TMP/line")" "$BAD_ESC" "status shows the argument escaped"
"$MOAT" events "$name" | grep ' start ' >"$TMP/line"
one_clean_line "$TMP/line" "events shows an argument with a newline and an ESC"
"$MOAT" stop --timeout 1 "$name" >/dev/null 2>&1
rm -f "/var/log/moat/$name.jsonl" "/var/log/moat/$name.log"

# --- make install PREFIX=/usr after a plain make --------------------------------------------
# The objects of the plain make were compiled with /usr/local's policy
# directory: install must rebuild them, not install a binary that looks there.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make --no-print-directory -C "$SRCDIR" O="$TMP/build" "$@"; }
mk -j2 >"$TMP/make.log" 2>&1
ok $? "a plain make into a fresh build directory"
grep -aq /usr/local/share/moat/policies "$TMP/build/moat"
ok $? "its moat looks for policies under /usr/local"
mk install PREFIX=/usr DESTDIR="$TMP/root" >>"$TMP/make.log" 2>&1
ok $? "then make install PREFIX=/usr DESTDIR=..."
installed=$TMP/root/usr/bin/moat
is "$(grep -ac /usr/local/share/moat "$installed")" 0 "the installed moat has no /usr/local path in it"
is "$(grep -aoc /usr/share/moat/policies "$installed")" 1 "it looks for policies under /usr/share/moat"
# Run it with the DESTDIR tree where the install will put it, in a mount
# namespace of its own, without MOAT_POLICY_DIR: it must find its tiers.
out=$(env -u MOAT_POLICY_DIR unshare -m sh -c 'mount -t tmpfs tmpfs /usr/share &&
	mkdir /usr/share/moat && mount --bind "$1" /usr/share/moat && exec "$2" policy show -t internal' \
	_ "$TMP/root/usr/share/moat" "$installed" 2>&1)
is "$?" 0 "the installed moat finds its policies where make install put them"
like "$out" "^mode = veth" "and reads the internal tier from there"
mk install PREFIX=/usr DESTDIR="$TMP/root" >"$TMP/make2.log" 2>&1
is "$(grep -c '  CC ' "$TMP/make2.log")" 0 "installing again with the same PREFIX rebuilds nothing"

cli_cleanup
check_no_leaks
done_testing
