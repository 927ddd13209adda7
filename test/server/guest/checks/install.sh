# Installing through install.sh, as root and as an ordinary user, as the README tells people to.

# The sha256 SHA256SUMS gives the binary for this machine (cbox-linux-x64 or cbox-linux-arm64).
release_sha256() {
	curl -fsS "$TEST_URL/latest/download/SHA256SUMS" | awk -v name="cbox-linux-$RELEASE_ARCH" '$2 == name { print $1 }'
}

install_as_root() {
	set -o pipefail
	local out
	out=$(curl -fsSL "$TEST_URL/latest/download/install.sh" | CBOX_DOWNLOAD_URL=$TEST_URL sh 2>&1) ||
		fail "curl | sh exited with $?: $(printf '%s' "$out" | tail -n 1)"
	echo "$out"
	expect_in "install.sh's output" "$out" "cbox-install: installed /usr/local/bin/cbox"
	[ -x /usr/local/bin/cbox ] || fail "/usr/local/bin/cbox is not an executable"
	expect_eq "installed binary's sha256" "$(sha256sum /usr/local/bin/cbox | cut -d' ' -f1)" "$(release_sha256)"
	expect_eq "cbox on root's PATH" "$(command -v cbox)" /usr/local/bin/cbox
}

cbox_version() {
	expect_eq "cbox version" "$(cbox version)" "$CBOX_VERSION_LINE"
}

install_as_tester() {
	local out home=/home/$TESTER
	out=$(as_tester bash -o pipefail -c 'curl -fsSL "$1/latest/download/install.sh" | CBOX_DOWNLOAD_URL=$1 sh' sh "$TEST_URL" 2>&1) ||
		fail "curl | sh as $TESTER exited with $?: $(printf '%s' "$out" | tail -n 1)"
	echo "$out"
	expect_in "install.sh's output" "$out" "cbox-install: installed $home/.local/bin/cbox"
	expect_eq "owner of $home/.local/bin/cbox" "$(stat -c %U "$home/.local/bin/cbox")" "$TESTER"
	expect_eq "installed binary's sha256" "$(sha256sum "$home/.local/bin/cbox" | cut -d' ' -f1)" "$(release_sha256)"
	expect_eq "cbox on $TESTER's PATH" "$(as_tester sh -c 'command -v cbox')" "$home/.local/bin/cbox"
}
