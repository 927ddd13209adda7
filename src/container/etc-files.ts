// The files cbox generates for a container and binds over the image's /etc copies (as docker does).
import { readFileSync, writeFileSync } from "node:fs";
import type { ContainerDirs } from "./plan.ts";

export function hostsFile(hostname: string): string {
  return [
    `127.0.0.1\tlocalhost ${hostname}`,
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
    "",
  ].join("\n");
}

/**
 * The host's resolver config without loopback name servers: the container has its own network
 * namespace, so 127.0.0.53 and friends would point at nothing there.
 */
export function resolvConf(hostText: string): string {
  const lines = hostText.split("\n").filter((line) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(line);
    return !m || !/^(127\.|::1$)/.test(m[1]!);
  });
  return lines.join("\n").trimEnd() + "\n";
}

export function writeEtcFiles(dirs: ContainerDirs, hostname: string): void {
  let hostResolv = "";
  try {
    hostResolv = readFileSync("/etc/resolv.conf", "utf8");
  } catch {
    // no resolver on the host: the container gets an empty one
  }
  writeFileSync(dirs.hostname, hostname + "\n", { mode: 0o644 });
  writeFileSync(dirs.hosts, hostsFile(hostname), { mode: 0o644 });
  writeFileSync(dirs.resolvConf, resolvConf(hostResolv), { mode: 0o644 });
}
