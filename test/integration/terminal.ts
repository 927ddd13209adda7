// A real terminal for tests: a pty (Bun.Terminal) with a shell on it that runs cbox in the
// foreground, as a person at a terminal would, and records the terminal's settings
// (`stty -g`) before cbox starts and after it ends.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { asUser, baseEnv, cboxBin, type RunAs } from "./helpers.ts";

export const ICANON = 0o2;

export class TerminalSession {
  readonly proc: Bun.Subprocess;
  readonly term: Bun.Terminal;
  screen = "";
  private mark = 0;
  private decoder = new TextDecoder();

  /** Runs `cbox ARGS` on a new rows x cols terminal; dir receives the settings files. */
  constructor(
    args: string[],
    private readonly dir: string,
    size = { rows: 30, cols: 100 },
    as?: RunAs,
  ) {
    const quoted = [cboxBin, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
    const before = join(dir, "before");
    const after = join(dir, "after");
    const script = `stty -g > ${before}; ${quoted}; echo "cbox-exit=$?"; stty -g > ${after}`;
    this.proc = Bun.spawn([...asUser(as), "sh", "-c", script], {
      env: baseEnv(as),
      terminal: { ...size, data: (_t, d) => (this.screen += this.decoder.decode(d, { stream: true })) },
    });
    this.term = this.proc.terminal!;
  }

  /** Waits until text appears after what earlier calls matched; fails, showing the screen, if the session ends first. */
  async until(text: string): Promise<void> {
    for (;;) {
      const at = this.screen.indexOf(text, this.mark);
      if (at >= 0) {
        this.mark = at + text.length;
        return;
      }
      if (this.proc.exitCode !== null) throw new Error(`the session ended without ${JSON.stringify(text)}; screen:\n${this.screen}`);
      await Bun.sleep(10);
    }
  }

  type(keys: string): void {
    this.term.write(keys);
  }

  /** The cbox process: the only child of the shell. */
  cboxPid(): number {
    const pid = this.proc.pid;
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean);
    if (children.length !== 1) throw new Error(`the session's shell has children [${children}]`);
    return Number(children[0]);
  }

  /** cbox's exit code as the shell saw it, once the session is over. */
  async exitCode(): Promise<number> {
    await this.until("cbox-exit=");
    await this.proc.exited;
    this.term.close();
    return Number(/cbox-exit=(\d+)/.exec(this.screen)![1]);
  }

  /** `stty -g` before cbox started and after it ended. */
  settings(): { before: string; after: string } {
    return { before: readFileSync(join(this.dir, "before"), "utf8"), after: readFileSync(join(this.dir, "after"), "utf8") };
  }
}
