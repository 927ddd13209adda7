// The guest's results, one line each: "ok N - name", "not ok N - name: detail", comments
// ("# ..."), "Bail out! why", and last "# done PASSED FAILED". The run passes only when the guest
// said it was done, its counts match what came, and nothing failed.

export interface Results {
  passed: string[];
  failed: string[];
  bailOut?: string;
  done?: { passed: number; failed: number };
  firstResultMs?: number; // from the boot, when the first ok / not ok came
}

export function newResults(): Results {
  return { passed: [], failed: [] };
}

export function record(r: Results, line: string, sinceBootMs: number): void {
  const result = /^(not )?ok \d+ - (.*)$/.exec(line);
  if (result) {
    r.firstResultMs ??= sinceBootMs;
    (result[1] ? r.failed : r.passed).push(result[2]!);
    return;
  }
  const done = /^# done (\d+) (\d+)$/.exec(line);
  if (done) r.done = { passed: Number(done[1]), failed: Number(done[2]) };
  else if (line.startsWith("Bail out!")) r.bailOut = line.slice("Bail out!".length).trim();
}

/** Why the run failed, or undefined when every check passed and the guest reported its end. */
export function verdict(r: Results): string | undefined {
  if (r.bailOut) return `the guest gave up: ${r.bailOut}`;
  if (!r.done) return `the guest never reported its end (${r.passed.length} passed, ${r.failed.length} failed before it stopped)`;
  if (r.done.passed !== r.passed.length || r.done.failed !== r.failed.length) {
    return `the guest counted ${r.done.passed} passed and ${r.done.failed} failed, the host read ${r.passed.length} and ${r.failed.length}`;
  }
  if (r.failed.length) return `${r.failed.length} guest check${r.failed.length === 1 ? "" : "s"} failed`;
  if (!r.passed.length) return "the guest ran no check";
  return undefined;
}
