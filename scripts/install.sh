#!/bin/sh
# Installs cbox's release binary for this machine.
#
#   curl -fsSL https://github.com/cbox-dev/cbox/releases/latest/download/install.sh | sh
#   wget -qO- https://github.com/cbox-dev/cbox/releases/latest/download/install.sh | sh
#
# CBOX_VERSION       release to install (1.2.3 or v1.2.3); unset or "latest": the latest one
# CBOX_INSTALL_DIR   folder to install into; default /usr/local/bin as root, else ~/.local/bin
# CBOX_DOWNLOAD_URL  where the releases are; default https://github.com/cbox-dev/cbox/releases
#
# POSIX sh (dash, busybox sh). Everything is in functions and runs from the last line only, so a
# script cut short in transit runs nothing, and no command here reads the piped script as input.

set -u

default_download_url=https://github.com/cbox-dev/cbox/releases

# What the clean-up removes on any way out: a temporary folder and the half-installed binary.
tmp_dir=
partial=
installed=

say() {
	printf 'cbox-install: %s\n' "$*"
}

fail() {
	printf 'cbox-install: %s\n' "$*" >&2
	exit 1
}

have() {
	command -v "$1" >/dev/null 2>&1
}

ignore_signals() {
	trap '' HUP INT TERM PIPE
}

clean_up() {
	ignore_signals # a second Ctrl-C must not cut the clean-up short
	if [ -n "$partial" ]; then rm -f "$partial"; fi
	if [ -n "$tmp_dir" ]; then rm -rf "$tmp_dir"; fi
	partial=
	tmp_dir=
}

interrupted() {
	ignore_signals # its own message to a closed stderr would raise SIGPIPE again
	if [ -n "$installed" ]; then
		printf 'cbox-install: interrupted; %s is installed\n' "$installed" >&2
	else
		printf 'cbox-install: interrupted; nothing was installed\n' >&2
	fi
	exit "$1"
}

set_traps() {
	trap clean_up EXIT
	trap 'interrupted 129' HUP
	trap 'interrupted 130' INT
	trap 'interrupted 143' TERM
	# A closed stdout or stderr (| head) must not end the installer before the clean-up.
	trap 'interrupted 141' PIPE
}

check_tools() {
	for tool in uname id mkdir mktemp chmod mv rm; do
		have "$tool" || fail "this system has no '$tool' command, which the installer needs; install it and run the installer again"
	done
}

# Sets asset to the release file for this machine: cbox-linux-x64 or cbox-linux-arm64.
detect_platform() {
	os=$(uname -s)
	[ "$os" = Linux ] || fail "cbox runs on Linux only; this system is $os"
	machine=$(uname -m)
	case $machine in
	x86_64 | amd64) arch=x64 ;;
	aarch64 | arm64) arch=arm64 ;;
	*) fail "no cbox release for this machine's architecture ($machine); releases exist for x86_64 and aarch64 only" ;;
	esac
	asset=cbox-linux-$arch
}

need_glibc() {
	fail "$1; cbox's release binaries need glibc 2.17 or later: use a glibc distribution (Debian, Ubuntu, Fedora, ...)"
}

# ldd names the C library it belongs to (musl's ldd prints its name and exits 1); without ldd,
# the dynamic loaders present tell.
check_libc() {
	ldd_text=$(ldd --version 2>&1 </dev/null) || :
	case $ldd_text in
	*musl*) need_glibc "this system's C library is musl, not glibc" ;;
	*GLIBC* | *"GNU libc"* | *"GNU C Library"*) check_glibc_version "${ldd_text%%
*}" ;;
	*) check_loaders ;;
	esac
}

# $1: ldd's first line, which ends with the version ("ldd (Debian GLIBC 2.36-9) 2.36").
check_glibc_version() {
	glibc_version=${1##* }
	major=${glibc_version%%.*}
	minor=${glibc_version#*.}
	minor=${minor%%[!0-9]*}
	case $major$minor in
	'' | *[!0-9]*) return 0 ;;
	esac
	if [ "$major" -lt 2 ] || { [ "$major" -eq 2 ] && [ "$minor" -lt 17 ]; }; then
		need_glibc "this system has glibc $glibc_version"
	fi
}

check_loaders() {
	case $arch in
	x64) glibc_loader=/lib64/ld-linux-x86-64.so.2 ;;
	arm64) glibc_loader=/lib/ld-linux-aarch64.so.1 ;;
	esac
	[ -e "$glibc_loader" ] && return 0
	for musl_loader in /lib/ld-musl-*.so.1; do
		[ -e "$musl_loader" ] && need_glibc "this system has musl's loader ($musl_loader) and no glibc"
	done
	return 0
}

