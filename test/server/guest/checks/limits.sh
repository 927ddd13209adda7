# cgroup v2 limits as root: the kernel enforces them.

memory_limit_kills() {
	local code
	cbox run --name mem --memory 32m alpine dd if=/dev/zero of=/dev/null bs=64M count=1
	code=$?
	expect_eq "exit code under --memory 32m" "$code" 137
	cbox inspect mem | jq -e '.[0].State.OOMKilled == true' >/dev/null || fail "cbox inspect mem does not say OOMKilled: $(cbox inspect mem | jq -c '.[0].State')"
	cbox run --rm --memory 128m alpine dd if=/dev/zero of=/dev/null bs=64M count=1 || fail "64 MiB under --memory 128m exited with $?"
}

pids_limit_refuses_forks() {
	local out code last
	# Each `sleep &` is one more process: sh plus 9 sleeps is the limit, the next fork fails.
	out=$(cbox run --rm --pids-limit 10 alpine sh -c 'i=0; while [ $i -lt 30 ]; do sleep 60 & i=$((i + 1)); echo $i; done' 2>&1)
	code=$?
	echo "$out"
	[ "$code" != 0 ] || fail "all 30 processes were forked under --pids-limit 10"
	expect_in "the container's output" "$out" "can't fork"
	last=$(printf '%s\n' "$out" | grep -E '^[0-9]+$' | tail -n 1)
	[ -n "$last" ] && [ "$last" -ge 1 ] && [ "$last" -le 9 ] || fail "$last processes were forked besides sh; expected 1 to 9"
}

cpu_quota_throttles() {
	local cgroup
	cbox run -d --name spin --cpus 0.5 alpine sh -c 'while :; do :; done' >/dev/null || fail "cbox run -d --cpus 0.5 exited with $?"
	cgroup=$(cgroup_of spin)
	[ -d "$cgroup" ] || fail "cbox inspect gives no cgroup folder for the container ('$cgroup')"
	expect_eq "$cgroup/cpu.max" "$(cat "$cgroup/cpu.max")" "50000 100000"
	retry 30 sh -c '[ "$(awk "/^nr_throttled / { print \$2 }" "$1/cpu.stat")" -gt 0 ]' sh "$cgroup" ||
		fail "no throttled period in $cgroup/cpu.stat after 30 s of a busy loop: $(tr '\n' ' ' <"$cgroup/cpu.stat")"
	cat "$cgroup/cpu.stat"
}
