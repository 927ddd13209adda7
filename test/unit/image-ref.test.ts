import { afterEach, describe, expect, test } from "bun:test";
import { imageArch } from "../../src/image/arch.ts";
import { alpineRelease, formatRef, parseRef, releaseFolder } from "../../src/image/ref.ts";
import { thrown } from "./helpers.ts";

describe("parseRef", () => {
  test("alpine[:TAG], written just so, comes from the Alpine mirror (no remote)", () => {
    expect(parseRef("alpine")).toEqual({ name: "alpine", tag: "latest" });
    expect(parseRef("alpine:3.20")).toEqual({ name: "alpine", tag: "3.20" });
  });

  test("Docker Hub's alpine by its full name is the registry's, stored apart from the mirror's", () => {
    expect(parseRef("docker.io/library/alpine:3.20")).toEqual({
      name: "docker.io/library/alpine",
      tag: "3.20",
      remote: { registry: "docker.io", repository: "library/alpine", tag: "3.20" },
    });
    expect(parseRef("alpine@sha256:" + "a".repeat(64)).name).toBe("docker.io/library/alpine");
  });

  test("other names are registry references under their familiar names", () => {
    expect(parseRef("a/b:tag")).toEqual({ name: "a/b", tag: "tag", remote: { registry: "docker.io", repository: "a/b", tag: "tag" } });
    expect(parseRef("my-img_x:V1.0-rc_2")).toMatchObject({ name: "my-img_x", tag: "V1.0-rc_2", remote: { repository: "library/my-img_x" } });
    expect(parseRef("registry.example.com/team/app:1.2.3")).toMatchObject({ name: "registry.example.com/team/app", tag: "1.2.3", remote: { registry: "registry.example.com", repository: "team/app" } });
    expect(parseRef("quay.io/org/img")).toMatchObject({ name: "quay.io/org/img", tag: "latest" });
    expect(parseRef("localhost:5000/x/y:1")).toMatchObject({ name: "localhost:5000/x/y", tag: "1", remote: { registry: "localhost:5000", repository: "x/y" } });
  });

  test("a digest alone leaves the tag unset", () => {
    const digest = "sha256:" + "b".repeat(64);
    expect(parseRef(`nginx@${digest}`)).toEqual({ name: "nginx", digest, remote: { registry: "docker.io", repository: "library/nginx", digest } });
  });

  test("bad references are refused with the text and the rule it breaks", () => {
    expect(thrown(() => parseRef("Alpine")).message).toBe('invalid image reference "Alpine": a repository name must be lowercase');
    expect(thrown(() => parseRef("alpine:")).message).toStartWith('invalid image reference "alpine:": a tag is up to 128');
    expect(thrown(() => parseRef("alpine:3 20")).message).toStartWith('invalid image reference "alpine:3 20": a tag');
    expect(thrown(() => parseRef("al pine")).message).toStartWith('invalid image reference "al pine": a repository name');
    expect(thrown(() => parseRef("")).message).toBe('invalid image reference "": it is empty; give NAME[:TAG], such as nginx:1.27');
    for (const bad of ["/alpine", "alpine/", "-alpine", "alpine:.x"]) expect(thrown(() => parseRef(bad)).message).toStartWith(`invalid image reference "${bad}"`);
  });

  test("a tag of 128 characters is fine, 129 is not", () => {
    expect(parseRef(`a:${"t".repeat(128)}`).tag).toHaveLength(128);
    expect(thrown(() => parseRef(`a:${"t".repeat(129)}`)).message).toStartWith("invalid image reference");
  });
});

describe("formatRef", () => {
  test("name:tag, and it round-trips through parseRef", () => {
    expect(formatRef({ name: "alpine", tag: "3.20" })).toBe("alpine:3.20");
    expect(formatRef(parseRef("alpine"))).toBe("alpine:latest");
    expect(formatRef(parseRef("reg.io/a/b:x"))).toBe("reg.io/a/b:x");
    expect(formatRef(parseRef(`nginx@sha256:${"c".repeat(64)}`))).toBe(`nginx@sha256:${"c".repeat(64)}`);
  });
});

describe("alpineRelease", () => {
  test("latest is the latest stable release", () => {
    expect(alpineRelease("latest")).toEqual({ kind: "latest-stable" });
  });
  test("edge", () => {
    expect(alpineRelease("edge")).toEqual({ kind: "edge" });
  });
  test("X.Y is a branch", () => {
    expect(alpineRelease("3.20")).toEqual({ kind: "branch", branch: "v3.20" });
  });
  test("X.Y.Z is an exact version on its branch", () => {
    expect(alpineRelease("3.20.3")).toEqual({ kind: "exact", branch: "v3.20", version: "3.20.3" });
  });
  test("tags naming no release", () => {
    for (const tag of ["3", "junk", "v3.20", "3.20.", "3.20.3.1", "3.x", "latest-stable", "Edge", ""]) {
      expect(alpineRelease(tag)).toBeUndefined();
    }
  });
});

describe("releaseFolder", () => {
  test("the mirror folder of each kind", () => {
    expect(releaseFolder({ kind: "latest-stable" })).toBe("latest-stable");
    expect(releaseFolder({ kind: "edge" })).toBe("edge");
    expect(releaseFolder({ kind: "branch", branch: "v3.20" })).toBe("v3.20");
    expect(releaseFolder({ kind: "exact", branch: "v3.19", version: "3.19.4" })).toBe("v3.19");
    expect(releaseFolder(alpineRelease("3.18.1")!)).toBe("v3.18");
  });
});

describe("imageArch", () => {
  const realArch = process.arch;
  const setArch = (value: string) => Object.defineProperty(process, "arch", { value, configurable: true, enumerable: true });
  afterEach(() => setArch(realArch));

  test.if(realArch === "x64")("an x64 host gets x86_64 images", () => {
    expect(imageArch()).toBe("x86_64");
  });

  test("each Node arch maps to Alpine's name", () => {
    const map: Record<string, string> = {
      x64: "x86_64",
      arm64: "aarch64",
      arm: "armv7",
      ia32: "x86",
      ppc64: "ppc64le",
      s390x: "s390x",
      riscv64: "riscv64",
      loong64: "loongarch64",
    };
    for (const [node, alpine] of Object.entries(map)) {
      setArch(node);
      expect(imageArch()).toBe(alpine);
    }
  });

  test("a CPU without Alpine images asks for --arch", () => {
    setArch("mips");
    expect(thrown(() => imageArch()).message).toBe("no Alpine images for this CPU (mips); give --arch");
  });

  test("--arch accepts Alpine's names, armhf included, whatever the host", () => {
    for (const a of ["x86_64", "aarch64", "armv7", "armhf", "x86", "ppc64le", "s390x", "riscv64", "loongarch64"]) {
      expect(imageArch(a)).toBe(a);
    }
    setArch("mips");
    expect(imageArch("aarch64")).toBe("aarch64");
  });

  test("a bad --arch lists the accepted values", () => {
    const list = "x86_64, aarch64, armv7, x86, ppc64le, s390x, riscv64, loongarch64, armhf";
    expect(thrown(() => imageArch("amd64")).message).toBe(`--arch "amd64": not an Alpine architecture (${list})`);
    expect(thrown(() => imageArch("x64")).message).toBe(`--arch "x64": not an Alpine architecture (${list})`);
    expect(thrown(() => imageArch("")).message).toBe(`--arch "": not an Alpine architecture (${list})`);
  });
});
