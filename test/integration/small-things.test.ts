// What a new user notices: colour only on a terminal, cbox with no arguments, import of an image
// archive, what ps shows for an --init PID 1 and for a monitor, and shell completion.
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { makeTar } from "../fixtures/hostile.ts";
import { baseEnv, cbox, cboxBin, isRoot, rootfsFixture, rootfsImageArchive, rootfsTar } from "./helpers.ts";

const fx = rootfsFixture();
const ESC = "\x1b[";

/** cbox ARGS on a new terminal: all it printed (stdout and stderr both go to the terminal). */
async function onTerminal(args: string[], env: Record<string, string> = {}): Promise<string> {
  let screen = "";
  const decoder = new TextDecoder();
  const proc = Bun.spawn([cboxBin, ...args], { env: { ...baseEnv(), ...env }, terminal: { rows: 40, cols: 120, data: (_t, d) => (screen += decoder.decode(d, { stream: true })) } });
  await proc.exited;
  await Bun.sleep(50); // the last output after the exit
  return screen;
}

describe("usage and colour", () => {
  test("--help in a pipe or a file has no colour codes; on a terminal it has, unless NO_COLOR or TERM=dumb", async () => {
    for (const args of [["--help"], ["run", "--help"], ["network", "--help"]]) {
      const piped = cbox(args);
      expect(piped.code).toBe(0);
      expect(piped.stdout).toContain("USAGE");
      expect(piped.stdout).not.toContain(ESC);
    }
    expect(await onTerminal(["--help"], { TERM: "xterm" })).toContain(ESC);
    expect(await onTerminal(["--help"], { TERM: "xterm", NO_COLOR: "1" })).not.toContain(ESC);
    expect(await onTerminal(["run", "--help"], { TERM: "dumb" })).not.toContain(ESC);
  });

  test("cbox with no arguments (and a group with no subcommand) prints its usage and exits 0, as docker", () => {
    const bare = cbox([]);
    expect(bare.code).toBe(0);
    expect(bare.stdout).toContain("USAGE");
    expect(bare.stdout).toContain("run");
    const group = cbox(["volume"]);
    expect(group.code).toBe(0);
    expect(group.stdout).toContain("cbox volume create|ls|inspect|rm|prune");
    expect(cbox(["frobnicate"])).toMatchObject({ code: 125, stderr: `cbox: unknown command "frobnicate"; see cbox --help\n` });
  });
});

describe.skipIf(!isRoot)("import of an image archive", () => {
  test("a docker save archive or an OCI layout is refused in one line naming cbox load; nothing is stored", async () => {
    const store = join(fx.work, "import-store");
    const saved = rootfsImageArchive(join(fx.work, "saved"), "saved/img:1");
    const oci = join(fx.work, "oci.tar");
    writeFileSync(oci, await makeTar([
      { name: "oci-layout", content: '{"imageLayoutVersion":"1.0.0"}' },
      { name: "index.json", content: '{"schemaVersion":2,"manifests":[]}' },
      { name: "blobs", type: "directory" },
    ]));
    for (const file of [saved, oci]) {
      expect(cbox(["import", "--root", store, file, "x"])).toEqual({
        code: 125,
        stdout: "",
        stderr: `cbox: cbox import: ${file} is an image archive (docker save or an OCI layout), not a root file system: load it with cbox load -i ${file}\n`,
      });
    }
    expect(cbox(["images", "-q", "--root", store]).stdout).toBe("");
    expect(existsSync(join(store, "images")) ? readdirSync(join(store, "images")).filter((n) => n !== "tags") : []).toEqual([]);
    // A root file system is still imported.
    expect(cbox(["import", "--root", store, rootfsTar(join(fx.work, "plain")), "plain"]).code).toBe(0);
  });
});