pick_downloader() {
	if have curl; then
		downloader=curl
	elif have wget; then
		downloader=wget
	else
		fail "neither curl nor wget is installed; install one of them (e.g. apt-get install curl) and run the installer again"
	fi
}

pick_hasher() {
	if have sha256sum; then
		hasher=sha256sum
	elif have shasum; then
		hasher=shasum
	elif have openssl; then
		hasher=openssl
	else
		fail "found no sha256sum, shasum or openssl to verify the download with; install one (e.g. coreutils) and run the installer again"
	fi
}

# Sets release_url to the folder of the chosen release's files.
pick_release() {
	base=${CBOX_DOWNLOAD_URL:-$default_download_url}
	base=${base%/}
	version=${CBOX_VERSION:-latest}
	case $version in
	latest) release_url=$base/latest/download ;;
	*[!0-9A-Za-z.+_-]*) fail "CBOX_VERSION=$version is not a version; use e.g. 1.2.3 or v1.2.3, or leave it unset for the latest release" ;;
	v*) release_url=$base/download/$version ;;
	*) release_url=$base/download/v$version ;;
	esac
}

# Sets install_dir (absolute, created if missing) and target.
pick_install_dir() {
	if [ -n "${CBOX_INSTALL_DIR:-}" ]; then
		install_dir=$CBOX_INSTALL_DIR
	elif [ "$(id -u)" = 0 ]; then
		install_dir=/usr/local/bin
	elif [ -n "${HOME:-}" ]; then
		install_dir=$HOME/.local/bin
	else
		fail "HOME is not set; set HOME, or CBOX_INSTALL_DIR to the folder to install into"
	fi
	mkdir -p "$install_dir" 2>/dev/null || fail "cannot create $install_dir; create it, or set CBOX_INSTALL_DIR to a folder you can write to"
	install_dir=$(CDPATH= cd "$install_dir" && pwd) || fail "cannot enter $install_dir; set CBOX_INSTALL_DIR to a folder you can write to"
	target=${install_dir%/}/cbox
	[ ! -d "$target" ] || fail "$target is a folder; remove it, or set CBOX_INSTALL_DIR to another folder"
	[ -w "$install_dir" ] || cannot_write "$install_dir"
}

cannot_write() {
	fail "cannot write to $1; run the installer as root, or set CBOX_INSTALL_DIR to a folder you can write to"
}

check_temp_parent() {
	temp_parent=${TMPDIR:-/tmp}
	[ -d "$temp_parent" ] && [ -w "$temp_parent" ] || cannot_make_temp_dir
}

cannot_make_temp_dir() {
	fail "cannot create a temporary folder in $temp_parent; set TMPDIR to a folder you can write to"
}

make_temp_files() {
	tmp_dir=$(mktemp -d "$temp_parent/cbox-install.XXXXXX" 2>/dev/null) || cannot_make_temp_dir
	# The binary is downloaded next to its target, so that moving it there is a rename.
	partial=$(mktemp "${install_dir%/}/.cbox.XXXXXX" 2>/dev/null) || cannot_write "$install_dir"
}

# fetch URL FILE: downloads URL into FILE; on failure, one line saying what went wrong.
fetch() {
	log=$tmp_dir/$downloader.log
	case $downloader in
	curl) fetch_with_curl "$1" "$2" ;;
	wget) fetch_with_wget "$1" "$2" ;;
	esac
}

fetch_with_curl() {
	status=$(curl -sS -L -o "$2" -w '%{http_code}' "$1" 2>"$log")
	code=$?
	case $code in
	0) ;;
	23) write_failed "$2" ;;
	*) download_failed "$1" "$(last_line "$log")" ;;
	esac
	case $status in
	2??) ;;
	*) http_failed "$1" "$status" ;;
	esac
}

# GNU wget or busybox's: -S writes the server's status lines to the log, where the answer is.
fetch_with_wget() {
	wget -S -q -t 1 -O "$2" "$1" 2>"$log"
	code=$?
	status=$(http_status "$log")
	case $status in
	'' | 2??) ;;
	*) http_failed "$1" "$status" ;;
	esac
	case $code in
	0) ;;
	3) write_failed "$2" ;;
	*) download_failed "$1" "$(wget_error "$log" "$code")" ;;
	esac
}

# The status code of the last HTTP answer in a log of wget -S ("  HTTP/1.1 404 Not Found").
http_status() {
	answer=
	while IFS= read -r line; do
		case $line in
		*HTTP/[0-9]*) answer=${line#*HTTP/*[ ]} ;;
		esac
	done <"$1"
	printf '%s\n' "${answer%%[!0-9]*}"
}

