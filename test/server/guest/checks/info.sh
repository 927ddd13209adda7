# cbox info: what the host offers, as root and as an ordinary user with and without delegation.

# info_check JSON NAME: the check NAME of `cbox info --format json`'s output, as one line.
info_check() {
	printf '%s' "$1" | jq -c --arg name "$2" '.checks[] | select(.name == $name)'
}

info_as_root() {
	local text json cgroups
	text=$(cbox info) || fail "cbox info exited with $?"
	echo "$text"
	[[ $text =~ (^|$'\n')ok\ +cgroups\ +v2\ at\ /sys/fs/cgroup ]] || fail "cbox info has no 'ok cgroups v2 at /sys/fs/cgroup' line"
	json=$(cbox info --format json) || fail "cbox info --format json exited with $?"
	printf '%s' "$json" | jq -e '.user.root == true' >/dev/null || fail "cbox info --format json is not JSON, or .user.root is not true: $(printf '%s' "$json" | head -c 200)"
	cgroups=$(info_check "$json" cgroups)
	printf '%s' "$cgroups" | jq -e '.status == "ok" and (.detail | startswith("v2 at /sys/fs/cgroup"))' >/dev/null || fail "the cgroups check: $cgroups"
}

info_as_tester() {
	local json delegation own
	own=$(cut -d: -f3 /proc/self/cgroup)
	as_tester cbox info || fail "cbox info as $TESTER exited with $?"
	json=$(as_tester cbox info --format json) || fail "cbox info --format json as $TESTER exited with $?"
	printf '%s' "$json" | jq -e '.user.root == false' >/dev/null || fail "cbox info --format json is not JSON, or .user.root is not false"
	delegation=$(info_check "$json" "cgroup delegation")
	echo "$delegation"
	printf '%s' "$delegation" | jq -e --arg own "$own" '.status == "missing" and (.detail | contains("your cgroup \($own) is not delegated to you"))' >/dev/null ||
		fail "the cgroup delegation check outside a scope: $delegation"
}

info_as_tester_delegated() {
	local json delegation
	as_tester_delegated cbox info || fail "cbox info in a delegated scope exited with $?"
	json=$(as_tester_delegated cbox info --format json) || fail "cbox info --format json in a delegated scope exited with $?"
	delegation=$(info_check "$json" "cgroup delegation")
	echo "$delegation"
	printf '%s' "$delegation" | jq -e --arg uid "$TESTER_UID" '
		(.status == "ok" or .status == "warn")
		and (.detail | test("^/sys/fs/cgroup/user\\.slice/user-\($uid)\\.slice/user@\($uid)\\.service[/:]"))
		and (.detail | test(": .*\\bmemory\\b")) and (.detail | test(": .*\\bpids\\b"))' >/dev/null ||
		fail "the cgroup delegation check in a delegated scope: $delegation"
}