describe.skipIf(!isRoot)("what ps shows", () => {
  test("an --init container's PID 1 shows init and the command, not cbox's command line on the host", () => {
    const r = cbox(["run", "--rm", "--init", "--root", fx.store, "--network", "none", "--rootfs", fx.rootfs, "sh", "-c", "tr '\\0' '|' < /proc/1/cmdline; echo; ps -o pid,args | grep '^ *1 '"]);
    expect(r.stderr).toBe("");
    const [cmdline, ps] = r.stdout.trim().split("\n");
    expect(cmdline).toBe(`init sh -c tr '\\0' '|' < /proc/1/cmdline; echo; ps -o pid,args | grep '^ *1 '|`);
    expect(ps).toMatch(/^ *1 init sh -c tr/);
    expect(r.stdout).not.toContain(fx.store);
  });

  test("a detached container's monitor shows cbox-monitor and the container's name (or short id)", () => {
    try {
      const named = cbox(["run", "-d", "--name", "watched", "--root", fx.store, "--network", "none", "--rootfs", fx.rootfs, "sleep", "300"]);
      const unnamed = cbox(["run", "-d", "--root", fx.store, "--network", "none", "--rootfs", fx.rootfs, "sleep", "300"]);
      for (const [ref, shown] of [["watched", "watched"], [unnamed.stdout.trim(), unnamed.stdout.trim().slice(0, 12)]]) {
        const pid = JSON.parse(cbox(["inspect", "--root", fx.store, ref!]).stdout)[0].State.Pid;
        const monitor = Number(readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ")[1]);
        expect(readFileSync(`/proc/${monitor}/cmdline`, "utf8")).toBe(`cbox-monitor ${shown}\0`); // one argument, NUL-ended as every cmdline
      }
      expect(named.code).toBe(0);
    } finally {
      cbox(["rm", "-f", "--root", fx.store, "watched"]);
      for (const id of cbox(["ps", "-aq", "--root", fx.store]).stdout.split("\n").filter(Boolean)) cbox(["rm", "-f", "--root", fx.store, id]);
    }
  });
});

describe("shell completion", () => {
  /** What bash's completion offers for the words typed (the last one being completed). */
  function complete(words: string[], env: Record<string, string> = {}): string[] {
    const script = cbox(["completion", "bash"]).stdout;
    const file = join(fx.work, "completion.bash");
    writeFileSync(file, script);
    const quoted = words.map((w) => `'${w}'`).join(" ");
    const r = Bun.spawnSync(["bash", "-c", `source ${file}; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _cbox; printf '%s\\n' "\${COMPREPLY[@]}"`], {
      env: { ...baseEnv(), PATH: `${join(cboxBin, "..")}:/usr/bin:/bin`, ...env },
    });
    expect(r.stderr.toString()).toBe("");
    return r.stdout.toString().split("\n").filter(Boolean).sort();
  }

  test("bash: commands, groups' subcommands and each command's flags, from cbox's own tables", () => {
    expect(complete(["cbox", "re"])).toEqual(["rename", "restart"]);
    expect(complete(["cbox", "network", "c"])).toEqual(["connect", "create"]);
    expect(complete(["cbox", "run", "--re"])).toEqual(["--read-only", "--restart"]);
    expect(complete(["cbox", "network", "create", "--s"])).toEqual(["--subnet"]);
    expect(complete(["cbox", "stop", "-"])).toContain("--time");
  });

  test.skipIf(!isRoot)("bash: container and image names come from the store", () => {
    const root = join(fx.work, "completion-store");
    try {
      expect(cbox(["run", "--name", "compl-one", "--root", root, "--network", "none", "--rootfs", fx.rootfs, "true"]).code).toBe(0);
      expect(complete(["cbox", "rm", "compl"], { CBOX_ROOT: root })).toEqual(["compl-one"]);
      expect(complete(["cbox", "network", "inspect", ""], { CBOX_ROOT: root })).toEqual(["bridge", "host", "none"]);
    } finally {
      cbox(["rm", "-f", "--root", root, "compl-one"]);
    }
  });

  test("zsh and fish scripts; bad input is one line and 125", () => {
    expect(cbox(["completion", "zsh"]).stdout).toStartWith("#compdef cbox\n");
    const fish = cbox(["completion", "fish"]).stdout;
    expect(fish).toContain("complete -c cbox -n '__fish_seen_subcommand_from run' -l restart");
    expect(fish).toContain("complete -c cbox -n '__fish_seen_subcommand_from rm' -a '(cbox _names containers 2>/dev/null)'");
    expect(Bun.spawnSync(["bash", "-n", "-c", cbox(["completion", "bash"]).stdout]).exitCode).toBe(0);
    expect(cbox(["completion", "tcsh"])).toEqual({ code: 125, stdout: "", stderr: "cbox: cbox completion tcsh: expected bash, zsh or fish\n" });
    expect(cbox(["completion"])).toEqual({ code: 125, stdout: "", stderr: "cbox: cbox completion needs one shell: bash, zsh or fish\n" });
    expect(cbox(["_names", "things"])).toMatchObject({ code: 125, stderr: "cbox: cbox _names needs one of containers, images, networks, volumes\n" });
  });
});
