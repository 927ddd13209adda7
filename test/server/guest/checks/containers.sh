# Images and containers as root.

pull_alpine() {
	cbox pull alpine --mirror "$TEST_URL/alpine" || fail "cbox pull alpine exited with $?"
	local images
	images=$(cbox images) || fail "cbox images exited with $?"
	echo "$images"
	expect_in "cbox images" "$images" "alpine"
}

runs_a_container() {
	local out
	out=$(cbox run --rm alpine cat /etc/alpine-release) || fail "cbox run exited with $?: $out"
	expect_eq "/etc/alpine-release in the container" "$out" "$ALPINE_VERSION"
}

detached_exec_logs_rm() {
	local id out
	id=$(cbox run -d --name sleeper alpine sh -c 'echo started; exec sleep 600') || fail "cbox run -d exited with $?"
	[[ $id =~ ^[0-9a-f]{12,64}$ ]] || fail "cbox run -d printed '$id', not a container id"
	expect_eq "cbox exec" "$(cbox exec sleeper cat /etc/alpine-release)" "$ALPINE_VERSION"
	retry 10 sh -c 'cbox logs sleeper | grep -qx started' || fail "cbox logs sleeper: $(cbox logs sleeper 2>&1)"
	expect_in "cbox ps" "$(cbox ps)" "${id:0:12}"
	cbox rm -f sleeper || fail "cbox rm -f exited with $?"
	out=$(cbox ps -a -q)
	[[ $out != *"${id:0:12}"* ]] || fail "cbox ps -a still lists ${id:0:12} after rm -f"
}
