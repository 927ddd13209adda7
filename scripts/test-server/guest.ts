// What the guest downloads at boot: test/server/guest/ as a tarball, with env.sh saying what
// this run serves (the URL, the version the installed cbox must print, the Alpine version).
import { cpSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { run } from "./shell.ts";

const GUEST_DIR = resolve(import.meta.dir, "../../test/server/guest");

export interface GuestEnv {
  url: string; // http://10.0.2.2:PORT
  port: number;
  cboxVersion: string;
  alpineVersion: string;
}

/** Writes workDir/guest.tar and returns its path. */
export async function packGuest(workDir: string, env: GuestEnv): Promise<string> {
  const dir = join(workDir, "guest");
  cpSync(GUEST_DIR, dir, { recursive: true });
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  writeFileSync(join(dir, "env.sh"), [
    "# Written by the host (scripts/test-server/guest.ts) for this run.",
    `TEST_URL=${quote(env.url)}`,
    `TEST_PORT=${env.port}`,
    `CBOX_VERSION_LINE=${quote(env.cboxVersion)}`,
    `ALPINE_VERSION=${quote(env.alpineVersion)}`,
    "",
  ].join("\n"));
  const tar = join(workDir, "guest.tar");
  await run(["tar", "-c", "-f", tar, "--owner=0", "--group=0", "-C", dir, "."]);
  return tar;
}