# busybox's wget says what failed ("wget: ..."); GNU wget -q says nothing, its exit code tells.
wget_error() {
	message=$(last_line "$1")
	case $message in
	wget:*) printf '%s\n' "$message" ;;
	*) [ "$2" = 4 ] && echo "wget: network failure" || echo "wget exited with $2" ;;
	esac
}

last_line() {
	text=
	while IFS= read -r line; do
		[ -n "$line" ] && text=$line
	done <"$1"
	printf '%s\n' "$text"
}

http_failed() {
	case $2 in
	404) fail "$1 was not found (HTTP 404); check CBOX_VERSION ($version) names a cbox release, or leave it unset for the latest" ;;
	*) fail "$1 answered HTTP $2; try again later" ;;
	esac
}

download_failed() {
	fail "downloading $1 failed ($2); check the network and run the installer again"
}

write_failed() {
	fail "cannot write the download into ${1%/*} (is the disk full?); free some space there, or set CBOX_INSTALL_DIR or TMPDIR to another folder"
}

# expected_sha256 SUMS FILE: the hash SUMS (sha256sum's format) lists for FILE.
expected_sha256() {
	while read -r hash name || [ -n "$hash" ]; do
		if [ "${name#\*}" = "$2" ]; then
			case $hash in
			*[!0-9a-f]*) return 1 ;;
			esac
			[ ${#hash} = 64 ] && printf '%s\n' "$hash" && return 0
		fi
	done <"$1"
	return 1
}

sha256_of() {
	case $hasher in
	sha256sum) digest=$(sha256sum "$1") ;;
	shasum) digest=$(shasum -a 256 "$1") ;;
	openssl) digest=$(openssl dgst -sha256 -r "$1") ;;
	esac || return 1
	printf '%s\n' "${digest%% *}"
}

verify() {
	expected=$(expected_sha256 "$tmp_dir/SHA256SUMS" "$asset") ||
		fail "$release_url/SHA256SUMS has no valid line for $asset; nothing was installed; report this to cbox's maintainers"
	actual=$(sha256_of "$partial") || fail "$hasher could not read $partial; run the installer again"
	[ "$actual" = "$expected" ] ||
		fail "checksum mismatch: $asset has sha256 $actual, SHA256SUMS says $expected; nothing was installed; run the installer again"
}

# Runs the new binary before it replaces anything, so a binary that cannot run here is not
# installed; sets new_version to what it prints.
try_new_binary() {
	chmod 755 "$partial" || fail "cannot make $partial executable; run the installer again"
	new_version=$("$partial" version 2>&1 </dev/null) ||
		fail "the downloaded $asset does not run on this machine (${new_version%%
*}); nothing was installed"
	new_version=${new_version%%
*}
}

# rename(2) replaces the old file in one step: a cbox that is running keeps its old inode, and
# anything that starts cbox finds the old binary or the new one, never half of one.
move_into_place() {
	if [ -e "$target" ]; then verb=upgraded; else verb=installed; fi
	mv -f "$partial" "$target" || fail "cannot move the new binary to $target; nothing was installed"
	partial=
	installed=$target
}

# Once cbox is in place nothing temporary is left and the rest only prints: from here a closed
# stdout (| head) may end the installer as it ends any program.
remove_temp_files() {
	clean_up
	set_traps
	trap - PIPE
}

path_hint() {
	case ":${PATH:-}:" in
	*":$install_dir:"*) ;;
	*) say "$install_dir is not on your PATH; add this line to your shell profile (~/.profile): export PATH=\"$install_dir:\$PATH\"" ;;
	esac
}

# cbox info only reports what this host offers; whatever it says, the install is done.
show_info() {
	"$target" info </dev/null
	info_code=$?
	[ "$info_code" = 0 ] ||
		printf "cbox-install: 'cbox info' exited with %s; cbox is installed, see above for what it reports\n" "$info_code" >&2
}

main() {
	set_traps
	check_tools
	detect_platform
	check_libc
	pick_downloader
	pick_hasher
	pick_release
	pick_install_dir
	check_temp_parent
	say "downloading $asset from $release_url"
	make_temp_files
	fetch "$release_url/SHA256SUMS" "$tmp_dir/SHA256SUMS"
	fetch "$release_url/$asset" "$partial"
	verify
	try_new_binary
	move_into_place
	remove_temp_files
	say "$verb $target: $new_version"
	path_hint
	show_info
	exit 0
}

main "$@"
