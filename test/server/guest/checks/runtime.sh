# cbox as an OCI runtime (cbox runtime ...) on the server's cgroup v2 under systemd: a bundle
# from the pulled Alpine image, limits written into cgroup v2, create/start/exec/pause/delete.

# make_bundle DIR ARGS_JSON [RESOURCES_JSON]: a copy of the Alpine image's root and a config.json
# that runs ARGS_JSON (with memory and pids limits, unless other resources are given).
make_bundle() {
	local dir=$1 args=$2 resources=${3:-'{ "memory": { "limit": 33554432 }, "pids": { "limit": 20 }, "devices": [{ "allow": false, "access": "rwm" }] }'} id
	id=$(cbox image inspect alpine | jq -r '.[0].Id') || fail "cbox image inspect alpine exited with $?"
	rm -rf "$dir" && mkdir -p "$dir/rootfs" || fail "cannot make $dir"
	cp -a "/var/lib/cbox/images/${id#sha256:}/rootfs/." "$dir/rootfs/" || fail "cannot copy the image's root from /var/lib/cbox/images/${id#sha256:}/rootfs"
	cat >"$dir/config.json" <<JSON
{
  "ociVersion": "1.0.2",
  "process": { "user": { "uid": 0, "gid": 0 }, "args": $args, "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"], "cwd": "/",
    "capabilities": { "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] }, "noNewPrivileges": true },
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "oci",
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "mode=755"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"] }
  ],
  "linux": {
    "namespaces": [{ "type": "pid" }, { "type": "mount" }, { "type": "ipc" }, { "type": "uts" }, { "type": "network" }, { "type": "cgroup" }],
    "resources": $resources,
    "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]
  }
}
JSON
}

runtime_runs_a_bundle_on_cgroup2() {
	local out
	make_bundle /tmp/oci-run '["sh", "-c", "hostname; cat /etc/alpine-release; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; cat /proc/self/cgroup"]'
	out=$(cbox runtime run --bundle /tmp/oci-run oci-run 2>&1) || fail "cbox runtime run exited with $?: $out"
	echo "$out"
	expect_eq "the container's hostname, release, limits and cgroup" "$out" "$(printf 'oci\n%s\n33554432\n20\n0::/' "$ALPINE_VERSION")"
	[ ! -d /sys/fs/cgroup/cbox-runtime/oci-run ] || fail "the container's cgroup is still there after run"
}

runtime_lifecycle_on_cgroup2() {
	local pid out
	make_bundle /tmp/oci-life '["sleep", "600"]'
	cbox runtime create --bundle /tmp/oci-life --pid-file /tmp/oci-life/pid life >/dev/null 2>&1 || fail "cbox runtime create exited with $?"
	pid=$(cat /tmp/oci-life/pid)
	expect_eq "state after create" "$(cbox runtime state life | jq -r .status)" "created"
	grep -qx "0::/cbox-runtime/life" "/proc/$pid/cgroup" || fail "the created process is not in cbox-runtime/life: $(cat "/proc/$pid/cgroup")"
	cbox runtime start life || fail "cbox runtime start exited with $?"
	expect_eq "state after start" "$(cbox runtime state life | jq -r .status)" "running"
	out=$(cbox runtime exec life cat /proc/1/cmdline | tr '\0' ' ') || fail "cbox runtime exec exited with $?"
	expect_eq "PID 1 seen by exec" "$out" "sleep 600 "
	cbox runtime pause life || fail "cbox runtime pause exited with $?"
	expect_eq "state after pause (cgroup.freeze)" "$(cbox runtime state life | jq -r .status)" "paused"
	cbox runtime resume life || fail "cbox runtime resume exited with $?"
	cbox runtime update --pids-limit 7 life || fail "cbox runtime update exited with $?"
	expect_eq "pids.max after update" "$(cat /sys/fs/cgroup/cbox-runtime/life/pids.max)" "7"
	cbox runtime delete --force life || fail "cbox runtime delete --force exited with $?"
	[ ! -e "/proc/$pid" ] || retry 5 sh -c '! [ -e "/proc/$1" ]' sh "$pid" || fail "the container's process $pid still runs after delete"
	[ ! -d /sys/fs/cgroup/cbox-runtime ] || fail "/sys/fs/cgroup/cbox-runtime is still there after its last container"
}

runtime_block_io_on_cgroup2() {
	local dev out
	dev=$(cat /sys/block/vda/dev) || fail "no /sys/block/vda/dev"
	make_bundle /tmp/oci-io '["cat", "/sys/fs/cgroup/io.max"]' \
		"{ \"blockIO\": { \"throttleReadBpsDevice\": [{ \"major\": ${dev%:*}, \"minor\": ${dev#*:}, \"rate\": 1048576 }] } }"
	out=$(cbox runtime run --bundle /tmp/oci-io oci-io 2>&1) || fail "cbox runtime run exited with $?: $out"
	expect_eq "io.max in the container's cgroup" "$out" "$dev rbps=1048576 wbps=max riops=max wiops=max"
}
