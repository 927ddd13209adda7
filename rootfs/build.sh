#!/bin/sh
# Build an Alpine-shaped minirootfs from Debian parts (busybox-static, musl).
# Usage: sh rootfs/build.sh OUTDIR [TARBALL]
# No network. Prints one line on success: "rootfs: OUTDIR (N applets)".
# The rootfs is for this machine's architecture, from /bin/busybox and musl. For the other one
# (an aarch64 rootfs on an x86_64 host, for the arm64 test server) set ROOTFS_ARCH=aarch64 and
# ROOTFS_BUSYBOX to that architecture's static busybox: busybox-static:arm64 cannot be installed
# beside the host's, so it is unpacked from its .deb. musl then comes from musl:arm64 and
# musl-dev:arm64 (multiarch), and qemu-aarch64-static runs the busybox to list its applets.
set -eu
umask 022
export LC_ALL=C

die() { echo "rootfs: $*" >&2; exit 1; }

[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: sh rootfs/build.sh OUTDIR [TARBALL]"
OUT=$1
TARBALL=${2-}
[ -n "$OUT" ] || die "refusing an empty OUTDIR"
case $OUT in /) die "refusing OUTDIR /" ;; esac

SRC=$(cd -P -- "$(dirname -- "$0")" && pwd -P)
HERE=$(pwd)

case $(uname -m) in
	x86_64|amd64) HOST_ARCH=x86_64 ;;
	aarch64|arm64) HOST_ARCH=aarch64 ;;
	*) HOST_ARCH= ;;
esac
ARCH=${ROOTFS_ARCH:-$HOST_ARCH}
case $ARCH in
	x86_64) DEB_ARCH=amd64 FILE_ARCH=x86-64 ;;
	aarch64) DEB_ARCH=arm64 FILE_ARCH=aarch64 ;;
	"") die "unsupported machine '$(uname -m)' (x86_64 or aarch64 only)" ;;
	*) die "ROOTFS_ARCH=$ARCH: x86_64 or aarch64 only" ;;
esac

# --- host inputs --------------------------------------------------------------
if [ "$ARCH" = "$HOST_ARCH" ]; then
	BB=${ROOTFS_BUSYBOX:-/bin/busybox}
	BB_RUN=
	MUSL_CC=musl-gcc
	HINT=
else
	[ -n "${ROOTFS_BUSYBOX-}" ] ||
		die "ROOTFS_ARCH=$ARCH needs ROOTFS_BUSYBOX: a static busybox for $ARCH (apt-get download busybox-static:$DEB_ARCH; dpkg-deb -x it)"
	BB=$ROOTFS_BUSYBOX
	BB_RUN=qemu-$ARCH-static
	command -v "$BB_RUN" >/dev/null 2>&1 || die "$BB_RUN not found: apt-get install qemu-user-static"
	MUSL_CC=$ARCH-linux-musl-gcc
	HINT=:$DEB_ARCH
fi
[ -f "$BB" ] || die "$BB not found: apt-get install busybox-static"
if command -v file >/dev/null 2>&1; then
	file -L "$BB" | grep -Eq 'statically linked|static-pie linked' ||
		die "$BB is not static: apt-get install busybox-static"
	file -L "$BB" | grep -q "$FILE_ARCH" || die "$BB is not an $ARCH executable"
elif [ -z "$BB_RUN" ] && ldd "$BB" >/dev/null 2>&1; then
	die "$BB is dynamically linked: apt-get install busybox-static"
fi

MUSL_LIBC=
for f in /usr/lib/$ARCH-linux-musl/libc.so /lib/$ARCH-linux-musl/libc.so; do
	if [ -f "$f" ]; then MUSL_LIBC=$f; break; fi
