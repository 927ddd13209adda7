// What cbox is: its version, and the commit its executable was built from.
import pkg from "../package.json" with { type: "json" };

// Set by scripts/build.ts (bun build --define); absent when the sources run without a build.
declare const CBOX_COMMIT: string;

export const version: string = pkg.version;
export const commit: string = typeof CBOX_COMMIT === "string" ? CBOX_COMMIT : "unknown";

/** "cbox 0.1.0 (commit 1d01d84ab0c2)". */
export function versionLine(): string {
  return `cbox ${version} (commit ${commit})`;
}
