# The guest is the server it claims to be.

machine_is_systemd_cgroup2() {
	expect_eq "PID 1" "$(cat /proc/1/comm)" systemd
	expect_eq "/sys/fs/cgroup's file system" "$(stat -f -c %T /sys/fs/cgroup)" cgroup2fs
	local v1
	v1=$(awk '$3 == "cgroup" { print $2 }' /proc/mounts)
	[ -z "$v1" ] || fail "cgroup v1 hierarchies are mounted: $v1"
}

machine_has_no_libc_dev() {
	local libc_so
	libc_so=/usr/lib/$(uname -m)-linux-gnu/libc.so
	[ -d "${libc_so%/libc.so}" ] || fail "${libc_so%/libc.so} (the libc's folder) does not exist"
	[ ! -e "$libc_so" ] || fail "$libc_so exists"
	! dpkg-query -W -f '${Status}' libc6-dev 2>/dev/null | grep -q installed || fail "libc6-dev is installed"
	local cc
	for cc in cc gcc tcc clang; do
		! command -v "$cc" || fail "a C compiler is installed: $cc"
	done
}

machine_is_debian12() {
	local version kernel
	version=$(cat /etc/debian_version)
	kernel=$(uname -r)
	[[ $version == 12.* ]] || fail "/etc/debian_version is $version"
	expect_eq "dpkg's architecture on this $(uname -m) machine" "$(dpkg --print-architecture)" "$DEB_ARCH"
	[[ $kernel == 6.1.*-"$DEB_ARCH" ]] || fail "kernel $kernel is not Debian's 6.1 for $DEB_ARCH"
	dpkg-query -W -f '${Status}' "linux-image-$kernel" | grep -q 'install ok installed' || fail "kernel $kernel is not from linux-image-$kernel"
}