done
[ -n "$MUSL_LIBC" ] || die "musl libc.so for $ARCH not found: apt-get install musl$HINT musl-dev$HINT"
command -v "$MUSL_CC" >/dev/null 2>&1 || {
	[ -z "$HINT" ] || die "$MUSL_CC not found: apt-get install musl-dev$HINT gcc-$ARCH-linux-gnu"
	die "musl-gcc not found: apt-get install musl-tools"
}

LDSO=ld-musl-$ARCH.so.1

# --- fresh OUTDIR (only once the inputs are known to be there) -----------------
if [ -e "$OUT" ] || [ -L "$OUT" ]; then
	[ "$(cd -P -- "$OUT" 2>/dev/null && pwd -P || echo x)" != / ] ||
		die "refusing OUTDIR '$OUT' (it is /)"
	rm -rf -- "$OUT"
fi

# --- directory tree (Alpine's) ------------------------------------------------
mkdir -p "$OUT"
ROOT=$(cd -P -- "$OUT" && pwd -P)
cd "$ROOT"
mkdir -p bin dev etc home lib media mnt opt proc root run sbin srv sys tmp \
	etc/apk/keys etc/opt etc/profile.d \
	usr/bin usr/sbin usr/lib usr/local/bin usr/local/lib usr/local/share \
	usr/share \
	var/cache var/lib var/local var/log var/mail var/opt var/spool var/tmp \
	var/empty
chmod 0700 root
chmod 1777 tmp var/tmp
chmod 0555 var/empty
ln -s ../run var/run
ln -s ../run/lock var/lock

# --- busybox + one absolute symlink per applet ----------------------------------
cp "$BB" bin/busybox
chmod 0755 bin/busybox
APPLETS=$($BB_RUN ./bin/busybox --list-full | grep -v -e "^linuxrc\$" -e "^bin/busybox\$")
[ -n "$APPLETS" ] || die "bin/busybox --list-full printed no applets"
# Parent dirs (all exist already for Debian's busybox).
for d in $(printf "%s\n" "$APPLETS" | sed -n "s,/[^/]*\$,,p" | sort -u); do
	mkdir -p "$d"
done
N=$(printf '%s\n' "$APPLETS" | wc -l)
N=$((N + 0))
# One process for all ~270 links: perl (Essential on Debian) if present, else
# busybox ash, whose ln runs as an in-binary applet (no exec per link).
if command -v perl >/dev/null 2>&1; then
	printf '%s\n' "$APPLETS" | perl -ne \
		'chomp; symlink("/bin/busybox", $_) or die "rootfs: ln $_: $!\n"'
else
	printf '%s\n' "$APPLETS" | $BB_RUN ./bin/busybox sh -c \
		'set -e; while IFS= read -r p; do ln -s /bin/busybox "$p"; done'
fi

# --- musl loader + a dynamic musl binary ---------------------------------------
cp "$MUSL_LIBC" "lib/$LDSO"
chmod 0755 "lib/$LDSO"
ln -s "$LDSO" "lib/libc.musl-$ARCH.so.1"
# cd into the source dir and strip: the binary must not depend on the caller's
# cwd (the source path would end up in the symbol table) for reproducibility.
(cd "$SRC" && $MUSL_CC -O2 -s -Wl,--dynamic-linker="/lib/$LDSO" \
	-o "$ROOT/usr/bin/musl-hello" musl-hello.c) ||
	die "$MUSL_CC failed to build musl-hello"
chmod 0755 usr/bin/musl-hello
cp usr/bin/musl-hello usr/bin/setuid-probe

