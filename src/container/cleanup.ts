// A stack of undo steps: everything a start creates is pushed here and unwound on failure.
export class CleanupStack {
  private steps: { what: string; undo: () => void }[] = [];

  push(what: string, undo: () => void): void {
    this.steps.push({ what, undo });
  }

  /** Runs every step, newest first; a failing step does not stop the others. Returns failures. */
  unwind(): string[] {
    const failures: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        step.undo();
      } catch (err) {
        failures.push(`${step.what}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    this.steps = [];
    return failures;
  }
}
