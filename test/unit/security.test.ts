import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSecurity } from "../../src/container/security.ts";
import { escapeThroughSymlinks } from "../../src/container/target-path.ts";
import { parseMount, parseTmpfs } from "../../src/container/volumes.ts";
import { CboxError } from "../../src/errors.ts";
import { CAPABILITY_NAMES, capabilityMask, containerCapabilities, DEFAULT_CAPABILITIES } from "../../src/linux/capabilities.ts";
import { MountFlag } from "../../src/linux/mounts.ts";

const ALL = [...CAPABILITY_NAMES];
const caps = (add: string[], drop: string[], privileged = false, held = ALL) => containerCapabilities({ add, drop, privileged }, held);

/** The one-line message of the CboxError fn throws. */
function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CboxError);
    return (err as Error).message;
  }
  throw new Error("expected a CboxError");
}

describe("capabilities", () => {
  test("docker's default set is the mask docker containers show (a80425fb)", () => {
    expect(capabilityMask(caps([], []))).toBe(0xa80425fbn);
    expect(caps([], []).length).toBe(DEFAULT_CAPABILITIES.length);
  });

  test("add and drop take any spelling; an added one wins over a dropped one", () => {
    expect(caps(["net_admin"], ["CAP_CHOWN", "Mknod"])).not.toContain("CAP_CHOWN");
    expect(caps(["net_admin"], ["CAP_CHOWN"])).toContain("CAP_NET_ADMIN");
    expect(caps(["CHOWN"], ["CHOWN"])).toContain("CAP_CHOWN");
  });

  test("drop ALL keeps only the added; add ALL keeps all but the dropped; privileged is all held", () => {
    expect(caps(["NET_BIND_SERVICE"], ["ALL"])).toEqual(["CAP_NET_BIND_SERVICE"]);
    expect(caps([], ["all"])).toEqual([]);
    expect(caps(["ALL"], ["SYS_ADMIN"])).toEqual(ALL.filter((c) => c !== "CAP_SYS_ADMIN"));
    expect(caps([], [], true)).toEqual(ALL);
  });

  test("only what cbox itself holds can be given (a child's bounding set is at most its parent's)", () => {
    const held = ALL.filter((c) => c !== "CAP_SYS_RESOURCE");
    expect(caps([], [], true, held)).not.toContain("CAP_SYS_RESOURCE");
    expect(refusal(() => caps(["SYS_RESOURCE"], [], false, held))).toContain("--cap-add CAP_SYS_RESOURCE: cbox cannot give it");
  });

  test("unknown names: one line naming the flag and the value", () => {
    expect(refusal(() => caps(["SYS_WIZARD"], []))).toBe("--cap-add SYS_WIZARD: unknown capability");
    expect(refusal(() => caps([], ["nope"]))).toBe("--cap-drop nope: unknown capability");
  });
});

describe("--security-opt", () => {
  const check = () => {};
  const parse = (securityOpt: string[], privileged = false) => parseSecurity({ securityOpt, privileged }, check);

  test("defaults: the default filter, privileges may be gained; --privileged: unconfined", () => {
    expect(parse([])).toMatchObject({ seccomp: { kind: "default" }, noNewPrivileges: false, privileged: false, readOnly: false });
    expect(parse([], true).seccomp).toEqual({ kind: "unconfined" });
  });

  test("no-new-privileges in docker's spellings; seccomp=unconfined", () => {
    for (const v of ["no-new-privileges", "no-new-privileges=true", "no-new-privileges:true"]) expect(parse([v]).noNewPrivileges).toBe(true);
    expect(parse(["no-new-privileges=false"]).noNewPrivileges).toBe(false);
    expect(parse(["seccomp=unconfined"]).seccomp).toEqual({ kind: "unconfined" });
    expect(parse(["apparmor=unconfined", "label=disable"]).seccomp).toEqual({ kind: "default" });
  });

  test("a profile file is read and checked; its problem is named in one line", () => {
    const dir = mkdtempSync(join(tmpdir(), "cbox-sec-"));
    const file = join(dir, "p.json");
    writeFileSync(file, "{}");
    expect(parseSecurity({ securityOpt: [`seccomp=${file}`] }, check).seccomp).toEqual({ kind: "profile", path: file, text: "{}" });
    const failing = () => {
      throw new Error("p.json: defaultAction is missing");
    };
    expect(refusal(() => parseSecurity({ securityOpt: [`seccomp=${file}`] }, failing))).toBe("--security-opt seccomp: p.json: defaultAction is missing");
    expect(refusal(() => parse([`seccomp=${dir}/none.json`]))).toBe(`--security-opt seccomp: cannot read ${dir}/none.json`);
    rmSync(dir, { recursive: true });
  });

  test("anything else is refused", () => {
    expect(refusal(() => parse(["apparmor=docker-default"]))).toContain("--security-opt apparmor=docker-default: not supported");
    expect(refusal(() => parse(["no-new-privileges=maybe"]))).toContain("expected no-new-privileges");
    expect(refusal(() => parse(["seccomp"]))).toContain("not supported");
  });
});

