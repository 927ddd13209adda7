// Signals by name and number, as `kill -l` lists them.

/** Linux's numbers (the same on x86_64 and arm64). */
export const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22,
  URG: 23, XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, PWR: 30, SYS: 31,
};

/** "KILL", "SIGKILL", "kill" or "9"; undefined when it names no signal. */
export function signalNumber(value: string): number | undefined {
  const n = /^\d+$/.test(value) ? Number(value) : SIGNALS[value.toUpperCase().replace(/^SIG/, "")];
  return n !== undefined && n >= 1 && n <= 64 ? n : undefined;
}
