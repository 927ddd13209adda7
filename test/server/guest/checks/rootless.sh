# Ordinary users: tester has a subordinate id range and a lingering systemd user manager; plain has
# neither a range nor cbox of its own (it runs root's /usr/local/bin/cbox).

DD_64M="dd if=/dev/zero of=/dev/null bs=64M count=1"

tester_user_manager() {
	systemctl start "user@$TESTER_UID.service" || fail "systemctl start user@$TESTER_UID.service exited with $?"
	[ -S "/run/user/$TESTER_UID/bus" ] || fail "/run/user/$TESTER_UID/bus is not a socket"
	local own
	own=$(as_tester_delegated cat /proc/self/cgroup) || fail "systemd-run --user --scope exited with $?"
	[[ $own == "0::/user.slice/user-$TESTER_UID.slice/user@$TESTER_UID.service/"*.scope ]] || fail "a delegated scope's cgroup is $own"
}

rootless_subordinate_ids() {
	local out map
	out=$(as_tester cbox pull alpine 2>&1) || fail "cbox pull as $TESTER exited with $?: $(printf '%s' "$out" | tail -n 1)"
	out=$(as_tester cbox run --rm alpine sh -c 'cat /proc/self/uid_map; touch /tmp/f && chown 1234:1234 /tmp/f && stat -c owner=%u:%g /tmp/f' 2>&1) ||
		fail "cbox run as $TESTER exited with $?: $(printf '%s' "$out" | tail -n 1)"
	echo "$out"
	map=$(printf '%s\n' "$out" | grep -v owner= | awk '{ print $1, $2, $3 }' | tr '\n' ';')
	expect_eq "the container's uid_map" "$map" "0 $TESTER_UID 1;1 100000 65536;"
	expect_in "the chowned file" "$out" "owner=1234:1234"
}

rootless_single_id() {
	local out map
	out=$(as_user plain cbox pull alpine 2>&1) || fail "cbox pull as plain exited with $?: $(printf '%s' "$out" | tail -n 1)"
	out=$(as_user plain cbox run --rm alpine sh -c 'cat /proc/self/uid_map; touch /tmp/f; chown 1234 /tmp/f || echo chown refused' 2>&1) ||
		fail "cbox run as plain exited with $?: $(printf '%s' "$out" | tail -n 1)"
	echo "$out"
	map=$(printf '%s\n' "$out" | awk 'NF == 3 { print $1, $2, $3 }' | tr '\n' ';')
	expect_eq "the container's uid_map" "$map" "0 $(id -u plain) 1;"
	expect_in "chown to an unmapped id" "$out" "chown refused"
}

rootless_limits_delegated() {
	local out code
	out=$(as_tester_delegated cbox run --rm --memory 32m alpine $DD_64M 2>&1)
	code=$?
	echo "$out"
	[[ $out != *"limits are not applied"* ]] || fail "cbox warned that limits are not applied inside a delegated scope"
	expect_eq "exit code under --memory 32m in a delegated scope" "$code" 137
}

rootless_limits_warning() {
	local out code own
	own=$(cut -d: -f3 /proc/self/cgroup)
	out=$(as_tester cbox run --rm --memory 32m alpine $DD_64M 2>&1)
	code=$?
	echo "$out"
	expect_eq "exit code (the limit is not applied)" "$code" 0
	printf '%s\n' "$out" | grep -qxF "cbox: warning: limits are not applied: your cgroup $own is not delegated to you; run cbox from a delegated cgroup (systemd-run --user --scope -p Delegate=yes cbox run ...) or as root" ||
		fail "no warning line 'limits are not applied: your cgroup $own is not delegated to you; ...'"
}

rootless_published_port() {
	local body
	as_tester cbox run -d --name web -p 8081:80 alpine sh -c 'mkdir -p /www && echo served rootless >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null ||
		fail "cbox run -d -p 8081:80 as $TESTER exited with $?"
	body=$(retry 30 curl -fsS --max-time 5 http://127.0.0.1:8081/) || fail "http://127.0.0.1:8081/ never answered: $(as_tester cbox logs web 2>&1 | tail -n 2)"
	expect_eq "the page through 127.0.0.1:8081" "$body" "served rootless"
}
