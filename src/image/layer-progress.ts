// A registry pull's progress, per layer as docker shows it: on a terminal one line a layer,
// redrawn in place (Waiting, Downloading with a bar, Pull complete, Already exists); otherwise
// one plain line a layer when it is done; nothing when quiet.
import { formatBytes, type ProgressMode } from "./progress.ts";

type State = { status: string; done: number; total: number };

export class LayerProgress {
  private layers = new Map<string, State>();
  private drawnLines = 0;
  private lastDraw = 0;

  constructor(
    private mode: ProgressMode,
    private out: { write(s: string): unknown },
  ) {}

  /** Announces the layers in order, so the terminal's lines keep their places. */
  start(ids: string[], stored: (id: string) => boolean): void {
    for (const id of ids) this.layers.set(short(id), { status: stored(id) ? "Already exists" : "Waiting", done: 0, total: 0 });
    if (this.mode === "lines") for (const id of ids) if (stored(id)) this.out.write(`${short(id)}: Already exists\n`);
    this.draw(true);
  }

  advance(id: string, bytes: number, total: number): void {
    const s = this.layers.get(short(id));
    if (!s) return;
    s.status = "Downloading";
    s.done += bytes;
    s.total = total;
    this.draw(false);
  }

  /** Back to zero: the download starts over. */
  restart(id: string): void {
    const s = this.layers.get(short(id));
    if (s) s.done = 0;
  }

  complete(id: string): void {
    const s = this.layers.get(short(id));
    if (!s) return;
    s.status = "Pull complete";
    if (this.mode === "lines") this.out.write(`${short(id)}: Pull complete\n`);
    this.draw(true);
  }

  private draw(force: boolean): void {
    if (this.mode !== "bar") return;
    const now = performance.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const lines = [...this.layers].map(([id, s]) => `\x1b[K${id}: ${s.status}${s.status === "Downloading" ? ` ${bar(s.done, s.total)}` : ""}`);
    const up = this.drawnLines ? `\x1b[${this.drawnLines}A\r` : "";
    this.out.write(`${up}${lines.join("\n")}\n`);
    this.drawnLines = lines.length;
  }
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

function bar(done: number, total: number, width = 40): string {
  const filled = total ? Math.min(width, Math.round((done / total) * width)) : 0;
  const arrow = "=".repeat(Math.max(0, filled - 1)) + (filled ? ">" : "") + " ".repeat(width - filled);
  return `[${arrow}] ${formatBytes(done)}/${formatBytes(total)}`;
}
