import { describe, expect, test } from "bun:test";
import { eofChar, parseWindowSize, rawMode, Termios } from "../../src/linux/termios.ts";

// A terminal as a login shell leaves it (`stty sane`), in the kernel's struct termios layout.
function saneTermios(): Uint8Array {
  const t = new Uint8Array(Termios.size);
  const v = new DataView(t.buffer);
  v.setUint32(0, 0o2000 | 0o400 | 0o2 | 0o40000, true); // IXON ICRNL BRKINT IMAXBEL
  v.setUint32(4, 0o1 | 0o4, true); // OPOST ONLCR
  v.setUint32(8, 0o60 | 0o200 | 0o15, true); // CS8 CREAD B38400
  v.setUint32(12, 0o1 | 0o2 | 0o10 | 0o20 | 0o40 | 0o100000 | 0o1000 | 0o4000, true); // ISIG ICANON ECHO ECHOE ECHOK IEXTEN ECHOCTL ECHOKE
  t.set([3, 0o34, 0o177, 0o25, 4, 0, 1, 0], 17); // VINTR VQUIT VERASE VKILL VEOF VTIME VMIN VSWTC
  return t;
}

describe("rawMode", () => {
  test("clears what cfmakeraw(3) clears and keeps the rest", () => {
    const saved = saneTermios();
    const raw = new DataView(rawMode(saved).buffer);
    expect(raw.getUint32(0, true)).toBe(0o40000); // only IMAXBEL is left of the input flags
    expect(raw.getUint32(4, true)).toBe(0o4); // OPOST gone, ONLCR kept (ignored without OPOST)
    expect(raw.getUint32(8, true)).toBe(0o60 | 0o200 | 0o15);
    expect(raw.getUint32(12, true)).toBe(0o20 | 0o40 | 0o1000 | 0o4000); // no ISIG ICANON ECHO IEXTEN
  });

  test("reads a byte at a time with no timeout; the saved settings are not touched", () => {
    const saved = saneTermios();
    const before = saved.slice();
    const raw = rawMode(saved);
    expect(raw[17 + 6]).toBe(1); // VMIN
    expect(raw[17 + 5]).toBe(0); // VTIME
    expect(raw[17 + 0]).toBe(3); // control characters are kept
    expect(saved).toEqual(before);
  });

  test("any character size and parity become 8 bits without parity", () => {
    const t = saneTermios();
    new DataView(t.buffer).setUint32(8, 0o40 | 0o400 | 0o200, true); // CS7 PARENB CREAD
    expect(new DataView(rawMode(t).buffer).getUint32(8, true)).toBe(0o60 | 0o200);
  });
});

describe("terminal helpers", () => {
  test("eofChar reads VEOF", () => {
    expect(eofChar(saneTermios())).toBe(4);
  });

  test("parseWindowSize reads rows then columns", () => {
    const ws = new Uint8Array(8);
    new DataView(ws.buffer).setUint16(0, 40, true);
    new DataView(ws.buffer).setUint16(2, 120, true);
    expect(parseWindowSize(ws)).toEqual({ rows: 40, cols: 120 });
  });
});
