// The executable is cbox's code alone: files in the folder it is started from (a bunfig.toml
// whose preload would run code, a .env that would set its environment) are not read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { baseEnv, cboxBin, removeDir, tempDir } from "./helpers.ts";

let dir = "";

beforeAll(() => {
  dir = tempDir("cbox-cwd-");
  writeFileSync(join(dir, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(dir, "preload.ts"), `require("node:fs").writeFileSync(${JSON.stringify(join(dir, "preload-ran"))}, "yes");\n`);
  writeFileSync(join(dir, ".env"), `CBOX_ROOT=${join(dir, "hijacked")}\n`);
});

afterAll(() => removeDir(dir));

function cboxIn(cwd: string, args: string[]) {
  const res = Bun.spawnSync([cboxBin, ...args], { cwd, env: baseEnv(), stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  return { code: res.exitCode, stdout: res.stdout.toString(), stderr: res.stderr.toString() };
}

describe("the working folder", () => {
  test("a bunfig.toml there runs nothing, and a .env there sets nothing", () => {
    const version = cboxIn(dir, ["--version"]);
    expect(version.code).toBe(0);
    expect(version.stdout).toStartWith("cbox ");
    expect(existsSync(join(dir, "preload-ran"))).toBe(false);

    const info = cboxIn(dir, ["info", "--format", "json"]);
    expect(info.code).toBe(0);
    expect(existsSync(join(dir, "preload-ran"))).toBe(false);
    expect(info.stdout).not.toContain(join(dir, "hijacked"));
    expect(JSON.stringify(JSON.parse(info.stdout))).toContain(process.getuid!() === 0 ? "/var/lib/cbox" : ".local/share/cbox");
  });
});
