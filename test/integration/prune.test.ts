// cbox container prune, cbox system prune and cbox system df on a store of the test's own:
// stopped containers and unused images go, running ones and their images stay; what docker's
// table says is counted from the files themselves.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { humanSize } from "../../src/container/stats-format.ts";
import { buildRootfs, cbox, isRoot, removeDir, tempDir } from "./helpers.ts";
import { TerminalSession } from "./terminal.ts";

let work = "";
let store = "";
/** Two archives of the test rootfs that differ by one file, and a docker archive whose image has a Volumes entry. */
const archives = { a: "", b: "", volumes: "" };

const c = (args: string[], stdin?: string) => cbox([args[0]!, ...(args[0] === "container" || args[0] === "system" ? [args[1]!, "--root", store, ...args.slice(2)] : ["--root", store, ...args.slice(1)])], { stdin });

function sh(cmd: string[]): void {
  const r = Bun.spawnSync(cmd, { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")}: ${r.stderr}`);
}

beforeAll(() => {
  if (!isRoot) return;
  work = tempDir();
  store = join(work, "store-none");
  const rootfs = buildRootfs(join(work, "rootfs"));
  archives.a = join(work, "a.tar");
  sh(["tar", "-C", rootfs, "-cf", archives.a, "."]);
  writeFileSync(join(rootfs, "etc/second"), "second\n");
  archives.b = join(work, "b.tar");
  sh(["tar", "-C", rootfs, "-cf", archives.b, "."]);
  // docker's archive format by hand: a layer with 1000 bytes in /data, which the config makes a volume.
  const image = join(work, "volimage");
  mkdirSync(join(image, "layer"), { recursive: true });
  cpSync(rootfs, join(image, "layer"), { recursive: true, verbatimSymlinks: true });
  mkdirSync(join(image, "layer/data"));
  writeFileSync(join(image, "layer/data/x"), "v".repeat(1000));
  sh(["tar", "-C", join(image, "layer"), "-cf", join(image, "layer.tar"), "."]);
  const diffId = `sha256:${new Bun.CryptoHasher("sha256").update(readFileSync(join(image, "layer.tar"))).digest("hex")}`;
  const architecture = process.arch === "arm64" ? "arm64" : "amd64";
  writeFileSync(join(image, "config.json"), JSON.stringify({ architecture, os: "linux", config: { Cmd: ["sh"], Volumes: { "/data": {} } }, rootfs: { type: "layers", diff_ids: [diffId] } }));
  writeFileSync(join(image, "manifest.json"), JSON.stringify([{ Config: "config.json", RepoTags: ["vols:1"], Layers: ["layer.tar"] }]));
  archives.volumes = join(work, "volumes.tar");
  sh(["tar", "-C", image, "-cf", archives.volumes, "manifest.json", "config.json", "layer.tar"]);
});
afterAll(() => work && removeDir(work));

/** A store of its own per test: what one test prunes is not another's. */
let serial = 0;
afterEach(() => {
  const left = c(["ps", "-a", "-q"]).stdout.split("\n").filter(Boolean);
  if (left.length) c(["rm", "-f", ...left]);
});
function freshStore(): void {
  store = join(work, `store-${serial++}`);
}

function ids(): Record<string, string> {
  const rows = c(["ps", "-a", "--format", "json"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return Object.fromEntries(rows.map((r) => [r.Names, JSON.parse(c(["inspect", r.Names]).stdout)[0].Id]));
}

function run(name: string, image: string, script: string, detach = false) {
  const r = c(["run", ...(detach ? ["-d"] : []), "--name", name, "--network", "none", image, "sh", "-c", script]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
}

/** Image sizes by tag (by "sha256:ID" when untagged), as cbox images reports them. */
function imageSizes(): Map<string, number> {
  const rows = c(["images", "--format", "json"]).stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return new Map(rows.map((r) => [r.repository === "<none>" ? r.id : `${r.repository}:${r.tag}`, r.size]));
}

describe.skipIf(!isRoot)("cbox container prune", () => {
  test("-f removes every stopped container, not a running one, and says how much they had written", () => {
    freshStore();
    c(["import", archives.a, "base:1"]);
    run("wrote", "base:1", "head -c 100000 /dev/zero > /big");
    run("idle", "base:1", "true");
    run("running", "base:1", "sleep 1000", true);
    const before = ids();
    const r = c(["container", "prune", "-f"]);
    expect([r.code, r.stderr]).toEqual([0, ""]);
    const [head, ...rest] = r.stdout.split("\n");
    expect(head).toBe("Deleted Containers:");
    expect(rest.slice(0, 2).sort()).toEqual([before.wrote!, before.idle!].sort());
    expect(rest.slice(2)).toEqual(["", `Total reclaimed space: ${humanSize(100000)}`, ""]);
    expect(readdirSync(join(store, "containers")).sort()).toEqual([before.running!]);
    expect(Object.keys(ids())).toEqual(["running"]);
    // Their names are free again.
    run("wrote", "base:1", "true");
  });

  test("with nothing stopped it removes nothing and says so", () => {
    freshStore();
    c(["import", archives.a, "base:1"]);
    run("running", "base:1", "sleep 1000", true);
    expect(c(["container", "prune", "-f"])).toEqual({ code: 0, stdout: `Total reclaimed space: ${humanSize(0)}\n`, stderr: "" });
    expect(Object.keys(ids())).toEqual(["running"]);
  });

  test("without -f it asks on a terminal (no keeps them, yes removes them), and refuses without one", async () => {
    freshStore();
    c(["import", archives.a, "base:1"]);
    run("stopped", "base:1", "true");
    const r = c(["container", "prune"], "y\n");
    expect(r).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: standard input is not a terminal, so cbox cannot ask for confirmation: give -f to go ahead without asking\n",
    });
    expect(Object.keys(ids())).toEqual(["stopped"]);
    const dir = join(work, `tty-${serial}`);
    mkdirSync(dir);
    const no = new TerminalSession(["container", "prune", "--root", store], dir);
    await no.until("WARNING! This will remove all stopped containers.");
    await no.until("Are you sure you want to continue? [y/N] ");
    no.type("n\r");
    expect(await no.exitCode()).toBe(0);
    expect(Object.keys(ids())).toEqual(["stopped"]);
    const id = ids().stopped!;
    const yes = new TerminalSession(["container", "prune", "--root", store], dir);
    await yes.until("[y/N] ");
    yes.type("y\r");
    expect(await yes.exitCode()).toBe(0);
    expect(yes.screen).toContain(`Deleted Containers:\r\n${id}\r\n`);
    expect(Object.keys(ids())).toEqual([]);
  });

  test("bad input: one line, 125, nothing removed; container ls and the group's usage", () => {
    freshStore();
    c(["import", archives.a, "base:1"]);
    run("stopped", "base:1", "true");
    expect(c(["container", "prune", "-f", "extra"])).toEqual({ code: 125, stdout: "", stderr: "cbox: cbox container prune takes no operands (got extra)\n" });
    expect(c(["container", "prune", "--all"])).toEqual({ code: 125, stdout: "", stderr: "cbox: unknown flag: --all\n" });
    expect(cbox(["container", "bogus"])).toEqual({ code: 125, stdout: "", stderr: 'cbox: unknown command "container bogus"; see cbox container --help\n' });
    expect(Object.keys(ids())).toEqual(["stopped"]);
    expect(c(["container", "ls", "-a", "-q"]).stdout).toBe(`${ids().stopped!.slice(0, 12)}\n`);
    const usage = cbox(["container", "--help"]);
    expect(usage.code).toBe(0);
    expect(usage.stdout).toContain("cbox container ls|ps|run|create|start|restart|attach|rm|inspect|stop|kill|pause|unpause|rename|top|stats|update|logs|exec|wait|port|cp|diff|export|prune");
  });
});

describe.skipIf(!isRoot)("cbox system df and cbox system prune", () => {
  test("df counts images, containers and volumes; prune takes stopped containers and untagged images, -a every unused image, never a volume", () => {
    freshStore();
    c(["import", archives.a, "img:1"]);
    c(["import", archives.b, "img:1"]); // the tag moves: the first image is left untagged
    expect(c(["load", "-i", archives.volumes]).code).toBe(0);
    const sizes = imageSizes();
    const untagged = [...sizes.keys()].find((k) => k.startsWith("sha256:"))!;
    const [sizeA, sizeB, sizeV] = [sizes.get(untagged)!, sizes.get("img:1")!, sizes.get("vols:1")!];
    expect([sizeA, sizeB, sizeV].every((n) => n > 0)).toBe(true);
    run("runner", "img:1", "sleep 1000", true);
    run("stopped", "img:1", "head -c 250000 /dev/zero > /big");
    run("volumed", "vols:1", "true");
    const pct = (part: number, whole: number) => `${humanSize(part)} (${Math.floor((part * 100) / whole)}%)`;
    const row = (cells: string[]) => cells.join(" ");
    const table = () => c(["system", "df"]).stdout.split("\n").filter(Boolean).map((l) => l.split(/ {3,}/).join(" "));
    expect(table()).toEqual([
      "TYPE TOTAL ACTIVE SIZE RECLAIMABLE",
      row(["Images", "3", "2", humanSize(sizeA + sizeB + sizeV), pct(sizeA, sizeA + sizeB + sizeV)]),
      row(["Containers", "3", "1", humanSize(250000), pct(250000, 250000)]),
      row(["Local Volumes", "1", "1", humanSize(1000), pct(0, 1000)]),
      row(["Build Cache", "0", "0", humanSize(0), humanSize(0)]),
    ]);

    const volumed = ids().volumed!;
    expect(c(["rm", "volumed"]).code).toBe(0); // its volume stays, used by nothing now
    expect(table()[3]).toBe(row(["Local Volumes", "1", "0", humanSize(1000), pct(1000, 1000)]));

    const stopped = ids().stopped!;
    const pruned = c(["system", "prune", "-f"]);
    expect([pruned.code, pruned.stderr]).toEqual([0, ""]);
    expect(pruned.stdout).toBe(`Deleted Containers:\n${stopped}\n\nDeleted Images:\nDeleted: ${untagged}\n\nTotal reclaimed space: ${humanSize(250000 + sizeA)}\n`);
    expect(Object.keys(ids())).toEqual(["runner"]);
    expect([...imageSizes().keys()].sort()).toEqual(["img:1", "vols:1"]);
    expect(readdirSync(join(store, "volumes"))).toHaveLength(1);
    expect(existsSync(join(store, "containers", volumed))).toBe(false);

    // -a: every image no container uses; the running container's stays.
    const all = c(["system", "prune", "-a", "-f"]);
    expect([all.code, all.stderr]).toEqual([0, ""]);
    expect(all.stdout).toMatch(new RegExp(`^Deleted Images:\\nUntagged: vols:1\\nDeleted: sha256:[0-9a-f]{64}\\nDeleted: sha256:[0-9a-f]{64}\\n\\nTotal reclaimed space: ${humanSize(sizeV).replace(".", "\\.")}\\n$`));
    expect([...imageSizes().keys()]).toEqual(["img:1"]);
    expect(table().slice(1, 3)).toEqual([row(["Images", "1", "1", humanSize(sizeB), pct(0, sizeB)]), row(["Containers", "1", "1", humanSize(0), humanSize(0)])]);
  });

  test("an empty store: zeros everywhere, and prune has nothing to say but that", () => {
    freshStore();
    expect(c(["system", "df"]).stdout.split("\n").filter(Boolean).map((l) => l.split(/ {3,}/))).toEqual([
      ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
      ["Images", "0", "0", humanSize(0), humanSize(0)],
      ["Containers", "0", "0", humanSize(0), humanSize(0)],
      ["Local Volumes", "0", "0", humanSize(0), humanSize(0)],
      ["Build Cache", "0", "0", humanSize(0), humanSize(0)],
    ]);
    expect(c(["system", "prune", "-f"])).toEqual({ code: 0, stdout: `Total reclaimed space: ${humanSize(0)}\n`, stderr: "" });
    expect(existsSync(store)).toBe(false);
  });

  test("bad input: one line, 125, nothing removed", () => {
    freshStore();
    c(["import", archives.a, "img:1"]);
    run("stopped", "img:1", "true");
    expect(c(["system", "prune"])).toEqual({
      code: 125,
      stdout: "",
      stderr: "cbox: standard input is not a terminal, so cbox cannot ask for confirmation: give -f to go ahead without asking\n",
    });
    expect(c(["system", "prune", "-f", "now"])).toEqual({ code: 125, stdout: "", stderr: "cbox: cbox system prune takes no operands (got now)\n" });
    expect(c(["system", "df", "-a"])).toEqual({ code: 125, stdout: "", stderr: "cbox: unknown flag: -a\n" });
    expect(c(["system", "df", "x"])).toEqual({ code: 125, stdout: "", stderr: "cbox: cbox system df takes no operands (got x)\n" });
    expect(cbox(["system", "defrag"])).toEqual({ code: 125, stdout: "", stderr: 'cbox: unknown command "system defrag"; see cbox system --help\n' });
    expect(Object.keys(ids())).toEqual(["stopped"]);
    expect([...imageSizes().keys()]).toEqual(["img:1"]);
  });
});
