// --ulimit NAME=SOFT[:HARD], docker's names and forms, checked against what cbox may give.
import { CboxError } from "../errors.ts";
import { hasEffectiveCapability } from "../linux/capabilities.ts";
import { ownHardLimit, RLIMITS, UNLIMITED } from "../linux/rlimits.ts";

export interface Ulimit {
  name: string;
  /** The kernel's resource number. */
  resource: number;
  /** Decimal text (bigint does not survive JSON); "-1": unlimited. */
  soft: string;
  hard: string;
}

/** What may be asked: raiseHard when the container's root may go above cbox's own hard limits. */
export interface UlimitHost {
  raiseHard: boolean;
  hardLimit: (resource: number) => bigint;
}

const NAMES = Object.keys(RLIMITS).map((k) => k.slice("RLIMIT_".length).toLowerCase());

export function parseUlimits(values: string[], host: UlimitHost): Ulimit[] {
  const byName = new Map<string, Ulimit>();
  for (const value of values) {
    const m = /^([a-z]+)=(-1|\d+)(?::(-1|\d+))?$/.exec(value);
    if (!m) throw new CboxError(`--ulimit ${value}: expected NAME=SOFT[:HARD], such as nofile=1024:4096 (-1: unlimited)`);
    const [, name, soft, hard = soft] = m as unknown as [string, string, string, string?];
    const resource = RLIMITS[`RLIMIT_${name.toUpperCase()}`];
    if (resource === undefined) throw new CboxError(`--ulimit ${value}: no limit called ${name} (one of ${NAMES.join(", ")})`);
    if (rank(soft) > rank(hard!)) throw new CboxError(`--ulimit ${value}: the soft limit is above the hard one`);
    const most = host.hardLimit(resource);
    if (!host.raiseHard && rank(hard!) > rank(String(most))) {
      throw new CboxError(`--ulimit ${value}: cbox's own hard ${name} limit is ${most === UNLIMITED ? "unlimited" : most}, and the container cannot go above it (raise cbox's with ulimit -H, or ask for less)`);
    }
    byName.set(name, { name, resource, soft, hard: hard! });
  }
  return [...byName.values()];
}

/** For comparisons: unlimited is above every number. */
function rank(limit: string): bigint {
  return limit === "-1" ? 2n ** 64n : BigInt(limit);
}

/** This host: root in the host's user namespace with CAP_SYS_RESOURCE may raise hard limits. */
export function ulimitHost(inUserNamespace: boolean): UlimitHost {
  return { raiseHard: !inUserNamespace && hasEffectiveCapability("CAP_SYS_RESOURCE"), hardLimit: (r) => ownHardLimit(r) };
}
