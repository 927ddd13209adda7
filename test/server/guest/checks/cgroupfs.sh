# /sys/fs/cgroup inside containers on pure cgroup v2: cgroup2 mounted in the container's cgroup
# namespace, so its root is the container's own cgroup; read-only, as docker and podman have it.

# The script each check runs inside: the limits, its cgroup, the mount in use, a write.
CGROUPFS_PROBE='cat /sys/fs/cgroup/memory.max 2>&1; cat /proc/self/cgroup
awk '\''$5 == "/sys/fs/cgroup" { top = $6 " " $(NF-2) } END { print "mount", top }'\'' /proc/self/mountinfo
(echo 1 >/sys/fs/cgroup/pids.max) 2>/dev/null && echo written || echo refused'

# expect_cgroupfs OUTPUT [MEMORY_MAX]: what every container shows, read-only cgroup2 on top.
expect_cgroupfs() {
	echo "$1"
	[ -z "${2-}" ] || expect_eq "memory.max inside" "$(printf '%s\n' "$1" | sed -n 1p)" "$2"
	expect_eq "/proc/self/cgroup inside" "$(printf '%s\n' "$1" | sed -n 2p)" "0::/"
	expect_in "the mount on /sys/fs/cgroup" "$1" "mount ro,nosuid,nodev,noexec"
	expect_in "the mount on /sys/fs/cgroup" "$(printf '%s\n' "$1" | grep '^mount ')" " cgroup2"
	expect_in "a write to pids.max" "$1" "refused"
}

cgroupfs_as_root() {
	local out
	out=$(cbox run --rm --memory 64m --pids-limit 50 alpine sh -c "cat /sys/fs/cgroup/pids.max; $CGROUPFS_PROBE" 2>&1) || fail "cbox run exited with $?: $out"
	expect_eq "pids.max inside" "$(printf '%s\n' "$out" | sed -n 1p)" "50"
	expect_cgroupfs "$(printf '%s\n' "$out" | sed 1d)" 67108864
	out=$(cbox run --rm --privileged alpine awk '$5 == "/sys/fs/cgroup" { print $6 }' /proc/self/mountinfo) || fail "cbox run --privileged exited with $?"
	expect_eq "--privileged: the mount's options" "${out%%,*}" "rw"
}

cgroupfs_rootless_delegated() {
	local out
	out=$(as_tester_delegated cbox run --rm --memory 64m alpine sh -c "$CGROUPFS_PROBE" 2>&1) || fail "cbox run as $TESTER exited with $?: $out"
	expect_cgroupfs "$out" 67108864
}

cgroupfs_rootless_plain() {
	local out
	out=$(as_tester cbox run --rm alpine sh -c "$CGROUPFS_PROBE" 2>&1) || fail "cbox run as $TESTER exited with $?: $out"
	expect_cgroupfs "$out"
	out=$(as_tester cbox run --rm --network host alpine sh -c "$CGROUPFS_PROBE" 2>&1) || fail "cbox run --network host as $TESTER exited with $?: $out"
	expect_cgroupfs "$out"
}
