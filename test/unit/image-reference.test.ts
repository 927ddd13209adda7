import { describe, expect, test } from "bun:test";
import { familiarRegistryRef, formatRegistryRef, parseRegistryRef, plainHttpRegistry } from "../../src/image/reference.ts";
import { thrown } from "./helpers.ts";

const DIGEST = `sha256:${"ab".repeat(32)}`;

describe("parseRegistryRef: docker's reading of a reference", () => {
  test.each([
    ["nginx", "docker.io/library/nginx:latest", "nginx:latest"],
    ["nginx:1.27", "docker.io/library/nginx:1.27", "nginx:1.27"],
    ["user/app", "docker.io/user/app:latest", "user/app:latest"],
    ["docker.io/library/alpine:3.20", "docker.io/library/alpine:3.20", "alpine:3.20"],
    ["index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"],
    ["ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2", "ghcr.io/org/app:1.2"],
    ["localhost:5000/app", "localhost:5000/app:latest", "localhost:5000/app:latest"],
    ["localhost/app:v1", "localhost/app:v1", "localhost/app:v1"],
    ["127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t", "127.0.0.1:5000/a/b/c:t"],
    ["[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"],
    ["Registry/app", "Registry/app:latest", "Registry/app:latest"],
    [`nginx@${DIGEST}`, `docker.io/library/nginx@${DIGEST}`, `nginx@${DIGEST}`],
    [`quay.io/a/b:1@${DIGEST}`, `quay.io/a/b:1@${DIGEST}`, `quay.io/a/b:1@${DIGEST}`],
    ["my-app_x__z/na.me-1", "docker.io/my-app_x__z/na.me-1:latest", "my-app_x__z/na.me-1:latest"],
    ["my.app/name", "my.app/name:latest", "my.app/name:latest"], // a dot: the first component is a registry
  ])("%s is %s (shown as %s)", (text, full, familiar) => {
    const ref = parseRegistryRef(text);
    expect(formatRegistryRef(ref)).toBe(full);
    expect(familiarRegistryRef(ref)).toBe(familiar);
    expect(formatRegistryRef(parseRegistryRef(full))).toBe(full);
  });

  test("a digest alone pins the image: no tag is assumed", () => {
    expect(parseRegistryRef(`ghcr.io/org/app@${DIGEST}`)).toEqual({ registry: "ghcr.io", repository: "org/app", tag: undefined, digest: DIGEST });
  });

  test.each([
    ["", "it is empty"],
    ["Nginx", "must be lowercase"],
    ["user/App", "must be lowercase"],
    ["nginx:", "a tag is"],
    ["nginx:-x", "a tag is"],
    [`nginx:${"t".repeat(129)}`, "a tag is"],
    ["nginx@sha256:abc", "a digest is"],
    [`nginx@md5:${"a".repeat(32)}`, "a digest is"],
    ["a//b", "a repository name is"],
    ["-app", "a repository name is"],
    ["app-", "a repository name is"],
    ["a..b", "a repository name is"],
    ["bad_host.example:port/app", "not a registry host[:port]"],
    [`${"a".repeat(250)}/b/c`, "at most 255 characters"],
  ])("%j is refused in one line naming why (%s)", (text, why) => {
    const err = thrown(() => parseRegistryRef(text));
    expect(err.message).toStartWith(`invalid image reference ${JSON.stringify(text)}: `);
    expect(err.message).toContain(why);
    expect(err.message).not.toContain("\n");
  });
});

describe("plainHttpRegistry", () => {
  test.each([
    ["localhost:5000", undefined, true],
    ["localhost", undefined, true],
    ["127.0.0.1:5000", undefined, true],
    ["127.8.9.10", undefined, true],
    ["[::1]:5000", undefined, true],
    ["docker.io", undefined, false],
    ["10.0.2.2:5000", undefined, false],
    ["10.0.2.2:5000", "registry.lan, 10.0.2.2:5000", true],
    ["registry.lan:443", "registry.lan", true],
    ["registry.lan", "registry.lan:5000", false],
  ])("%s with CBOX_INSECURE_REGISTRIES=%j: %p", (registry, insecure, plain) => {
    expect(plainHttpRegistry(registry, insecure)).toBe(plain);
  });
});
