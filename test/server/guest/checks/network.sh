# root's bridge network: cbox0, NAT out through the guest's eth0, published ports.

bridge_address() {
	local out
	out=$(cbox run --rm alpine sh -c 'ip -4 addr show dev eth0; ip route') || fail "cbox run exited with $?: $out"
	echo "$out"
	[[ $out =~ inet\ 10\.88\.[0-9]+\.[0-9]+/16 ]] || fail "eth0 has no 10.88.x.x/16 address"
	expect_in "the container's routes" "$out" "default via 10.88.0.1"
}

published_port() {
	local body guest_ip again
	cbox run -d --name web -p 8080:80 alpine sh -c 'mkdir -p /www && echo served from a container >/www/index.html && exec httpd -f -p 80 -h /www' >/dev/null ||
		fail "cbox run -d -p 8080:80 exited with $?"
	body=$(retry 30 curl -fsS --max-time 5 http://127.0.0.1:8080/) || fail "http://127.0.0.1:8080/ never answered: $(cbox logs web 2>&1 | tail -n 2)"
	expect_eq "the page through 127.0.0.1:8080" "$body" "served from a container"
	guest_ip=$(ip -4 -o addr show scope global | awk '$2 != "cbox0" { sub("/.*", "", $4); print $4; exit }')
	body=$(curl -fsS --max-time 5 "http://$guest_ip:8080/") || fail "http://$guest_ip:8080/ (the guest's eth0) did not answer"
	expect_eq "the page through $guest_ip:8080" "$body" "served from a container"
	# rm gives the port back: the next container can publish it again.
	cbox rm -f web >/dev/null || fail "cbox rm -f web exited with $?"
	again=$(cbox run --rm -p 8080:80 alpine true 2>&1) || fail "publishing 8080 again after rm -f: $again"
}

nat_to_host() {
	local out
	out=$(cbox run --rm alpine sh -c 'printf "GET /nat-probe HTTP/1.0\r\n\r\n" | nc -w 10 10.0.2.2 "$1"' sh "$TEST_PORT") ||
		fail "nc to 10.0.2.2:$TEST_PORT exited with $?: $out"
	echo "$out"
	expect_in "the host's answer" "$out" "HTTP/1.1 200 OK"
	expect_in "the host's answer" "$out" "the test host answers through NAT"
}
