// Terminal settings as the kernel's TCGETS/TCSETS pass them (struct termios of asm-generic,
// which x86_64 and arm64 share): four u32 flag words, the line discipline, then c_cc.
export const Termios = {
  TCGETS: 0x5401,
  TCSETS: 0x5402,
  TIOCGWINSZ: 0x5413,
  /** Bytes of the kernel's struct termios. */
  size: 36,
} as const;

const IFLAG = 0;
const OFLAG = 4;
const CFLAG = 8;
const LFLAG = 12;
const CC = 17;
const VTIME = 5;
const VMIN = 6;
const VEOF = 4;

const I = { IGNBRK: 0o1, BRKINT: 0o2, PARMRK: 0o10, ISTRIP: 0o40, INLCR: 0o100, IGNCR: 0o200, ICRNL: 0o400, IXON: 0o2000 };
const O = { OPOST: 0o1 };
const C = { CSIZE: 0o60, PARENB: 0o400, CS8: 0o60 };
const L = { ISIG: 0o1, ICANON: 0o2, ECHO: 0o10, ECHONL: 0o100, IEXTEN: 0o100000 };

/**
 * The settings cfmakeraw(3) makes from `saved`: no line editing, echo, signals or output
 * processing, so every key goes to the container's own terminal, which does all of that.
 */
export function rawMode(saved: Uint8Array): Uint8Array {
  const raw = saved.slice();
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const clear = (off: number, bits: number) => v.setUint32(off, v.getUint32(off, true) & ~bits, true);
  clear(IFLAG, I.IGNBRK | I.BRKINT | I.PARMRK | I.ISTRIP | I.INLCR | I.IGNCR | I.ICRNL | I.IXON);
  clear(OFLAG, O.OPOST);
  clear(LFLAG, L.ECHO | L.ECHONL | L.ICANON | L.ISIG | L.IEXTEN);
  clear(CFLAG, C.CSIZE | C.PARENB);
  v.setUint32(CFLAG, v.getUint32(CFLAG, true) | C.CS8, true);
  raw[CC + VMIN] = 1;
  raw[CC + VTIME] = 0;
  return raw;
}

export interface WindowSize {
  rows: number;
  cols: number;
}

/** struct winsize: u16 rows, cols, xpixel, ypixel. */
export function parseWindowSize(buf: Uint8Array): WindowSize {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { rows: v.getUint16(0, true), cols: v.getUint16(2, true) };
}

/** The character that ends input on a terminal with these settings (^D unless changed). */
export function eofChar(termios: Uint8Array): number {
  return termios[CC + VEOF]!;
}
