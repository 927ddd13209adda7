#!/bin/bash
# The server test, run as root at boot by cbox-test.service on a fresh Debian 12 server: installs
# cbox the way a user would (curl | sh from the host's release), then checks what only a real
# server shows: pure cgroup v2 under systemd, no libc6-dev, limits enforced by the kernel, rootless
# containers with subordinate ids and with systemd's delegation, the bridge, NAT and -p.
# stdout is the results port (see lib.sh); the host reads it (scripts/test-server/tap.ts).
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh" # TEST_URL, TEST_PORT, CBOX_VERSION_LINE, ALPINE_VERSION: written by the host
. "$here/lib.sh"
for file in "$here"/checks/*.sh; do . "$file"; done
export CBOX_ALPINE_MIRROR=$TEST_URL/alpine

echo "# guest: $(uname -m) $(uname -r), up $(cut -d' ' -f1 /proc/uptime) s when the test started"

check "systemd is PID 1 and /sys/fs/cgroup is cgroup v2 only" machine_is_systemd_cgroup2
check "no libc6-dev (no libc.so linker script) and no C compiler" machine_has_no_libc_dev
check "Debian 12 with Debian's 6.1 kernel" machine_is_debian12

check "install.sh as root (curl | sh) installs a verified /usr/local/bin/cbox" install_as_root
check "cbox version prints the release's version" cbox_version
check "cbox pull alpine from the host's mirror" pull_alpine
check "a container runs on a host without libc6-dev" runs_a_container

check "--memory 32m: taking 64 MiB is an OOM kill (exit 137, inspect OOMKilled), 128m is not" memory_limit_kills
check "--pids-limit 10: the 10th process cannot be forked" pids_limit_refuses_forks
check "--cpus 0.5: cpu.max is 50000 100000 and a busy loop gets throttled" cpu_quota_throttles
check "/sys/fs/cgroup inside: read-only cgroup2 rooted at the container's cgroup (memory.max 64m, 0::/); rw with --privileged" cgroupfs_as_root
check "run -d, exec, logs and rm -f" detached_exec_logs_rm
check "cbox runtime run: a bundle of the Alpine image, limits in cgroup v2, cgroup namespace 0::/" runtime_runs_a_bundle_on_cgroup2
check "cbox runtime create, start, exec, pause, resume, update, delete on cgroup v2" runtime_lifecycle_on_cgroup2
check "cbox runtime: blockIO's read throttle for vda is the container's io.max" runtime_block_io_on_cgroup2

check "bridge: eth0 has a 10.88.x address and routes through 10.88.0.1" bridge_address
check "-p 8080:80: the guest reaches busybox httpd in a container; after rm the port is free again" published_port
check "NAT: a container reaches the host's server at 10.0.2.2 through the guest's eth0" nat_to_host

check "tester's systemd user manager runs (lingering) with a bus" tester_user_manager
check "install.sh as tester installs ~/.local/bin/cbox" install_as_tester
check "rootless: uid_map is tester's subordinate range and chown to another id works" rootless_subordinate_ids
check "rootless without a range (plain): only its own id is mapped" rootless_single_id
check "rootless in a delegated scope: --memory 32m kills (137)" rootless_limits_delegated
check "rootless outside a delegated scope: a limit warns and is not applied" rootless_limits_warning
check "rootless /sys/fs/cgroup in a delegated scope: read-only, memory.max is the container's 64m" cgroupfs_rootless_delegated
check "rootless /sys/fs/cgroup outside a scope, and on the host's network: read-only cgroup2, 0::/" cgroupfs_rootless_plain
check "rootless -p 8081:80 through slirp4netns" rootless_published_port

check "cbox info as root: cgroup v2, and --format json parses" info_as_root
check "cbox info as tester: no delegation outside a scope" info_as_tester
check "cbox info as tester in a delegated scope: systemd's delegation" info_as_tester_delegated

check "nothing is left behind: container processes, slirp4netns, cgroups, mounts, veths, ports" nothing_left_behind

finish
