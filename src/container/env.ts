// A container's environment: docker's defaults, the image's Env, --env-file and -e, in that order.
import { readFileSync } from "node:fs";
import { CboxError } from "../errors.ts";
import { DEFAULT_PATH } from "./default-path.ts";
import type { RunOptions } from "./spec.ts";

/**
 * Docker's order: defaults, the image's Env, then --env-file lines, then -e flags; a bare NAME
 * takes the host's value.
 */
export function containerEnv(
  opts: Pick<RunOptions, "env" | "envFiles">,
  hostEnv: Record<string, string | undefined>,
  ctx: { hostname: string; home: string; image?: string[] },
): string[] {
  const image = (ctx.image ?? []).filter((e) => e.indexOf("=") > 0);
  return applyEnv([`PATH=${DEFAULT_PATH}`, `HOSTNAME=${ctx.hostname}`, `HOME=${ctx.home}`, ...image], opts, hostEnv);
}

/** base (NAME=VALUE entries), then --env-file lines, then -e flags, later ones winning. */
export function applyEnv(base: string[], opts: Pick<RunOptions, "env" | "envFiles">, hostEnv: Record<string, string | undefined>): string[] {
  const vars = new Map(base.map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)]));
  const add = (entry: string, where: string) => {
    const eq = entry.indexOf("=");
    const key = eq < 0 ? entry : entry.slice(0, eq);
    if (!key || /[\s\0]/.test(key)) throw new CboxError(`${where}: invalid variable name ${JSON.stringify(key)}`);
    if (eq >= 0) vars.set(key, entry.slice(eq + 1));
    else if (hostEnv[key] !== undefined) vars.set(key, hostEnv[key]!);
  };
  for (const file of opts.envFiles) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      throw new CboxError(`--env-file ${file}: cannot read it`);
    }
    text.split("\n").forEach((line, i) => {
      const entry = line.replace(/^\s+/, "").replace(/\r$/, "");
      if (entry && !entry.startsWith("#")) add(entry, `--env-file ${file}:${i + 1}`);
    });
  }
  for (const e of opts.env) add(e, `--env ${e}`);
  return [...vars].map(([k, v]) => `${k}=${v}`);
}
