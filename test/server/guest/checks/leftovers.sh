# After every container was removed (lib.sh's remove_containers, after each check), cbox has left
# nothing behind on the server, whatever the checks did and however they ended.

nothing_left_behind() {
	local found=""
	local init_pidns p
	init_pidns=$(readlink /proc/1/ns/pid)
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/ns/pid" 2>/dev/null || echo "$init_pidns")" = "$init_pidns" ] ||
			found+="process $(basename "$p") ($(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)) in a container's pid namespace; "
	done
	[ -z "$(pgrep -x slirp4netns)" ] || found+="slirp4netns still runs; "
	local cgroups
	cgroups=$(find /sys/fs/cgroup -type d \( -path '*/cbox/*' -o -name cbox-runtime \) 2>/dev/null)
	[ -z "$cgroups" ] || found+="cgroups: $cgroups; "
	grep -q cbox /proc/self/mountinfo && found+="mounts: $(grep cbox /proc/self/mountinfo | awk '{ print $5 }' | tr '\n' ' '); "
	[ -z "$(ip -o link show type veth)" ] || found+="veth links: $(ip -o link show type veth | cut -d: -f2 | tr '\n' ' '); "
	local published
	published=$(nft list table ip cbox 2>/dev/null | grep -E '\b808[01]\b')
	[ -z "$published" ] || found+="nftables: $published; "
	[ -z "$found" ] || fail "left behind: $found"
}
