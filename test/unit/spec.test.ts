import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildSpec, DEFAULT_PATH, type RunOptions } from "../../src/container/spec.ts";
import { applyEnv, containerEnv } from "../../src/container/env.ts";
import { resolveUser } from "../../src/container/user.ts";
import { thrown } from "./helpers.ts";

let tmp: string;
let rootfs: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-spec-"));
  rootfs = join(tmp, "rootfs");
  mkdirSync(join(rootfs, "etc"), { recursive: true });
  writeFileSync(
    join(rootfs, "etc/passwd"),
    [
      "root:x:0:0:root:/root:/bin/sh",
      "alice:x:1000:1000:Alice:/home/alice:/bin/sh",
      "bob:x:1001:100::/home/bob:/bin/sh",
      "nohome:x:1002:1002:::/bin/sh",
      "broken line",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(rootfs, "etc/group"),
    ["root:x:0:", "users:x:100:alice", "alice:x:1000:", "wheel:x:10:alice,bob", "audio:x:29:bob", "wheel2:x:10:alice", ""].join("\n"),
  );
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));


const ctx = { hostname: "box", home: "/root" };

describe("containerEnv", () => {
  test("defaults PATH, HOSTNAME and HOME", () => {
    expect(containerEnv({ env: [], envFiles: [] }, {}, ctx)).toEqual([`PATH=${DEFAULT_PATH}`, "HOSTNAME=box", "HOME=/root"]);
  });

  test("-e overrides a default in place and adds new ones after", () => {
    const env = containerEnv({ env: ["HOME=/x", "A=1=2", "EMPTY="], envFiles: [] }, {}, ctx);
    expect(env).toEqual([`PATH=${DEFAULT_PATH}`, "HOSTNAME=box", "HOME=/x", "A=1=2", "EMPTY="]);
  });

  test("env file: comments, blank lines, leading spaces and CRLF", () => {
    const file = join(tmp, "env1");
    writeFileSync(file, "# a comment\r\n\r\nA=1\r\n   B=two words\r\n  # indented comment\n\nC=3");
    const env = containerEnv({ env: [], envFiles: [file] }, {}, ctx);
    expect(env.slice(3)).toEqual(["A=1", "B=two words", "C=3"]);
  });

  test("-e overrides the env file", () => {
    const file = join(tmp, "env2");
    writeFileSync(file, "A=file\nB=file\n");
    const env = containerEnv({ env: ["A=flag"], envFiles: [file] }, {}, ctx);
    expect(env).toContain("A=flag");
    expect(env).toContain("B=file");
    expect(env).not.toContain("A=file");
  });

  test("a bare NAME copies the host's value and is skipped when unset", () => {
    const file = join(tmp, "env3");
    writeFileSync(file, "FROMFILE\nMISSING2\n");
    const host = { FOO: "bar", FROMFILE: "f" };
    const env = containerEnv({ env: ["FOO", "MISSING"], envFiles: [file] }, host, ctx);
    expect(env).toContain("FOO=bar");
    expect(env).toContain("FROMFILE=f");
    expect(env.some((e) => e.startsWith("MISSING"))).toBe(false);
    expect(env).toHaveLength(5);
  });

  test("an invalid variable name throws", () => {
    expect(thrown(() => containerEnv({ env: ["=x"], envFiles: [] }, {}, ctx)).message).toBe('--env =x: invalid variable name ""');
    expect(thrown(() => containerEnv({ env: ["A B=1"], envFiles: [] }, {}, ctx)).message).toBe(
      '--env A B=1: invalid variable name "A B"',
    );
  });

  test("an invalid name in an env file names the file and line", () => {
    const file = join(tmp, "env4");
    writeFileSync(file, "A=1\n# c\n=bad\n");
    expect(thrown(() => containerEnv({ env: [], envFiles: [file] }, {}, ctx)).message).toBe(
      `--env-file ${file}:3: invalid variable name ""`,
    );
  });

  test("an unreadable env file throws", () => {
    const file = join(tmp, "no-such-env-file");
    expect(thrown(() => containerEnv({ env: [], envFiles: [file] }, {}, ctx)).message).toBe(`--env-file ${file}: cannot read it`);
  });
});

