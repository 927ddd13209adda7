// How a container's stdin, stdout and stderr are wired, as docker users expect:
//   -d            the monitor's pipes: stdout and stderr go to the log; stdin is /dev/null, or
//                 with -i a pipe the monitor holds open
//   no -i, no -t  stdin is /dev/null; stdout and stderr are cbox's own
//   -i            stdin is a pipe: cbox's own when it is one, else cbox copies into a new one
//                 and closes it when its input ends
//   -t            a new pty from the container's own devpts is stdin, stdout and stderr; cbox
//                 copies between it and its own stdio, and with -i on a terminal puts that
//                 terminal in raw mode (restored on every way out) and keeps the size in step
import { closeSync, fstatSync } from "node:fs";
import { eofChar, parseWindowSize, rawMode } from "../linux/termios.ts";
import { getTermios, getWindowSize, pipe, receiveFd, relay, setTermios, socketPair } from "../sys/stdio.ts";
import type { StdioPlan } from "./plan.ts";

/** A pty's size when cbox has no terminal to copy it from (a VT100's, which most programs assume). */
const DEFAULT_SIZE = { rows: 24, cols: 80 };

const STDIN = 0;
const STDOUT = 1;

/** cbox's side: the fds it made for one container, and the copying once it runs. */
export class ContainerStdio {
  readonly plan: StdioPlan;
  /** Ends the child inherits; closed here once it has been cloned. */
  private childFds: number[] = [];
  /** Ends cbox keeps. */
  private ours = -1;

  constructor(
    private readonly opts: { interactive: boolean; tty: boolean; detached: boolean },
  ) {
    if (opts.detached) {
      this.plan = { kind: "inherit" }; // the monitor's pipes (see monitor.c)
    } else if (opts.tty) {
      const [ours, child] = socketPair();
      this.ours = ours;
      this.childFds = [child];
      const sizeFd = terminalFd();
      const size = sizeFd === undefined ? DEFAULT_SIZE : parseWindowSize(getWindowSize(sizeFd)!);
      this.plan = { kind: "tty", socket: child, ...size };
    } else if (!opts.interactive) {
      this.plan = { kind: "null" };
    } else if (isPipe(STDIN)) {
      this.plan = { kind: "inherit" };
    } else {
      const [read, write] = pipe();
      this.ours = write;
      this.childFds = [read];
      this.plan = { kind: "pipe", readFd: read };
    }
  }

  /** Call once the child is cloned: it has its own copies of its ends. */
  spawned(): void {
    for (const fd of this.childFds) closeSync(fd);
    this.childFds = [];
  }

  /** Copies until the container's first process ends (returns at once when there is nothing to copy). */
  attach(pid: number): void {
    if (this.plan.kind === "pipe") {
      const to = this.ours;
      this.ours = -1; // the relay closes it when the input ends
      relay({ in: STDIN, to, from: -1, out: -1, sizeFrom: -1, eof: -1 }, pid);
    } else if (this.plan.kind === "tty") {
      this.attachTerminal(pid);
    }
  }

  private attachTerminal(pid: number): void {
    const master = receiveFd(this.ours);
    closeSync(this.ours);
    this.ours = master;
    const settings = getTermios(master);
    const saved = this.opts.interactive ? getTermios(STDIN) : undefined;
    if (saved) setTermios(STDIN, rawMode(saved));
    try {
      relay(
        {
          in: this.opts.interactive ? STDIN : -1,
          to: master,
          from: master,
          out: STDOUT,
          sizeFrom: terminalFd() ?? -1,
          eof: settings ? eofChar(settings) : -1,
        },
        pid,
      );
    } finally {
      if (saved) setTermios(STDIN, saved);
    }
  }

  close(): void {
    for (const fd of [...this.childFds, this.ours]) if (fd >= 0) closeSync(fd);
    this.childFds = [];
    this.ours = -1;
  }
}

/** The terminal whose size the container's pty takes: stdin's, else stdout's. */
function terminalFd(): number | undefined {
  for (const fd of [STDIN, STDOUT]) if (getWindowSize(fd)) return fd;
  return undefined;
}

function isPipe(fd: number): boolean {
  try {
    return fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}
