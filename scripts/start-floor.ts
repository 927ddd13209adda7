// The floor under a cbox start, for bench-start.ts: compiled as cbox is, it replays what one
// foreground start of cbox does to the kernel and the disk (src/container/replay.ts wrote it
// down) and none of cbox's own logic: no flags, spec, store, checks or plan building.
//
//   start-floor REPLAY.json
//
// Its folder and files made, its cgroups made and their device rules written, the child cloned
// with the same flags running the same setup plan (mounts, pivot_root, seccomp, exec), waited
// for; then the cgroups and the folder removed, as `cbox run --rm` does.
import { mkdirSync, readFileSync, rmdirSync, rmSync, writeFileSync, openSync, writeSync, closeSync, constants } from "node:fs";
import { dirname, join } from "node:path";
import type { Replay } from "../src/container/replay.ts";
import { HeldChild } from "../src/sys/process.ts";
import { shim } from "../src/sys/shim.ts";

const replay: Replay = JSON.parse(readFileSync(process.argv[2]!, "utf8"));

mkdirSync(replay.dir, { mode: 0o700 });
for (const folder of replay.folders) mkdirSync(join(replay.dir, folder));
for (const [file, text] of Object.entries(replay.files)) writeFileSync(join(replay.dir, file), text, { mode: 0o600 });
for (const cgroup of replay.cgroups) {
  mkdirSync(dirname(cgroup), { recursive: true });
  mkdirSync(cgroup);
}
for (const [file, value] of replay.cgroupWrites) {
  const fd = openSync(file, constants.O_WRONLY);
  writeSync(fd, value);
  closeSync(fd);
}

const plan = Buffer.from(replay.plan, "base64");
const out = new Int32Array(3);
const r = shim().cbox_spawn(plan, plan.length, replay.flags, new Int32Array(0), 0, new Int32Array([0, 0]), out);
if (r < 0) throw new Error(`clone: errno ${-r}`);
const child = new HeldChild(out[0]!, out[1]!, out[2]!);
const failure = child.release();
const status = child.wait();

for (const cgroup of replay.cgroups) {
  rmdirSync(cgroup);
  try {
    rmdirSync(dirname(cgroup));
  } catch {
    // another container's cgroup is in it
  }
}
rmSync(replay.dir, { recursive: true });
process.exit(failure ? 125 : status === 0 ? 0 : 1);