describe("resolveUser", () => {
  test("a numeric uid in passwd takes its gid, home and groups (primary first, no duplicates)", () => {
    expect(resolveUser("1000", [rootfs])).toEqual({ uid: 1000, gid: 1000, groups: [1000, 100, 10], home: "/home/alice" });
  });

  test("root is 0:0 with home /root", () => {
    expect(resolveUser("0", [rootfs])).toEqual({ uid: 0, gid: 0, groups: [0], home: "/root" });
  });

  test("uid:gid is taken as given", () => {
    expect(resolveUser("1234:5678", [rootfs])).toEqual({ uid: 1234, gid: 5678, groups: [5678], home: "/" });
  });

  test("a uid not in passwd gets gid 0 and home /", () => {
    expect(resolveUser("4242", [rootfs])).toEqual({ uid: 4242, gid: 0, groups: [0], home: "/" });
  });

  test("a name is looked up; supplementary groups come from /etc/group membership", () => {
    expect(resolveUser("bob", [rootfs])).toEqual({ uid: 1001, gid: 100, groups: [100, 10, 29], home: "/home/bob" });
  });

  test("name:group uses the group's gid, listed once, first", () => {
    expect(resolveUser("alice:wheel", [rootfs])).toEqual({ uid: 1000, gid: 10, groups: [10, 100], home: "/home/alice" });
  });

  test("an empty home field gives /", () => {
    expect(resolveUser("nohome", [rootfs]).home).toBe("/");
  });

  test("an unknown user or group throws with the exact message", () => {
    expect(thrown(() => resolveUser("carol", [rootfs])).message).toBe('--user: no user "carol" in the image\'s /etc/passwd');
    expect(thrown(() => resolveUser("alice:nogroup", [rootfs])).message).toBe('--user: no group "nogroup" in the image\'s /etc/group');
  });

  test("malformed values are refused", () => {
    for (const v of ["1:2:3", ":5", "5:", ""]) {
      expect(thrown(() => resolveUser(v, [rootfs])).message).toBe(`--user ${JSON.stringify(v)}: expected UID[:GID] or NAME[:GROUP]`);
    }
  });

  test("an id beyond the range is refused", () => {
    expect(thrown(() => resolveUser("4294967295", [rootfs])).message).toBe('--user "4294967295": id 4294967295 is out of range');
  });

  test("a rootfs without /etc/passwd still takes numeric ids", () => {
    const bare = join(tmp, "bare");
    mkdirSync(bare, { recursive: true });
    expect(resolveUser("7:8", [bare])).toEqual({ uid: 7, gid: 8, groups: [8], home: "/" });
  });
});

