// The overlay probe: a child in a new user and mount namespace mounts an overlay over folders made
// for it, writes into a lower folder (copy-up) and deletes another (whiteout), as a rootless
// container's root would need. Its mounts die with its namespace; the folders are removed after,
// and ones a killed cbox info left are removed by the next.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { describeErrno } from "../errors.ts";
import { mkdir, overlayPathProblem, overlayRoot, privatePropagation } from "../linux/mounts.ts";
import { CloneFlag } from "../linux/namespaces.ts";
import { rootlessMaps, writeMaps } from "../linux/userns.ts";
import type { Op } from "../sys/ops.ts";
import { exitCodeOf, spawnHeld, SpawnError } from "../sys/process.ts";
import type { Caller } from "./check.ts";
import type { OverlayProbe, OverlayStep } from "./overlay.ts";

const PREFIX = "cbox-info-probe-";

/** The steps of the plan, in order, as OverlayProbe names them. */
const PLAN_STEPS: OverlayStep[] = ["private mounts", "mount", "copy up", "whiteout"];

/** Probes in a new folder of parent (the storage root, or the temporary folder when there is none). */
export function probeOverlay(parent: string, filesystem: string, caller: Caller): OverlayProbe {
  removeStale(parent, caller);
  const probe = { where: parent, filesystem };
  const dir = join(parent, `${PREFIX}${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  const problem = overlayPathProblem(dir);
  if (problem) return { ...probe, failed: { step: "folders", reason: problem } };
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    return { ...probe, failed: { step: "folders", reason: errorText(err) } };
  }
  try {
    for (const sub of ["lower", "lower/kept", "lower/gone", "upper", "work", "merged"]) mkdirSync(join(dir, sub), { mode: 0o700 });
    const failed = mountInNamespace(dir, caller);
    return failed ? { ...probe, failed } : probe;
  } catch (err) {
    return { ...probe, failed: { step: "folders", reason: errorText(err) } };
  } finally {
    removeProbe(dir);
  }
}

function mountInNamespace(dir: string, caller: Caller): OverlayProbe["failed"] {
  const merged = join(dir, "merged");
  const plan: Op[] = [
    privatePropagation(),
    ...overlayRoot(merged, { lower: [join(dir, "lower")], upper: join(dir, "upper"), work: join(dir, "work") }, true),
    mkdir(join(merged, "kept/new")),
    { op: "rmdir", strs: [join(merged, "gone")] },
    { op: "exit", ints: [0] },
  ];
  let child;
  try {
    child = spawnHeld(plan, CloneFlag.newuser | CloneFlag.newns | CloneFlag.vm);
  } catch (err) {
    if (err instanceof SpawnError) return { step: "clone", reason: describeErrno(err.errno) };
    throw err;
  }
  try {
    // The caller's own ids become 0 inside, as in a rootless container without subordinate ids.
    writeMaps(child.pid, rootlessMaps(caller.uid, caller.gid, [], []));
  } catch (err) {
    child.abort();
    return { step: "maps", reason: errorText(err) };
  }
  const failure = child.release();
  const code = exitCodeOf(child.wait());
  if (failure) return { step: PLAN_STEPS[failure.index] ?? "mount", reason: describeErrno(failure.errno) };
  if (code !== 0) return { step: "mount", reason: `the probe ended with code ${code}` };
  return undefined;
}

/**
 * The probe's files are the caller's (its id was 0 inside), but overlayfs leaves work/work
 * without permissions: opened up, then removed. What cannot be removed now, the next
 * cbox info removes (removeStale).
 */
function removeProbe(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    try {
      openUp(dir);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // left for the next cbox info
    }
  }
}

function openUp(dir: string): void {
  chmodSync(dir, 0o700);
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (lstatSync(path).isDirectory()) openUp(path);
  }
}

/** Probe folders of this caller whose cbox info was killed before removing them. */
function removeStale(parent: string, caller: Caller): void {
  let names: string[];
  try {
    names = readdirSync(parent).filter((n) => n.startsWith(PREFIX));
  } catch {
    return;
  }
  for (const name of names) {
    const pid = Number(/^\D+(\d+)-/.exec(name)?.[1]);
    const path = join(parent, name);
    try {
      if (pid === process.pid || existsSync(`/proc/${pid}`) || lstatSync(path).uid !== caller.uid) continue;
    } catch {
      continue; // another cbox info removed it
    }
    removeProbe(path);
  }
}

function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code && typeof e.errno === "number" ? describeErrno(e.errno) : e instanceof Error ? e.message : String(err);
}
