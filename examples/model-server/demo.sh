#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-or-later
#
# The example model server inside a moat sandbox, queried from the host.
#
#   make demo                      # or, as root from the repository root:
#   MOAT=build/moat examples/model-server/demo.sh
#
# The server gets this directory read-only at /opt/model and one writable
# directory, /run/model, for its unix socket; it has no network but
# loopback, runs as uid 65534 with no capabilities, and answers the host
# through the socket alone. Everything it starts is stopped and removed on
# exit, on failure and on Ctrl-C.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
MOAT=${MOAT:-$repo/build/moat}
python=/usr/bin/python3
sandbox_uid=65534 # moat's default user; the socket directory must be its
name=moat-demo-$$
wait_s=10
sentences=(
	"I love this phone, the camera is amazing"
	"The battery died after two days and support never answered"
	"Not bad, actually pretty decent"
)

sockdir=
started=0

step() { printf '\n==> %s\n' "$*"; }
die() {
	echo "demo: $*" >&2
	exit 1
}

show_log() {
	local log=/var/log/moat/$name.log
	if [[ -s $log ]]; then
		echo "--- last lines of $log:" >&2
		tail -n 20 "$log" | sed 's/^/    /' >&2
	fi
}

# shellcheck disable=SC2317 # called by the traps
cleanup() {
	local rc=$?
	if ((started)); then
		[[ $rc -eq 0 ]] || show_log
		"$MOAT" stop "$name" --timeout 5 >/dev/null 2>&1 || true
	fi
	[[ -z $sockdir ]] || rm -rf "$sockdir"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[[ $(id -u) -eq 0 ]] || die "run as root: moat creates namespaces and cgroups"
[[ -x $MOAT ]] || die "$MOAT missing or not executable: run 'make' first (or set MOAT)"
[[ -x $python ]] || die "$python missing: apt-get install python3"

client() { "$python" "$here/client.py" --unix "$sockdir/model.sock" "$@"; }

step "A directory for the server's socket"
# Owned by the sandbox's user so that it can create the socket, and by no
# one else: root on the host needs no permission bits to connect.
sockdir=$(mktemp -d /tmp/moat-demo.XXXXXX)
chown "$sandbox_uid:$sandbox_uid" "$sockdir"
chmod 0700 "$sockdir"
echo "    $sockdir (uid $sandbox_uid, mode 0700), seen inside as /run/model"

step "Starting the model server in sandbox $name"
cmd=("$MOAT" run --detach --name "$name"
	--bind "$here:/opt/model"
	--bind "$sockdir:/run/model:rw"
	-- "$python" /opt/model/server.py --unix /run/model/model.sock)
printf '    %s\n' "${cmd[*]#"$repo/"}"
started=1 # from here on, cleanup stops it, even if run fails half-way
out=$("${cmd[@]}") || die "moat run failed (exit status $?)"
echo "    started: $out"

printf '    waiting for /healthz (up to %d s) ' "$wait_s"
t0=$(date +%s%N)
deadline=$((t0 + wait_s * 1000000000))
until client --health --timeout 1 >/dev/null 2>&1; do
	if (($(date +%s%N) > deadline)); then
		echo
		die "no answer on $sockdir/model.sock after $wait_s s"
	fi
	# Fail fast when the server is gone rather than wait out the clock.
	if listing=$("$MOAT" ls 2>/dev/null) && ! grep -qwF -- "$name" <<<"$listing"; then
		echo
		die "sandbox $name exited before answering"
	fi
	printf .
	sleep 0.2
done
printf ' ready after %d ms\n' $((($(date +%s%N) - t0) / 1000000))

step "The model, from GET /v1/model"
client --model | sed 's/^/    /'

step "Classifying from the host, over the unix socket"
client "${sentences[@]}" | sed 's/^/    /'

step "moat ls"
"$MOAT" ls | sed 's/^/    /'

step "Stopping $name"
"$MOAT" stop "$name" --timeout 5
started=0
if "$MOAT" ls | grep -qwF -- "$name"; then
	die "'moat stop $name' returned but 'moat ls' still lists it"
fi
# The server unlinks its socket on SIGTERM: a leftover means that it was
# killed without one.
if [[ -e $sockdir/model.sock ]]; then
	echo "    stopped, but its socket is left: the server was killed without a SIGTERM first"
else
	echo "    stopped; the server shut down cleanly and removed its socket"
fi
echo "    its output is in /var/log/moat/$name.log"
rm -rf "$sockdir"
sockdir=

step "moat gc"
# The BPF programs sandboxes share stay pinned between launches, so the next
# one starts fast; with no sandbox left running, gc removes them.
"$MOAT" gc | sed 's/^/    /'

step "Done"
