// docker cp's rules, as plain data: which operand is the container's, how the source goes into
// the archive, and where its first entry lands at the destination. Pure: tested without files.
import { CboxError } from "../../errors.ts";

/** A copy out of a container (into a host path, or "-": a tar on stdout) or into one (from a host path, or "-": a tar on stdin). */
export interface CopyOperands {
  direction: "out" | "in";
  container: string;
  /** Absolute in the container. */
  containerPath: string;
  /** As given: a host path, or "-". */
  hostPath: string;
}

/** docker's reading of an operand: CONTAINER:PATH, unless it is absolute, has no ":", or starts with "." (./a:b). */
function splitOperand(arg: string): { container?: string; path: string } {
  const colon = arg.indexOf(":");
  if (arg.startsWith("/") || colon < 0 || arg.startsWith(".")) return { path: arg };
  return { container: arg.slice(0, colon), path: arg.slice(colon + 1) };
}

export function parseCopyOperands(operands: string[]): CopyOperands {
  if (operands.length !== 2) throw new CboxError("cbox cp needs two arguments: cbox cp CONTAINER:SRC DEST, or cbox cp SRC CONTAINER:DEST");
  const [src, dest] = operands.map(splitOperand) as [ReturnType<typeof splitOperand>, ReturnType<typeof splitOperand>];
  if (src.container !== undefined && dest.container !== undefined) throw new CboxError("cbox cp copies between a container and this host, not between two containers: copy out to a folder, then in");
  const inside = src.container !== undefined ? src : dest.container !== undefined ? dest : undefined;
  if (!inside) throw new CboxError(`cbox cp needs a container on one side: CONTAINER:PATH (write a local path that holds a ":" as ./NAME)`);
  if (!inside.container) throw new CboxError(`cbox cp: "${inside === src ? operands[0] : operands[1]}" names no container before the ":"`);
  if (!inside.path) throw new CboxError(`cbox cp: "${inside.container}:" needs a path in the container after the ":"`);
  const host = inside === src ? dest : src;
  if (!host.path) throw new CboxError("cbox cp needs a host path, or - for a tar archive on standard input or output");
  return {
    direction: inside === src ? "out" : "in",
    container: inside.container,
    containerPath: inside.path.startsWith("/") ? inside.path : `/${inside.path}`,
    hostPath: host.path,
  };
}

/** How a source goes into the archive. */
export interface SourceName {
  /** What to look up. */
  path: string;
  /** The first entry's name: the source's own, or "." when only what the folder holds goes ("SRC/."). */
  top: string;
  /** A trailing "/" or "/.": the source must be a folder (and a link there is followed). */
  folderOnly: boolean;
}

export function sourceName(given: string): SourceName {
  const folderOnly = /\/\.?\/*$/.test(given) || given === "." || given === "..";
  const parts = given.split("/").filter(Boolean);
  const last = parts.at(-1);
  if (last === undefined || last === "." || last === "..") {
    const path = last === "." ? parts.slice(0, -1) : parts;
    return { path: `${given.startsWith("/") ? "/" : ""}${path.join("/")}` || ".", top: ".", folderOnly: true };
  }
  return { path: given.replace(/\/+$/, ""), top: last, folderOnly };
}

/** What the destination is now (its last link followed). */
export interface DestinationState {
  exists: boolean;
  folder: boolean;
}

/**
 * Where the archive's first entry goes: into the destination folder under `name` (the source's
 * own name, or "." to merge a folder's contents into it), or in the destination's place.
 */
export type Placement = { into: "folder"; name: string } | { into: "place" };

export function placeSource(dest: string, state: DestinationState, source: { folder: boolean; top: string }): Placement {
  const folderNamed = dest.endsWith("/") || /(^|\/)\.\.?$/.test(dest);
  if (state.exists && state.folder) return { into: "folder", name: source.top };
  if (state.exists) {
    if (source.folder) throw new CboxError(`cannot copy a folder onto ${dest}, which is not a folder`);
    if (folderNamed) throw new CboxError(`${dest} is not a folder`);
    return { into: "place" };
  }
  if (folderNamed && !source.folder) throw new CboxError(`${dest} does not exist: a trailing / names a folder to copy into, which must exist`);
  return { into: "place" };
}

/**
 * An entry's path at the destination, as parts below the folder it is extracted into: its parts
 * below the source's top, under `name` (directly when "."). Undefined for an entry outside the top.
 */
export function placedParts(parts: string[], top: string, name: string): string[] | undefined {
  const below = top === "." ? parts : parts[0] === top ? parts.slice(1) : undefined;
  if (!below) return undefined;
  return name === "." ? below : [name, ...below];
}
