# Shared helpers for the integration tests: TAP output for `prove`, real
# sandboxes as root, and a leak check after each test file.
# Each test file: `. "$(dirname "$0")/lib.sh"`, then `ok`/`is`/`like` calls, then `done_testing`.
# shellcheck shell=bash

set -u

MOAT=${MOAT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/moat}
HELPERS=${MOAT_TEST_HELPERS:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/tests/helpers}
SRCDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export MOAT_POLICY_DIR=${MOAT_POLICY_DIR:-$SRCDIR/policies}

_tap_n=0
_tap_failed=0
TMP=$(mktemp -d /tmp/moat-test.XXXXXX)
# Sandboxes this file started (names), stopped on exit even when a test fails.
_started=()
# Host-side processes this file started (pids), killed on exit.
_pids=()

# Inside a sandbox the helpers are at /opt/t (bound read-only).
HELPER_BIND=(--bind "$HELPERS:/opt/t")

_cleanup() {
	local n
	for n in "${_pids[@]}"; do
		kill "$n" 2>/dev/null && wait "$n" 2>/dev/null
	done
	for n in "${_started[@]}"; do
		"$MOAT" stop --timeout 2 "$n" >/dev/null 2>&1 || true
		rm -f "/var/log/moat/$n.log" # --detach's log outlives a sandbox, not a test
	done
	"$MOAT" gc >/dev/null 2>&1 || true
	rm -rf "$TMP"
}
trap _cleanup EXIT

ok() { # ok CONDITION-EXIT-STATUS DESCRIPTION
	local status=$1
	shift
	_tap_n=$((_tap_n + 1))
	if [ "$status" -eq 0 ]; then
		echo "ok $_tap_n - $*"
	else
		echo "not ok $_tap_n - $*"
		_tap_failed=$((_tap_failed + 1))
	fi
}

is() { # is GOT EXPECTED DESCRIPTION
	local got=$1 want=$2
	shift 2
	if [ "$got" = "$want" ]; then
		ok 0 "$*"
	else
		ok 1 "$*"
		printf '#   got:      %s\n#   expected: %s\n' "${got//$'\n'/\\n}" "${want//$'\n'/\\n}"
	fi
}

like() { # like GOT EXTENDED-REGEX DESCRIPTION
	local got=$1 re=$2
	shift 2
	if printf '%s' "$got" | grep -Eq -- "$re"; then
		ok 0 "$*"
	else
		ok 1 "$*"
		printf '#   got:      %s\n#   expected match: %s\n' "${got//$'\n'/\\n}" "$re"
	fi
}

skip_all() { # skip_all REASON: a missing prerequisite; a failure under MOAT_MUST_WORK=1 (CI)
	if [ "${MOAT_MUST_WORK:-0}" = 1 ]; then
		echo "1..1"
		echo "not ok 1 - required but unavailable: $*"
		exit 1
	fi
	echo "1..0 # SKIP $*"
	exit 0
}

require_root() {
	[ "$(id -u)" = 0 ] || skip_all "integration tests need root (run 'sudo make check')"
	[ -x "$MOAT" ] || skip_all "no moat binary at $MOAT (run 'make')"
}

# start_peers LOG ARGS...: tests/integration/netserver.py with ARGS (--tcp,
# --sink, --udp ADDR:PORT), logging to LOG; returns once it listens.
start_peers() {
	local log=$1
	shift
	: >"$log"
	python3 "$SRCDIR/tests/integration/netserver.py" "$@" --log "$log" >"$log.out" 2>&1 &
	_pids+=($!)
	for _ in $(seq 50); do grep -qs ready "$log.out" && return 0; sleep 0.1; done
	return 1
}

# msandbox ARGS...: `moat run` with the test helpers bound; stdout+stderr captured by caller.
msandbox() {
	"$MOAT" run "${HELPER_BIND[@]}" "$@"
}

# mdetach NAME ARGS...: start a detached sandbox and remember it for cleanup.
mdetach() {
	local name=$1
	shift
	_started+=("$name")
	"$MOAT" run --detach --name "$name" "${HELPER_BIND[@]}" "$@"
}

# Fails the file if a sandbox left state, mounts, cgroups, veths, address
# leases, map entries, NAT elements or (after gc) BPF pins or cached seccomp
# programs behind.
check_no_leaks() {
	local what="" m
	if [ -d /run/moat ]; then
		what+=$(find /run/moat -mindepth 1 -maxdepth 1 ! -name '*.lock' ! -name .net ! -name .seccomp -printf ' state:%f' 2>/dev/null)
		what+=$(find /run/moat/.net -mindepth 1 -printf ' lease:%f' 2>/dev/null)
	fi
	what+=$(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^mt-/ {printf " veth:%s", $2}')
	for m in /sys/fs/bpf/moat/egress-*/moat_sandboxes /sys/fs/bpf/moat/egress-*/moat_rules; do
		[ -e "$m" ] || continue
		[ "$(bpftool map dump pinned "$m" 2>/dev/null | grep -c '^key\|"key"')" = 0 ] ||
			what+=" entries:${m##*/}"
	done
	if nft list set ip moat nat_sources 2>/dev/null | grep -q 'elements ='; then
		what+=" nat"
	fi
	"$MOAT" gc >/dev/null 2>&1
	[ -e /sys/fs/bpf/moat ] && what+=" pins"
	[ -e /run/moat/.net ] && what+=" lease-dir"
	[ -e /run/moat/.seccomp ] && what+=" seccomp-cache"
	nft list table ip moat >/dev/null 2>&1 && what+=" nat-table"
	if grep -q ' /run/moat' /proc/self/mountinfo; then
		what+=" mounts"
	fi
	what+=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 7 -type d -name 'moat*' -printf ' cgroup:%p' 2>/dev/null | head -c 300)
	is "$what" "" "nothing left behind (state, mounts, cgroups, network, BPF)"
}

done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_failed" -eq 0 ]
}
