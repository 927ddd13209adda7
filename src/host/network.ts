// Networking: root's bridge needs a firewall tool for NAT and -p (nft, else iptables); a user's
// containers need slirp4netns and a /dev/net/tun they may open, else they get loopback only.
import { chooseFirewall, FirewallError, type FirewallKind } from "../linux/firewall/index.ts";
import { missing, ok, warn, type Caller, type Check } from "./check.ts";
import { R_OK, W_OK, type HostFiles } from "./files.ts";

export interface FirewallFacts {
  /** CBOX_FIREWALL as set. */
  chosen?: string;
  tool?: { kind: FirewallKind; path: string; backend?: string };
  /** chooseFirewall's complaint (a bad or missing CBOX_FIREWALL choice). */
  error?: string;
}

export interface RootlessNetworkFacts {
  /** CBOX_ROOTLESS_NETWORK as set. */
  chosen?: string;
  slirp4netns?: { path: string; version?: string };
  tun: { exists: boolean; usable: boolean; mode?: number; owner?: string };
}

export function readFirewall(files: HostFiles, env: Record<string, string | undefined>, backendOf: (path: string) => string | undefined): FirewallFacts {
  const facts: FirewallFacts = env.CBOX_FIREWALL ? { chosen: env.CBOX_FIREWALL } : {};
  try {
    const tool = chooseFirewall(env, (name) => files.which(name));
    if (tool) facts.tool = tool.kind === "iptables" ? { ...tool, backend: backendOf(tool.path) } : tool;
  } catch (err) {
    if (!(err instanceof FirewallError)) throw err;
    facts.error = err.message;
  }
  return facts;
}

export function readRootlessNetwork(files: HostFiles, env: Record<string, string | undefined>, versionOf: (path: string) => string | undefined): RootlessNetworkFacts {
  const path = files.which("slirp4netns");
  const st = files.stat("/dev/net/tun");
  return {
    ...(env.CBOX_ROOTLESS_NETWORK ? { chosen: env.CBOX_ROOTLESS_NETWORK } : {}),
    ...(path ? { slirp4netns: { path, version: versionOf(path) } } : {}),
    tun: st ? { exists: true, usable: files.can("/dev/net/tun", R_OK | W_OK), mode: st.mode & 0o777, owner: `${st.uid}:${st.gid}` } : { exists: false, usable: false },
  };
}

/** slirp4netns --version's first line: "slirp4netns version 1.2.0". */
export function parseSlirpVersion(text: string): string | undefined {
  return /version\s+(\S+)/.exec(text)?.[1];
}

export function networkChecks(caller: Caller, firewall: FirewallFacts, rootless: RootlessNetworkFacts): Check[] {
  return caller.root ? [firewallCheck(firewall)] : rootlessChecks(rootless);
}

function firewallCheck(f: FirewallFacts): Check {
  const name = "firewall";
  if (f.error) return warn(name, `${f.error}: cbox run refuses the bridge network`, "set CBOX_FIREWALL to nft, iptables or none, or install the tool it names");
  if (!f.tool) {
    const why = f.chosen === "none" ? "CBOX_FIREWALL=none" : "neither nft nor iptables is installed";
    return warn(name, `${why}: containers get the bridge without outbound NAT, and -p is refused`, "apt-get install nftables (or iptables)");
  }
  const via = f.tool.kind === "nft" ? "table ip cbox" : `CBOX chains${f.tool.backend ? `, ${f.tool.backend} backend` : ""}`;
  return ok(name, `${f.tool.kind} (${f.tool.path}): NAT and -p through ${via}${f.chosen ? ` (CBOX_FIREWALL=${f.chosen})` : ""}`);
}

function rootlessChecks(r: RootlessNetworkFacts): Check[] {
  if (r.chosen === "none") return [ok("slirp4netns", "not used: CBOX_ROOTLESS_NETWORK=none gives containers loopback only")];
  if (r.chosen && r.chosen !== "slirp4netns") return [warn("slirp4netns", `CBOX_ROOTLESS_NETWORK="${r.chosen}": cbox run refuses it (expected slirp4netns or none)`, "unset CBOX_ROOTLESS_NETWORK, or set it to slirp4netns or none")];
  const slirp = r.slirp4netns
    ? ok("slirp4netns", `${r.slirp4netns.version ? `${r.slirp4netns.version} ` : ""}(${r.slirp4netns.path})`)
    : missing("slirp4netns", "not installed: containers get loopback only", "apt-get install slirp4netns (or your distribution's slirp4netns package)");
  return [slirp, tunCheck(r.tun)];
}

function tunCheck(t: RootlessNetworkFacts["tun"]): Check {
  const name = "/dev/net/tun";
  if (!t.exists) return missing(name, "missing: slirp4netns cannot give containers a network (loopback only)", "as root: modprobe tun (and mknod /dev/net/tun c 10 200 if it is still missing)");
  if (!t.usable) {
    return missing(
      name,
      `mode ${t.mode!.toString(8).padStart(4, "0")}, owner ${t.owner}: not open to you, so slirp4netns cannot give containers a network (loopback only)`,
      "as root: chmod 0666 /dev/net/tun (most distributions ship it so; a udev rule KERNEL==\"tun\", MODE=\"0666\" keeps it)",
    );
  }
  return ok(name, "you may open it");
}
