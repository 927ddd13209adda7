// One line of `cbox info`: what was checked, how it stands on this host, and what to do about it.

/** ok: works; warn: works with less, or needs a look; missing: not available here. */
export type Status = "ok" | "warn" | "missing";

export interface Check {
  name: string;
  status: Status;
  detail: string;
  /** What to do, for warn and missing. */
  fix?: string;
}

/** Who runs cbox: the answers differ for root and for an ordinary user. */
export interface Caller {
  uid: number;
  gid: number;
  name: string;
  root: boolean;
}

export function ok(name: string, detail: string): Check {
  return { name, status: "ok", detail };
}

export function warn(name: string, detail: string, fix?: string): Check {
  return fix ? { name, status: "warn", detail, fix } : { name, status: "warn", detail };
}

export function missing(name: string, detail: string, fix?: string): Check {
  return fix ? { name, status: "missing", detail, fix } : { name, status: "missing", detail };
}

/** missing for an ordinary user, warn for root: what only rootless containers (and --userns=private) need. */
export function neededByUsers(caller: Caller, name: string, detail: string, fix?: string): Check {
  return caller.root ? warn(name, detail, fix) : missing(name, detail, fix);
}
