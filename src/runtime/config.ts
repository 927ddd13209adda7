// An OCI bundle's config.json (the runtime spec, Linux), read and checked before anything is
// made. Properties the spec lets a runtime ignore are ignored; what cbox cannot do is refused
// with one line naming the field, never dropped quietly.
import { readFileSync, statSync } from "node:fs";
import { isAbsolute, join, resolve } from "node:path";
import { CboxError } from "../errors.ts";
import { CAPABILITY_NAMES } from "../linux/capabilities.ts";
import { RLIMITS } from "../linux/rlimits.ts";

export interface OciMount {
  destination: string;
  type?: string;
  source?: string;
  options?: string[];
}

export interface OciIdMapping {
  containerID: number;
  hostID: number;
  size: number;
}

export interface OciNamespace {
  type: string;
  path?: string;
}

export interface OciDevice {
  type: string;
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface OciDeviceRule {
  allow: boolean;
  type?: string;
  major?: number;
  minor?: number;
  access?: string;
}

export interface OciHook {
  path: string;
  args?: string[];
  env?: string[];
  timeout?: number;
}

export interface OciCapabilities {
  bounding?: string[];
  effective?: string[];
  inheritable?: string[];
  permitted?: string[];
  ambient?: string[];
}

export interface OciProcess {
  terminal?: boolean;
  consoleSize?: { height: number; width: number };
  user: { uid: number; gid: number; umask?: number; additionalGids?: number[] };
  args: string[];
  env?: string[];
  cwd: string;
  capabilities?: OciCapabilities;
  rlimits?: { type: string; soft: number; hard: number }[];
  noNewPrivileges?: boolean;
  oomScoreAdj?: number;
}

export interface OciResources {
  devices?: OciDeviceRule[];
  memory?: { limit?: number; reservation?: number; swap?: number; kernel?: number; kernelTCP?: number; swappiness?: number; disableOOMKiller?: boolean };
  cpu?: { shares?: number; quota?: number; period?: number; realtimeRuntime?: number; realtimePeriod?: number; cpus?: string; mems?: string; idle?: number };
  pids?: { limit: number };
  blockIO?: OciBlockIO;
  [other: string]: unknown;
}

export interface OciDeviceRate {
  major: number;
  minor: number;
  rate: number;
}

export interface OciBlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice?: { major: number; minor: number; weight?: number; leafWeight?: number }[];
  throttleReadBpsDevice?: OciDeviceRate[];
  throttleWriteBpsDevice?: OciDeviceRate[];
  throttleReadIOPSDevice?: OciDeviceRate[];
  throttleWriteIOPSDevice?: OciDeviceRate[];
}

export interface OciHooks {
  prestart?: OciHook[];
  createRuntime?: OciHook[];
  createContainer?: OciHook[];
  startContainer?: OciHook[];
  poststart?: OciHook[];
  poststop?: OciHook[];
}

export interface OciConfig {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly?: boolean };
  hostname?: string;
  domainname?: string;
  mounts?: OciMount[];
  hooks?: OciHooks;
  annotations?: Record<string, string>;
  linux?: {
    namespaces?: OciNamespace[];
    uidMappings?: OciIdMapping[];
    gidMappings?: OciIdMapping[];
    devices?: OciDevice[];
    cgroupsPath?: string;
    resources?: OciResources;
    sysctl?: Record<string, string>;
    seccomp?: Record<string, unknown>;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    rootfsPropagation?: string;
    [other: string]: unknown;
  };
}

/** The config with what cbox needs resolved: the root's host path. */
export interface Bundle {
  dir: string;
  config: OciConfig;
  rootfs: string;
}

export const NAMESPACE_TYPES = ["pid", "network", "mount", "ipc", "uts", "user", "cgroup"] as const;

export const HOOK_KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"] as const;


const PROPAGATIONS = ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];