describe("--tmpfs and --mount", () => {
  const { nosuid, nodev, noexec, rdonly } = MountFlag;

  test("--tmpfs: docker's default flags; options become flags or mount data", () => {
    expect(parseTmpfs("/run")).toEqual({ target: "/run", flags: nosuid | nodev | noexec, data: "" });
    expect(parseTmpfs("/t/:size=64m,mode=1777,exec,ro,uid=5")).toEqual({ target: "/t", flags: nosuid | nodev | rdonly, data: "size=64m,mode=1777,uid=5" });
  });

  test("--tmpfs: bad paths and options are refused in one line", () => {
    expect(refusal(() => parseTmpfs("run"))).toBe("--tmpfs run: the container path must be absolute");
    expect(refusal(() => parseTmpfs("/"))).toContain("cannot mount over the container's /");
    expect(refusal(() => parseTmpfs("/t:size=lots"))).toContain('--tmpfs /t:size=lots: unknown or malformed option "size=lots"');
    expect(refusal(() => parseTmpfs("/t:mode=999"))).toContain("malformed option");
    expect(refusal(() => parseTmpfs("/t:suid,bogus"))).toContain('"bogus"');
  });

  test("--mount type=bind and type=tmpfs, with docker's key spellings", () => {
    const dir = mkdtempSync(join(tmpdir(), "cbox-mnt-"));
    expect(parseMount(`type=bind,src=${dir},dst=/data,ro`)).toEqual({ kind: "bind", volume: { source: dir, target: "/data", readonly: true, isFile: false } });
    expect(parseMount(`type=bind,source=${dir},target=/data,readonly=false`)).toMatchObject({ volume: { readonly: false } });
    expect(parseMount("type=tmpfs,destination=/cache,tmpfs-size=1m,tmpfs-mode=700")).toEqual({
      kind: "tmpfs",
      tmpfs: { target: "/cache", flags: nosuid | nodev | noexec, data: "size=1m,mode=700" },
    });
    rmSync(dir, { recursive: true });
  });

  test("--mount: each mistake named", () => {
    expect(refusal(() => parseMount("type=bind,target=/x"))).toBe("--mount type=bind,target=/x: source= is required for type=bind");
    expect(refusal(() => parseMount("type=tmpfs"))).toBe("--mount type=tmpfs: target= is required");
    expect(refusal(() => parseMount("type=volume,src=a/b,dst=/x"))).toBe('--mount type=volume,src=a/b,dst=/x: "a/b" is not a volume name (two or more of a-z A-Z 0-9 _ . -, the first a letter or digit); a host path is type=bind');
    expect(refusal(() => parseMount("type=bind,src=rel,dst=/x"))).toContain("type=bind needs an absolute host path as source");
    expect(refusal(() => parseMount("type=nfs,dst=/x"))).toContain("type= must be bind, volume or tmpfs");
    expect(refusal(() => parseMount("type=tmpfs,dst=/x,colour=red"))).toContain('unknown field "colour"');
    expect(refusal(() => parseMount("type=tmpfs,dst=/x,dst=/y"))).toContain("target is given twice");
    expect(refusal(() => parseMount("type=tmpfs,dst=/x,ro=maybe"))).toContain("readonly=maybe: expected true or false");
    expect(refusal(() => parseMount("type=bind,src=/no/such/dir,dst=/x"))).toContain("/no/such/dir does not exist");
    expect(refusal(() => parseMount("type=tmpfs,src=/tmp,dst=/x"))).toContain("type=tmpfs takes no source");
  });
});

describe("mount targets through the image's symlinks", () => {
  const dir = mkdtempSync(join(tmpdir(), "cbox-links-"));
  afterAll(() => rmSync(dir, { recursive: true }));
  const upper = join(dir, "upper");
  const lower = join(dir, "lower");
  mkdirSync(join(lower, "etc"), { recursive: true });
  mkdirSync(join(lower, "d/e"), { recursive: true });
  mkdirSync(upper);
  symlinkSync("../../../../../../tmp", join(lower, "up"));
  symlinkSync("/etc", join(lower, "abs"));
  symlinkSync("../../..", join(lower, "d/e/top"));
  symlinkSync("../..", join(lower, "d/e/root"));
  symlinkSync("/d/e/top", join(lower, "chain"));
  symlinkSync("loop2", join(lower, "loop1"));
  symlinkSync("loop1", join(lower, "loop2"));
  writeFileSync(join(lower, "file"), "");
  symlinkSync("..", join(upper, "etc")); // the container replaced /etc with a link since it last ran
  const layers = [upper, lower];

  test("inside: absolute links stay in the root, missing parts and plain folders are fine", () => {
    expect(escapeThroughSymlinks([lower], "/abs/x")).toBeUndefined();
    expect(escapeThroughSymlinks(layers, "/d/e/root/x")).toBeUndefined();
    expect(escapeThroughSymlinks(layers, "/new/deep/dir")).toBeUndefined();
    expect(escapeThroughSymlinks(layers, "/d/e")).toBeUndefined();
    expect(escapeThroughSymlinks(layers, "/file")).toBeUndefined();
    expect(escapeThroughSymlinks([lower], "/etc/x")).toBeUndefined();
  });

  test("a link whose .. climbs above the root is named", () => {
    expect(escapeThroughSymlinks(layers, "/up")).toBe("/up leads out of the container's root through the symlink /up -> ../../../../../../tmp");
    expect(escapeThroughSymlinks(layers, "/d/e/top/x")).toContain("through the symlink /d/e/top -> ../../..");
    expect(escapeThroughSymlinks(layers, "/chain")).toContain("through the symlink /d/e/top -> ../../..");
  });

  test("the upper layer is read first; a loop is refused", () => {
    expect(escapeThroughSymlinks(layers, "/etc/x")).toContain("through the symlink /etc -> ..");
    expect(escapeThroughSymlinks(layers, "/loop1/x")).toBe("/loop1/x has too many levels of symbolic links");
  });
});
