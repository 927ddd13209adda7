#!/bin/sh
# Runs once inside the server image's root (chroot), after debootstrap: what a freshly installed
# Debian 12 server has, plus the unit that runs the test at boot. Part of the image recipe: any
# change here rebuilds the cached image (scripts/test-server/image.ts).
set -eu

echo cbox-server >/etc/hostname
printf '127.0.0.1\tlocalhost\n127.0.1.1\tcbox-server\n' >/etc/hosts
printf '/dev/vda\t/\text4\trw,errors=remount-ro\t0\t1\n' >/etc/fstab
# qemu's user network answers DNS at 10.0.2.3; the test itself looks up no names.
printf 'nameserver 10.0.2.3\n' >/etc/resolv.conf

# tester: an ordinary user with a subordinate id range, lingering so that its systemd user
# manager (and so `systemd-run --user`) runs without a login. plain: one without a range.
useradd --create-home --uid 1000 --shell /bin/bash tester
useradd --create-home --uid 1001 --shell /bin/bash plain
printf 'tester:100000:65536\n' >/etc/subuid
printf 'tester:100000:65536\n' >/etc/subgid
mkdir -p /var/lib/systemd/linger
touch /var/lib/systemd/linger/tester

chmod 0755 /usr/local/sbin/cbox-test-run
systemctl enable systemd-networkd.service cbox-test.service
# A getty on the console or on the results port hangs up their other writers; the test needs no
# login. (x86_64: ttyS0 and ttyS1; arm64: ttyAMA0 and the virtio console hvc0.)
systemctl mask serial-getty@ttyS0.service serial-getty@ttyS1.service serial-getty@ttyAMA0.service \
	serial-getty@hvc0.service getty@tty1.service
# Nothing in the guest may reach past the host: apt's timers would try Debian's mirror.
systemctl mask apt-daily.timer apt-daily-upgrade.timer
