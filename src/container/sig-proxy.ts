// docker's sig-proxy: the signals sent to cbox that go on to the container's PID 1.

export const FORWARDED_SIGNALS = [1, 2, 3, 10, 12, 15]; // HUP INT QUIT USR1 USR2 TERM
/** Of those, the ones that ask a foreground cbox to end: after the stop timeout the container is killed. */
export const STOP_SIGNALS = [1, 15];
/** When cbox passes nothing on (--sig-proxy=false, or a terminal's keys reach the container): the ones that end an attach. */
export const DETACHING_SIGNALS = [1, 2, 3, 15]; // HUP INT QUIT TERM
