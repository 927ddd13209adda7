// An image's config (OCI image-spec config.md; Docker's is the same shape): how its containers
// run, and the diff_ids that name its layers. Checked field by field: a registry's JSON is input.
import { CboxError } from "../errors.ts";

export interface RunConfig {
  Entrypoint?: string[];
  Cmd?: string[];
  Env?: string[];
  WorkingDir?: string;
  User?: string;
  ExposedPorts?: string[];
  StopSignal?: string;
  Volumes?: string[];
  Labels?: Record<string, string>;
}

export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config: RunConfig;
  diffIds: string[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function parseImageConfig(bytes: Uint8Array, what: string): ImageConfig {
  const bad = (why: string): never => {
    throw new CboxError(`the config of ${what} ${why}`);
  };
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return bad("is not JSON");
  }
  if (!doc || typeof doc !== "object") bad("is not a JSON object");
  const rootfs = doc.rootfs as { type?: unknown; diff_ids?: unknown } | undefined;
  if (!rootfs || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids)) bad("has no rootfs.diff_ids list");
  const diffIds = rootfs!.diff_ids as unknown[];
  if (!diffIds.every((d) => typeof d === "string" && DIGEST.test(d))) bad("has a diff_id that is not sha256: and 64 hex digits");
  const c = (doc.config ?? {}) as Record<string, unknown>;
  if (typeof c !== "object") bad("has a config that is not an object");
  const strings = (key: string): string[] | undefined => {
    const v = c[key];
    if (v === undefined || v === null) return undefined;
    if (!Array.isArray(v) || !v.every((s) => typeof s === "string")) return bad(`has a ${key} that is not a list of strings`);
    return v as string[];
  };
  const string = (key: string): string | undefined => {
    const v = c[key];
    if (v === undefined || v === null || v === "") return undefined;
    if (typeof v !== "string") return bad(`has a ${key} that is not a string`);
    return v;
  };
  const keys = (key: string): string[] | undefined => {
    const v = c[key];
    if (v === undefined || v === null) return undefined;
    if (typeof v !== "object" || Array.isArray(v)) return bad(`has a ${key} that is not an object`);
    return Object.keys(v as object);
  };
  const labels = c.Labels;
  if (labels !== undefined && labels !== null && (typeof labels !== "object" || !Object.values(labels).every((v) => typeof v === "string"))) bad("has Labels that are not strings");
  const config: RunConfig = {
    Entrypoint: strings("Entrypoint"),
    Cmd: strings("Cmd"),
    Env: strings("Env"),
    WorkingDir: string("WorkingDir"),
    User: string("User"),
    ExposedPorts: keys("ExposedPorts"),
    StopSignal: string("StopSignal"),
    Volumes: keys("Volumes"),
    Labels: (labels ?? undefined) as Record<string, string> | undefined,
  };
  for (const k of Object.keys(config) as (keyof RunConfig)[]) if (config[k] === undefined) delete config[k];
  return {
    architecture: typeof doc.architecture === "string" ? doc.architecture : "",
    os: typeof doc.os === "string" ? doc.os : "",
    variant: typeof doc.variant === "string" ? doc.variant : undefined,
    created: typeof doc.created === "string" ? doc.created : undefined,
    config,
    diffIds: diffIds as string[],
  };
}

/**
 * docker's rules for what runs: --entrypoint replaces the image's Entrypoint and drops its Cmd;
 * arguments replace Cmd; the result is Entrypoint followed by Cmd.
 */
export function commandFor(config: RunConfig, args: string[], entrypoint: string | undefined): string[] {
  const entry = entrypoint !== undefined ? (entrypoint === "" ? [] : [entrypoint]) : (config.Entrypoint ?? []);
  const cmd = args.length ? args : entrypoint !== undefined ? [] : (config.Cmd ?? []);
  return [...entry, ...cmd];
}
