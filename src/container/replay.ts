// CBOX_REPLAY_OUT=FILE (for scripts/bench-start.ts only): a foreground start writes the kernel
// and file work it is about to do as data: its folder's files, its cgroups and their device
// rules, the encoded setup plan and the clone flags. scripts/start-floor.ts does that same work
// again with none of cbox's own logic: the floor under any start of this design.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { v1DeviceWrites, type DeviceRule } from "../linux/cgroups/devices.ts";
import { encodePlan, type Op } from "../sys/ops.ts";

export const replayOut = process.env.CBOX_REPLAY_OUT;

export interface Replay {
  dir: string;
  folders: string[];
  files: Record<string, string>;
  cgroups: string[];
  cgroupWrites: [string, string][];
  plan: string;
  flags: number;
}

export function writeReplay(out: string, dir: string, plan: Op[], flags: number, cgroups: string[], devices: DeviceRule[] | undefined): void {
  const folders: string[] = [];
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const rel = join(entry.parentPath, entry.name).slice(dir.length + 1);
    if (entry.isDirectory()) folders.push(rel);
    else if (entry.isFile()) files[rel] = readFileSync(join(dir, rel), "utf8");
  }
  const deviceFolder = cgroups.find((p) => readdirSync(p).includes("devices.allow"));
  const cgroupWrites = deviceFolder && devices ? v1DeviceWrites(devices).map((w): [string, string] => [`${deviceFolder}/${w.file}`, w.value]) : [];
  const replay: Replay = { dir, folders: folders.sort(), files, cgroups, cgroupWrites, plan: Buffer.from(encodePlan(plan)).toString("base64"), flags };
  writeFileSync(out, JSON.stringify(replay));
}
