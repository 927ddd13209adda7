// Download progress: a redrawn bar on a terminal, a few plain lines otherwise, nothing when quiet.

export interface Progress {
  advance(bytes: number): void;
  finish(): void;
}

export type ProgressMode = "bar" | "lines" | "quiet";

export function formatBytes(n: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  n = Math.round(n);
  while (n >= 999.95 && i < units.length - 1) {
    n /= 1000;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "--";
  const t = Math.ceil(s);
  return t < 60 ? `${t}s` : `${Math.floor(t / 60)}m${String(t % 60).padStart(2, "0")}s`;
}

/** What one redraw of the bar says: `label [=====>    ] 1.2 MB/3.6 MB 2.1 MB/s 2s left`. */
export function barLine(label: string, done: number, total: number | undefined, elapsedMs: number, width = 24): string {
  const rate = elapsedMs > 0 ? (done * 1000) / elapsedMs : 0;
  if (!total) return `${label} ${formatBytes(done)} ${formatBytes(rate)}/s`;
  const frac = Math.min(1, done / total);
  const filled = Math.round(frac * width);
  const bar = "=".repeat(Math.max(0, filled - 1)) + (filled > 0 ? ">" : "") + " ".repeat(width - filled);
  const left = rate > 0 ? (total - done) / rate : Infinity;
  return `${label} [${bar}] ${formatBytes(done)}/${formatBytes(total)} ${formatBytes(rate)}/s ${formatSeconds(left)} left`;
}

export function createProgress(mode: ProgressMode, out: { write(s: string): unknown }, label: string, total?: number): Progress {
  const started = performance.now();
  let done = 0;
  let drawn = 0;
  if (mode === "lines") out.write(`${label}: downloading${total ? ` ${formatBytes(total)}` : ""}\n`);
  return {
    advance(bytes) {
      done += bytes;
      const now = performance.now();
      if (mode === "bar" && now - drawn > 100) {
        drawn = now;
        out.write(`\r\x1b[K${barLine(label, done, total, now - started)}`);
      }
    },
    finish() {
      const ms = performance.now() - started;
      if (mode === "bar") out.write(`\r\x1b[K${barLine(label, done, total ?? done, ms)}\n`);
      if (mode === "lines") out.write(`${label}: ${formatBytes(done)} in ${(ms / 1000).toFixed(1)}s\n`);
    },
  };
}
