import { afterEach, describe, expect, test } from "bun:test";
import { imageArch } from "../../src/image/arch.ts";
import { alpineRelease, formatRef, parseRef, releaseFolder } from "../../src/image/ref.ts";
import { thrown } from "./helpers.ts";

describe("parseRef", () => {
  test("a bare name means :latest", () => {
    expect(parseRef("alpine")).toEqual({ name: "alpine", tag: "latest" });
  });

  test("name and tag", () => {
    expect(parseRef("alpine:3.20")).toEqual({ name: "alpine", tag: "3.20" });
    expect(parseRef("a/b:tag")).toEqual({ name: "a/b", tag: "tag" });
    expect(parseRef("my-img_x:V1.0-rc_2")).toEqual({ name: "my-img_x", tag: "V1.0-rc_2" });
  });

  test("registry-like names with dots and several path parts", () => {
    expect(parseRef("registry.example.com/team/app:1.2.3")).toEqual({ name: "registry.example.com/team/app", tag: "1.2.3" });
    expect(parseRef("quay.io/org/img")).toEqual({ name: "quay.io/org/img", tag: "latest" });
  });

  test("an uppercase name is refused", () => {
    expect(thrown(() => parseRef("Alpine")).message).toBe('invalid image name "Alpine": lowercase letters, digits and . _ - / only');
    expect(thrown(() => parseRef("Alpine:3.20")).message).toBe('invalid image name "Alpine:3.20": lowercase letters, digits and . _ - / only');
  });

  test("an empty tag is refused", () => {
    expect(thrown(() => parseRef("alpine:")).message).toBe('invalid image tag "alpine:"');
  });

  test("a tag with / makes the whole text a (bad) name", () => {
    expect(thrown(() => parseRef("alpine:a/b")).message).toBe('invalid image name "alpine:a/b": lowercase letters, digits and . _ - / only');
  });

  test("spaces are refused, in name or tag", () => {
    expect(thrown(() => parseRef("al pine")).message).toBe('invalid image name "al pine": lowercase letters, digits and . _ - / only');
    expect(thrown(() => parseRef("alpine:3 20")).message).toBe('invalid image tag "alpine:3 20"');
  });

  test("empty text, separators at the ends and a tag starting with . are refused", () => {
    expect(thrown(() => parseRef("")).message).toBe('invalid image name "": lowercase letters, digits and . _ - / only');
    expect(thrown(() => parseRef("/alpine")).message).toStartWith('invalid image name "/alpine"');
    expect(thrown(() => parseRef("alpine/")).message).toStartWith('invalid image name "alpine/"');
    expect(thrown(() => parseRef("-alpine")).message).toStartWith('invalid image name "-alpine"');
    expect(thrown(() => parseRef("alpine:.x")).message).toBe('invalid image tag "alpine:.x"');
  });

  test("a tag of 128 characters is fine, 129 is not", () => {
    expect(parseRef(`a:${"t".repeat(128)}`).tag).toHaveLength(128);
    expect(thrown(() => parseRef(`a:${"t".repeat(129)}`)).message).toStartWith("invalid image tag");
  });
});

describe("formatRef", () => {
  test("name:tag, and it round-trips through parseRef", () => {
    expect(formatRef({ name: "alpine", tag: "3.20" })).toBe("alpine:3.20");
    expect(formatRef(parseRef("alpine"))).toBe("alpine:latest");
    expect(formatRef(parseRef("reg.io/a/b:x"))).toBe("reg.io/a/b:x");
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
