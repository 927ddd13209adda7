# Shared by the guest's checks (bash). Each check is a function run in a subshell with its output
# in a log: it passes when it returns 0, and fails through `fail WHY` (or any non-zero return).
# One line per check on stdout, which is the results port: "ok N - NAME", or "not ok N - NAME: WHY"
# followed by the end of its log as "#" lines. The containers a check leaves are removed after it,
# whatever happened, so a failed check never stops or spoils the next.

LOGS=/run/cbox-test/logs
mkdir -p "$LOGS"
checks=0 passed=0 failed=0

# check NAME FUNCTION [ARG...]
check() {
	local name=$1 log
	shift
	checks=$((checks + 1))
	log=$LOGS/$checks.log
	if ("$@") >"$log" 2>&1 </dev/null; then
		passed=$((passed + 1))
		echo "ok $checks - $name"
	else
		failed=$((failed + 1))
		echo "not ok $checks - $name: $(tail -n 1 "$log")"
		tail -n 25 "$log" | sed 's/^/#   /'
	fi
	remove_containers
}

# The last line a check writes is the reason shown for its failure.
fail() {
	echo "$*"
	exit 1
}

finish() {
	echo "# done $passed $failed"
}

# expect_eq WHAT ACTUAL EXPECTED
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', expected '$3'"
}

# expect_in WHAT TEXT NEEDLE: TEXT has NEEDLE as a fixed string.
expect_in() {
	case $2 in
	*"$3"*) ;;
	*) fail "$1: '$3' not in: $(printf '%s' "$2" | tail -n 3 | tr '\n' '|')" ;;
	esac
}

# The machine's architecture as Debian (dpkg) and the release (cbox-linux-NAME) name it.
case $(uname -m) in
x86_64) DEB_ARCH=amd64 RELEASE_ARCH=x64 ;;
aarch64) DEB_ARCH=arm64 RELEASE_ARCH=arm64 ;;
*) DEB_ARCH="unknown machine $(uname -m)" RELEASE_ARCH="unknown machine $(uname -m)" ;;
esac

TESTER=tester
TESTER_UID=1000
# An ordinary user's environment as a login would give it, without a login (no PAM session:
# the processes stay in this service's cgroup, which is not delegated to anyone).
as_user() {
	local user=$1 uid
	shift
	uid=$(id -u "$user")
	runuser -u "$user" -- env -i HOME="/home/$user" USER="$user" LOGNAME="$user" \
		PATH="/home/$user/.local/bin:/usr/local/bin:/usr/bin:/bin" LANG=C.UTF-8 \
		XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" \
		CBOX_ALPINE_MIRROR="$TEST_URL/alpine" "$@"
}
as_tester() {
	as_user "$TESTER" "$@"
}
# As tester, in a scope of its systemd user manager that delegates its cgroup.
as_tester_delegated() {
	as_tester systemd-run --user --scope --quiet -p Delegate=yes "$@"
}

# Removes every container root and the users have, whatever state a check left them in (cbox
# is asked only where a storage root holds containers: each start of it costs time under TCG).
remove_containers() {
	local ids user
	if has_containers /var/lib/cbox; then
		ids=$(cbox ps -a -q)
		[ -z "$ids" ] || cbox rm -f $ids >/dev/null
	fi
	if [ -n "$(ls -A /run/cbox-runtime 2>/dev/null)" ]; then
		for ids in $(cbox runtime list -q); do cbox runtime delete --force "$ids" >/dev/null; done
	fi
	for user in tester plain; do
		has_containers "/home/$user/.local/share/cbox" || continue
		ids=$(as_user "$user" cbox ps -a -q)
		[ -z "$ids" ] || as_user "$user" cbox rm -f $ids >/dev/null
	done
}

has_containers() {
	[ -n "$(ls -A "$1/containers" 2>/dev/null)" ]
}

# cgroup_of CONTAINER: its cgroup folder, from cbox inspect.
cgroup_of() {
	cbox inspect "$1" | jq -r '.[0].Cgroups[0] // empty'
}

# retry TRIES COMMAND...: runs COMMAND once a second until it succeeds (for servers that start
# in the background); its last output is kept.
retry() {
	local tries=$1 i
	shift
	for i in $(seq "$tries"); do
		"$@" && return 0
		sleep 1
	done
	return 1
}