/** Reads DIR/config.json and checks it; every problem is one line naming the field. */
export function loadBundle(bundleDir: string): Bundle {
  const dir = resolve(bundleDir);
  let text: string;
  try {
    text = readFileSync(join(dir, "config.json"), "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new CboxError(`bundle ${dir}: cannot read config.json (${code ?? (err as Error).message}); pass the bundle folder with --bundle`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new CboxError(`${join(dir, "config.json")}: not valid JSON: ${(err as Error).message}`);
  }
  const config = checkConfig(json);
  const rootfs = resolve(dir, config.root!.path);
  if (!statSync(rootfs, { throwIfNoEntry: false })?.isDirectory()) throw new CboxError(`root.path: ${rootfs} is not a folder`);
  return { dir, config, rootfs };
}

/** The checks, on parsed JSON; throws a CboxError naming the first field that is wrong or unsupported. */
export function checkConfig(json: unknown): OciConfig {
  const c = object(json, "config.json");
  const version = c.ociVersion;
  if (typeof version !== "string" || !/^1\.\d+\.\d+/.test(version)) throw field("ociVersion", `${JSON.stringify(version)} is not a 1.x version of the runtime spec`);
  const config = c as unknown as OciConfig;
  if (!config.root || typeof config.root.path !== "string" || !config.root.path) throw field("root.path", "is required");
  if (config.process) checkProcess(config.process);
  for (const [i, m] of (config.mounts ?? []).entries()) checkMount(m, `mounts[${i}]`);
  checkHooks(config.hooks);
  if (config.domainname) throw unsupported("domainname", "setting the NIS domain name");
  if (config.linux) checkLinux(config.linux);
  return config;
}

function checkProcess(p: OciProcess): void {
  if (!Array.isArray(p.args) || p.args.length === 0 || !p.args.every((a) => typeof a === "string")) throw field("process.args", "must hold the command, at least one string");
  if (typeof p.cwd !== "string" || !isAbsolute(p.cwd)) throw field("process.cwd", `${JSON.stringify(p.cwd)} must be an absolute path`);
  if (!p.user || !isId(p.user.uid) || !isId(p.user.gid)) throw field("process.user", "uid and gid must be numbers (a runtime gets ids, not names)");
  for (const g of p.user.additionalGids ?? []) if (!isId(g)) throw field("process.user.additionalGids", `${JSON.stringify(g)} is not a gid`);
  if (p.user.umask !== undefined && !(Number.isInteger(p.user.umask) && p.user.umask >= 0 && p.user.umask <= 0o777)) throw field("process.user.umask", "must be 0..0777");
  for (const e of p.env ?? []) if (typeof e !== "string" || !e.includes("=")) throw field("process.env", `${JSON.stringify(e)} is not NAME=value`);
  for (const [set, names] of Object.entries(p.capabilities ?? {})) {
    for (const name of (names as string[] | undefined) ?? []) {
      if (!(CAPABILITY_NAMES as readonly string[]).includes(name)) throw field(`process.capabilities.${set}`, `unknown capability ${JSON.stringify(name)}`);
    }
  }
  for (const [i, r] of (p.rlimits ?? []).entries()) {
    if (RLIMITS[r.type] === undefined) throw field(`process.rlimits[${i}].type`, `unknown limit ${JSON.stringify(r.type)}`);
    if (!isCount(r.soft) || !isCount(r.hard)) throw field(`process.rlimits[${i}]`, "soft and hard must be numbers");
    if (r.soft > r.hard) throw field(`process.rlimits[${i}]`, `soft (${r.soft}) is above hard (${r.hard})`);
  }
  if (p.oomScoreAdj !== undefined && !(Number.isInteger(p.oomScoreAdj) && p.oomScoreAdj >= -1000 && p.oomScoreAdj <= 1000)) throw field("process.oomScoreAdj", "must be -1000..1000");
  const any = p as unknown as Record<string, unknown>;
  if (any.ioPriority) throw unsupported("process.ioPriority", "I/O priorities");
  if (any.scheduler) throw unsupported("process.scheduler", "scheduling policies");
  if (any.execCPUAffinity) throw unsupported("process.execCPUAffinity", "CPU affinity");
}

function checkMount(m: OciMount, where: string): void {
  if (typeof m.destination !== "string" || !isAbsolute(m.destination)) throw field(`${where}.destination`, `${JSON.stringify(m.destination)} must be an absolute path`);
  const any = m as unknown as Record<string, unknown>;
  if (any.uidMappings || any.gidMappings) throw unsupported(`${where}.uidMappings`, "idmapped mounts in a bundle");
  const options = m.options ?? [];
  const bind = m.type === "bind" || options.includes("bind") || options.includes("rbind");
  if (bind && !m.source) throw field(`${where}.source`, "a bind mount needs a source");
}

function checkHooks(hooks: OciHooks | undefined): void {
  for (const kind of HOOK_KINDS) {
    const list = hooks?.[kind] ?? [];
    for (const [i, h] of list.entries()) if (typeof h.path !== "string" || !isAbsolute(h.path)) throw field(`hooks.${kind}[${i}].path`, "must be an absolute path");
  }
}

function checkLinux(l: NonNullable<OciConfig["linux"]>): void {
  const seen = new Set<string>();
  for (const [i, ns] of (l.namespaces ?? []).entries()) {
    if (!(NAMESPACE_TYPES as readonly string[]).includes(ns.type)) throw unsupported(`linux.namespaces[${i}].type`, `the ${JSON.stringify(ns.type)} namespace`);
    if (seen.has(ns.type)) throw field(`linux.namespaces[${i}]`, `the ${ns.type} namespace is listed twice`);
    seen.add(ns.type);
    if (ns.path !== undefined && !isAbsolute(ns.path)) throw field(`linux.namespaces[${i}].path`, "must be an absolute path");
  }
  const newUser = seen.has("user") && !l.namespaces!.find((n) => n.type === "user")!.path;
  const joined = (l.namespaces ?? []).filter((n) => n.path);
  if (newUser && joined.length) throw unsupported("linux.namespaces", "joining a namespace by path together with a new user namespace");
  // With a user namespace joined by path, mappings describe that namespace (engines send them); its own apply.
  if ((l.uidMappings?.length || l.gidMappings?.length) && !seen.has("user")) throw field("linux.uidMappings", "mappings need a user namespace in linux.namespaces");
  if (newUser && !(l.uidMappings?.length && l.gidMappings?.length)) throw field("linux.uidMappings", "a new user namespace needs uidMappings and gidMappings");
  for (const [i, d] of (l.devices ?? []).entries()) {
    if (!isAbsolute(d.path ?? "")) throw field(`linux.devices[${i}].path`, "must be an absolute path");
    if (!["c", "u", "b", "p"].includes(d.type)) throw field(`linux.devices[${i}].type`, `${JSON.stringify(d.type)} is not c, u, b or p`);
    if (d.type !== "p" && (!isCount(d.major) || !isCount(d.minor))) throw field(`linux.devices[${i}]`, "major and minor are required");
  }
  if (l.rootfsPropagation && !PROPAGATIONS.includes(l.rootfsPropagation)) throw field("linux.rootfsPropagation", `${JSON.stringify(l.rootfsPropagation)} is not one of ${PROPAGATIONS.join(", ")}`);
  checkResources(l.resources);
  for (const key of ["intelRdt", "personality", "timeOffsets", "memoryPolicy"]) if (l[key]) throw unsupported(`linux.${key}`, key);
}

function checkResources(r: OciResources | undefined): void {
  if (!r) return;
  for (const [i, d] of (r.devices ?? []).entries()) {
    if (typeof d.allow !== "boolean") throw field(`linux.resources.devices[${i}].allow`, "must be true or false");
    if (d.type && !["a", "c", "b"].includes(d.type)) throw field(`linux.resources.devices[${i}].type`, `${JSON.stringify(d.type)} is not a, c or b`);
    if (d.access && !/^[rwm]+$/.test(d.access)) throw field(`linux.resources.devices[${i}].access`, `${JSON.stringify(d.access)} is not made of r, w, m`);
  }
  if (r.cpu?.idle) throw unsupported("linux.resources.cpu.idle", "cpu.idle");
  for (const key of ["hugepageLimits", "network", "rdma", "unified"]) {
    if (isSet(r[key])) throw unsupported(`linux.resources.${key}`, `${key} limits`);
  }
}

/** Whether resources ask for a limit (device rules aside: in a user namespace no device can be opened anyway). */
export function hasLimits(r: OciResources | undefined): boolean {
  return !!r && Object.entries(r).some(([key, value]) => key !== "devices" && isSet(value));
}

/** Whether a value asks for anything: engines send zeros and empty lists for "not set" (docker's blockIO {"weight": 0}). */
function isSet(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v && typeof v === "object") return Object.values(v).some(isSet);
  return !!v;
}

function object(v: unknown, what: string): Record<string, unknown> {
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new CboxError(`${what}: must be a JSON object`);
  return v as Record<string, unknown>;
}

function isId(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 0xfffffffe;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isInteger(v) && v >= 0;
}

function field(name: string, what: string): CboxError {
  return new CboxError(`config.json: ${name}: ${what}`);
}

function unsupported(name: string, what: string): CboxError {
  return new CboxError(`config.json: ${name}: cbox does not support ${what} yet; remove the field to run with cbox`);
}