# --- /etc (as in alpine-baselayout(-data) 3.6 / alpine-release 3.20.3) ---------
echo 3.20.3 > etc/alpine-release
cat > etc/os-release <<'EOF'
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
BUG_REPORT_URL="https://gitlab.alpinelinux.org/alpine/aports/-/issues"
EOF
# Alpine >= 3.17 (baselayout 3.4+) dropped adm, operator, man, postmaster, at,
# squid, xfs, cyrus, vpopmail and smmsp; this is what alpine:3.20 ships.
cat > etc/passwd <<'EOF'
root:x:0:0:root:/root:/bin/sh
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
EOF
cat > etc/group <<'EOF'
root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin
adm:x:4:root,daemon
tty:x:5:
disk:x:6:root
lp:x:7:lp
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
cron:x:16:cron
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
tape:x:26:root
video:x:27:root
netdev:x:28:
kvm:x:34:kvm
games:x:35:
shadow:x:42:
www-data:x:82:
users:x:100:games
ntp:x:123:
abuild:x:300:
utmp:x:406:
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
EOF
cat > etc/shadow <<'EOF'
root:*::0:::::
bin:!::0:::::
daemon:!::0:::::
lp:!::0:::::
sync:!::0:::::
shutdown:!::0:::::
halt:!::0:::::
mail:!::0:::::
news:!::0:::::
uucp:!::0:::::
cron:!::0:::::
ftp:!::0:::::
sshd:!::0:::::
games:!::0:::::
ntp:!::0:::::
guest:!::0:::::
nobody:!::0:::::
EOF
printf '127.0.0.1\tlocalhost localhost.localdomain\n::1\t\tlocalhost localhost.localdomain\n' > etc/hosts
echo localhost > etc/hostname
printf '# valid login shells\n/bin/sh\n/bin/ash\n' > etc/shells
cat > etc/profile <<'EOF'
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

export PAGER=less
umask 022

# use nicer PS1 for bash and busybox ash
if [ -n "$BASH_VERSION" -o "$BB_ASH_VERSION" ]; then
	PS1='\h:\w\$ '
# use nicer PS1 for zsh
elif [ -n "$ZSH_VERSION" ]; then
	PS1='%m:%~%# '
# set up fallback default PS1
else
	: "${HOSTNAME:=$(hostname)}"
	PS1='${HOSTNAME%%.*}:$PWD'
	[ "$(id -u)" -eq 0 ] && PS1="${PS1}# " || PS1="${PS1}\$ "
fi

for script in /etc/profile.d/*.sh ; do
	if [ -r "$script" ] ; then
		. "$script"
	fi
done
unset script
EOF
cat > etc/motd <<'EOF'
Welcome to Alpine!

The Alpine Wiki contains a large amount of how-to guides and general
information about administrating Alpine systems.
See <https://wiki.alpinelinux.org/>.

You can setup the system with the command: setup-alpine

You may change this message by editing /etc/motd.

EOF
printf 'Welcome to Alpine Linux 3.20\nKernel \\r on an \\m (\\l)\n\n' > etc/issue
echo "$ARCH" > etc/apk/arch
printf '%s\n' alpine-baselayout alpine-keys apk-tools busybox musl-utils > etc/apk/world

# --- ownership and special modes (chown clears setuid, so it goes first) -------
if [ "$(id -u)" = 0 ]; then
	chown -hR 0:0 .
	chgrp 42 etc/shadow
fi
chmod 0640 etc/shadow
chmod 4755 usr/bin/setuid-probe

# --- tarball, packed like Alpine's minirootfs, reproducibly ----------------------
# --mtime pins every timestamp; --sort=name pins the order; gzip -n drops the
# name/time from the gzip header. As root every file is already 0:0 except
# etc/shadow (root:shadow = 0:42), so only the owner is forced: forcing
# --group=0 too would flatten shadow's group. As non-root (no chown possible)
# both are forced to 0 and shadow ends up 0:0 in the tarball.
if [ -n "$TARBALL" ]; then
	cd "$HERE"
	if [ "$(id -u)" = 0 ]; then set -- --owner=0; else set -- --owner=0 --group=0; fi
	tar --sort=name --mtime=@1700000000 --numeric-owner "$@" \
		--exclude='./dev/*' --use-compress-program='gzip -9n' \
		-cf "$TARBALL" -C "$ROOT" . || die "tar failed"
fi

echo "rootfs: $OUT ($N applets)"
