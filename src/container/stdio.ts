// How a container's stdin, stdout and stderr are wired, as docker users expect:
//   -d            the monitor's pipes: stdout and stderr go to the log (and to attached clients);
//                 stdin is /dev/null, or with -i a pipe the monitor holds open; with -t a new pty
//                 whose master the monitor holds (it comes over the socket the monitor puts on 0)
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
/** -d -t: the fd the monitor gives the container's first process the pty's socket on (monitor.c). */
const MONITOR_TTY_SOCKET = 0;

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
      // the monitor's pipes, or its socket for the pty's master (see monitor.c)
      this.plan = opts.tty ? { kind: "tty", socket: MONITOR_TTY_SOCKET, ...ptySize() } : { kind: "inherit" };
    } else if (opts.tty) {
      const [ours, child] = socketPair();
      this.ours = ours;
      this.childFds = [child];
      this.plan = { kind: "tty", socket: child, ...ptySize() };
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
      relay({ in: STDIN, to, from: -1, out: -1, err: -1, sizeFrom: -1, eof: -1 }, { pid });
    } else if (this.plan.kind === "tty") {
      this.attachTerminal(pid);
    }
  }

  private attachTerminal(pid: number): void {
    const master = receiveFd(this.ours);
    closeSync(this.ours);
    this.ours = master;
    const settings = getTermios(master);
    withRawTerminal(this.opts.interactive, () =>
      relay(
        {
          in: this.opts.interactive ? STDIN : -1,
          to: master,
          from: master,
          out: STDOUT,
          err: -1,
          sizeFrom: terminalFd() ?? -1,
          eof: settings ? eofChar(settings) : -1,
        },
        { pid },
      ),
    );
  }

  close(): void {
    for (const fd of [...this.childFds, this.ours]) if (fd >= 0) closeSync(fd);
    this.childFds = [];
    this.ours = -1;
  }
}

/** The terminal whose size the container's pty takes: stdin's, else stdout's. */
export function terminalFd(): number | undefined {
  for (const fd of [STDIN, STDOUT]) if (getWindowSize(fd)) return fd;
  return undefined;
}

/** A new pty's size: the terminal's, else a VT100's. */
function ptySize(): { rows: number; cols: number } {
  const fd = terminalFd();
  return fd === undefined ? DEFAULT_SIZE : parseWindowSize(getWindowSize(fd)!);
}

/**
 * Runs fn with cbox's stdin in raw mode when asked and stdin is a terminal (so every key, Ctrl-C
 * included, goes to the container's own terminal), restored on every way out.
 */
export function withRawTerminal<T>(raw: boolean, fn: () => T): T {
  const saved = raw ? getTermios(STDIN) : undefined;
  if (saved) setTermios(STDIN, rawMode(saved));
  try {
    return fn();
  } finally {
    if (saved) setTermios(STDIN, saved);
  }
}

function isPipe(fd: number): boolean {
  try {
    return fstatSync(fd).isFIFO();
  } catch {
    return false;
  }
}