describe("buildSpec", () => {
  const id = "0123456789abcdef".repeat(4);
  const opts = (o: Partial<RunOptions> = {}): RunOptions => ({
    rootfs,
    command: ["sh"],
    env: [],
    envFiles: [],
    interactive: false,
    remove: false,
    ...o,
  });
  const fails = (o: Partial<RunOptions>, message: string) => {
    const err = thrown(() => buildSpec(opts(o), id, {}));
    expect(err.message).toBe(message);
    expect(err.exitCode).toBe(125);
  };

  test("a valid spec with defaults", () => {
    const spec = buildSpec(opts({ command: ["sh", "-c", "x"] }), id, {});
    expect(spec.hostname).toBe("0123456789ab");
    expect(spec.workdir).toBe("/");
    expect(spec.name).toBe("");
    expect(spec.rootfs).toBe(rootfs);
    expect(spec.user).toEqual({ uid: 0, gid: 0, groups: [0], home: "/root" });
    expect(spec.env).toEqual([`PATH=${DEFAULT_PATH}`, "HOSTNAME=0123456789ab", "HOME=/root"]);
    expect(spec.command).toEqual(["sh", "-c", "x"]);
  });

  test("HOME follows the resolved user", () => {
    expect(buildSpec(opts({ user: "alice" }), id, {}).env).toContain("HOME=/home/alice");
  });

  test("missing --rootfs", () => fails({ rootfs: undefined }, "no root filesystem: give --rootfs DIR"));

  test("a rootfs that does not exist", () => {
    const p = join(tmp, "nope");
    fails({ rootfs: p }, `--rootfs ${p}: no such directory`);
  });

  test("a rootfs that is a file", () => {
    const p = join(tmp, "afile");
    writeFileSync(p, "");
    fails({ rootfs: p }, `--rootfs ${p}: not a directory`);
  });

  test("a rootfs path with ',' or ':'", () => {
    for (const bad of ["a,b", "a:b"]) {
      const p = join(tmp, bad);
      mkdirSync(p, { recursive: true });
      fails({ rootfs: p }, `--rootfs: overlayfs cannot use a path with ',' or ':' in it: ${p}`);
    }
  });

  test("an empty command", () => fails({ command: [] }, "no command given: cbox run --rootfs DIR CMD [ARG...]"));

  test("a bad name", () => fails({ name: "-x" }, '--name "-x": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed'));

  test("a good name is kept", () => {
    expect(buildSpec(opts({ name: "web_1.a-b" }), id, {}).name).toBe("web_1.a-b");
  });

  test("a hostname with a space", () =>
    fails({ hostname: "a b" }, `--hostname "a b": not a valid host name (letters, digits, '.', '-'; at most 63)`));

  test("a hostname of 64 characters is refused, 63 accepted", () => {
    const long = "a".repeat(64);
    fails({ hostname: long }, `--hostname "${long}": not a valid host name (letters, digits, '.', '-'; at most 63)`);
    expect(buildSpec(opts({ hostname: "a".repeat(63) }), id, {}).hostname).toBe("a".repeat(63));
  });

  test("a relative workdir", () => fails({ workdir: "a/b" }, "--workdir must be an absolute path: a/b"));

  test("--stop-timeout: docker's 10 s by default, whole seconds, 0 allowed", () => {
    expect(buildSpec(opts(), id, {}).stopTimeout).toBe(10);
    expect(buildSpec(opts({ stopTimeout: "0" }), id, {}).stopTimeout).toBe(0);
    expect(buildSpec(opts({ stopTimeout: "25" }), id, {}).stopTimeout).toBe(25);
    for (const bad of ["", "1.5", "-1", "1s", "9999999"]) {
      fails({ stopTimeout: bad }, `--stop-timeout ${JSON.stringify(bad)}: expected a number of seconds`);
    }
  });

  test("-v: host path made real, target normalized, ro; --userns host or private", () => {
    const spec = buildSpec(opts({ volumes: [`${rootfs}/etc/../etc:/a/../data:ro`, `${rootfs}/etc/passwd:/p`], userns: "private" }), id, {});
    expect(spec.volumes).toEqual([
      { source: `${rootfs}/etc`, target: "/data", readonly: true, isFile: false },
      { source: `${rootfs}/etc/passwd`, target: "/p", readonly: false, isFile: true },
    ]);
    expect(spec.userns).toBe("private");
    expect(buildSpec(opts(), id, {}).userns).toBe("host");
    fails({ userns: "keep-id" }, '--userns "keep-id": expected host or private');
  });

  test("-t and -i are kept as given", () => {
    const spec = buildSpec(opts({ tty: true, interactive: true }), id, {});
    expect([spec.tty, spec.interactive]).toEqual([true, true]);
    expect(buildSpec(opts(), id, {}).tty).toBe(false);
  });
});

describe("applyEnv", () => {
  test("exec's environment: the container's, then -e, later ones winning; a bare name takes the host's value", () => {
    const base = ["PATH=/bin", "HOME=/root", "A=1=2"];
    expect(applyEnv(base, { env: ["HOME=/x", "B", "C"], envFiles: [] }, { B: "from-host" })).toEqual(["PATH=/bin", "HOME=/x", "A=1=2", "B=from-host"]);
  });
});
