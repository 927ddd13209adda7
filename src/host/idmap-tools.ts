// Subordinate ids and the setuid helpers that map them: an ordinary user's container has ids
// 1..N besides their own only when /etc/subuid and /etc/subgid give them ranges and newuidmap and
// newgidmap may write them. For root: the range --userns=private takes.
import { addRangesCommand } from "../container/rootless-fit.ts";
import { PRIVATE_RANGE_SIZE, privateRangeStart, subordinateRanges } from "../linux/userns.ts";
import { missing, ok, warn, type Caller, type Check } from "./check.ts";
import type { HostFiles } from "./files.ts";

export type Range = { start: number; count: number };

export interface HelperFacts {
  name: "newuidmap" | "newgidmap";
  path?: string;
  setuidRoot: boolean;
  /** getcap's answer ("cap_setuid=ep", "" for none); undefined when it could not be asked. */
  capabilities?: string;
}

export interface SubidFacts {
  subuid: Range[];
  subgid: Range[];
  /** Root: where --userns=private's uids and gids start, or why they cannot. */
  privateStart?: { uid: number | string; gid: number | string; source: "entry" | "env" | "default" };
  /** A user with ranges and helpers: whether the helpers wrote a child's maps (true), or why not. */
  mapped?: true | string;
}

const S_ISUID = 0o4000;

/** What getcap says of a file: "cap_setuid=ep", or "" for none. */
export type GetCap = (path: string) => string | undefined;

export function readHelpers(files: HostFiles, getcap: GetCap): HelperFacts[] {
  return (["newuidmap", "newgidmap"] as const).map((name) => {
    const path = files.which(name);
    if (!path) return { name, setuidRoot: false };
    const st = files.stat(path);
    const setuidRoot = !!st && st.uid === 0 && (st.mode & S_ISUID) !== 0;
    return setuidRoot ? { name, path, setuidRoot } : { name, path, setuidRoot, capabilities: getcap(path) };
  });
}

export function readSubids(files: HostFiles, caller: Caller, env: Record<string, string | undefined>): SubidFacts {
  const subuidText = files.read("/etc/subuid") ?? "";
  const subgidText = files.read("/etc/subgid") ?? "";
  const facts: SubidFacts = {
    subuid: subordinateRanges(subuidText, caller.name, caller.uid),
    subgid: subordinateRanges(subgidText, caller.name, caller.gid),
  };
  if (caller.root) {
    facts.privateStart = {
      uid: privateRangeStart(subuidText, env.CBOX_USERNS_START, "/etc/subuid"),
      gid: privateRangeStart(subgidText, env.CBOX_USERNS_START, "/etc/subgid"),
      source: subordinateRanges(subuidText, "cbox", -1).length ? "entry" : env.CBOX_USERNS_START !== undefined ? "env" : "default",
    };
  }
  return facts;
}

/** "100000-165535". */
const rangeText = (r: Range) => `${r.start}-${r.start + r.count - 1}`;

export function helperCheck(h: HelperFacts, caller: Caller): Check {
  const cap = h.name === "newuidmap" ? "cap_setuid" : "cap_setgid";
  const lack = caller.root ? warn : missing;
  const users = caller.root ? "ordinary users' containers get" : "your containers get";
  if (!h.path) {
    return lack(h.name, `not installed: ${users} only their own id`, "apt-get install uidmap (or your distribution's uidmap/shadow-utils package)");
  }
  if (h.setuidRoot) return ok(h.name, `${h.path}, setuid root`);
  if (h.capabilities?.includes(cap)) return ok(h.name, `${h.path}, file capabilities ${h.capabilities}`);
  if (h.capabilities === undefined) {
    return warn(h.name, `${h.path} is not setuid root, and its file capabilities could not be read (getcap is not installed)`, `install getcap (libcap2-bin) to check it, or as root: chmod u+s ${h.path}`);
  }
  return lack(h.name, `${h.path} is neither setuid root nor given ${cap}: it cannot write maps, so ${users} only their own id`, `as root: chmod u+s ${h.path} (or setcap ${cap}+ep ${h.path})`);
}

export function subidCheck(s: SubidFacts, caller: Caller): Check {
  const name = "subordinate ids";
  if (caller.root) return privateRangeCheck(s);
  const lacking = [s.subuid.length ? "" : "/etc/subuid", s.subgid.length ? "" : "/etc/subgid"].filter(Boolean);
  if (lacking.length) {
    return warn(
      name,
      `no range for ${caller.name || caller.uid} in ${lacking.join(" or ")}: containers have only your own id (chown to other ids fails inside)`,
      `as root: ${addRangesCommand(caller.name || String(caller.uid))} (a range no other user has)`,
    );
  }
  const ranges = `uids ${rangeText(s.subuid[0]!)}, gids ${rangeText(s.subgid[0]!)}`;
  if (typeof s.mapped === "string") {
    return missing(name, `${ranges}, but mapping them failed: ${s.mapped}`, "check that these ranges are yours in /etc/subuid and /etc/subgid, and that newuidmap and newgidmap are setuid root");
  }
  return ok(name, s.mapped ? `${ranges}; newuidmap and newgidmap mapped them` : ranges);
}

function privateRangeCheck(s: SubidFacts): Check {
  const name = "subordinate ids";
  const p = s.privateStart!;
  const bad = [p.uid, p.gid].find((v): v is string => typeof v === "string");
  if (bad) return missing(name, `--userns=private: ${bad}`, "give the cbox entry of /etc/subuid and /etc/subgid 65536 ids, or correct CBOX_USERNS_START");
  const source = { entry: "the cbox entry of /etc/subuid", env: "CBOX_USERNS_START", default: "the default: no cbox entry in /etc/subuid" }[p.source];
  return ok(name, `--userns=private: uids from ${p.uid}, gids from ${p.gid}, ${PRIVATE_RANGE_SIZE} each (${source})`);
}
