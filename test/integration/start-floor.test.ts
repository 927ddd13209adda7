// bench-start's floor row: a start that CBOX_REPLAY_OUT wrote down is done again by
// scripts/start-floor.ts, with none of cbox's logic. The floor must do the start's real work:
// the container runs again, and what it made is gone afterwards.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Replay } from "../../src/container/replay.ts";
import { cbox, isRoot, removeDir, repo, rootfsFixture, tempDir } from "./helpers.ts";

const fx = rootfsFixture();

describe.skipIf(!isRoot)("the start floor (bench-start.ts)", () => {
  test("CBOX_REPLAY_OUT writes a start down; start-floor does it again: the container runs, and nothing is left", () => {
    const out = tempDir();
    try {
      const replayFile = join(out, "replay.json");
      const volume = join(out, "volume");
      mkdirSync(volume);
      const run = cbox(["run", "--rm", "--root", fx.store, "--network", "none", "-v", `${volume}:/out`, "--rootfs", fx.rootfs, "sh", "-c", "echo ran >> /out/runs"], {
        env: { CBOX_REPLAY_OUT: replayFile },
      });
      expect(run).toMatchObject({ code: 0, stderr: "" });
      const replay: Replay = JSON.parse(readFileSync(replayFile, "utf8"));
      expect(replay.folders).toEqual(expect.arrayContaining(["rootfs", "upper", "work"]));
      expect(Object.keys(replay.files)).toEqual(expect.arrayContaining(["state.json", "spec.json", "hosts", "hostname", "resolv.conf"]));
      expect(replay.cgroups.every((p) => p.endsWith(`/cbox/${JSON.parse(replay.files["state.json"]!).id}`))).toBe(true);
      expect(existsSync(replay.dir)).toBe(false); // --rm took it away

      const floor = Bun.spawnSync([process.execPath, join(repo, "scripts/start-floor.ts"), replayFile], { stdout: "pipe", stderr: "pipe" });
      expect({ code: floor.exitCode, stderr: floor.stderr.toString() }).toEqual({ code: 0, stderr: "" });
      expect(readFileSync(join(volume, "runs"), "utf8")).toBe("ran\nran\n");
      expect(existsSync(replay.dir)).toBe(false);
      expect(replay.cgroups.filter((p) => existsSync(p))).toEqual([]);
    } finally {
      removeDir(out);
    }
  });
});
