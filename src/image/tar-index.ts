// Where each file of a tar archive on disk starts and how long it is, read from its headers
// alone, so `cbox load` can take a docker or OCI archive's parts in any order without unpacking
// it. ustar names with their prefix, pax path/linkpath/size records and GNU long names are read;
// symlinks and hard links are followed (within the archive) when a name is looked up.
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { CboxError } from "../errors.ts";

interface Entry {
  type: "file" | "link" | "symlink" | "other";
  offset: number;
  size: number;
  linkname: string;
}

const BLOCK = 512;

export class TarIndex {
  private constructor(
    readonly path: string,
    private entries: Map<string, Entry>,
  ) {}

  static read(path: string, what: string): TarIndex {
    const fd = openSync(path, "r");
    try {
      return new TarIndex(path, readHeaders(fd, fstatSync(fd).size, what));
    } finally {
      closeSync(fd);
    }
  }

  has(name: string): boolean {
    return this.find(name) !== undefined;
  }

  /** The file's place in the archive, links followed; undefined when the archive lacks it. */
  find(name: string): { offset: number; size: number } | undefined {
    let key = normalize(name);
    for (let hops = 0; hops < 16; hops++) {
      const e = this.entries.get(key);
      if (!e) return undefined;
      if (e.type === "file") return { offset: e.offset, size: e.size };
      if (e.type === "other") return undefined;
      const base = e.type === "symlink" && !e.linkname.startsWith("/") ? key.split("/").slice(0, -1).join("/") : "";
      key = normalize(base ? `${base}/${e.linkname}` : e.linkname);
    }
    return undefined;
  }

  /** A small file's bytes (manifests, configs), refused past limit. */
  readSmall(name: string, limit: number, what: string): Uint8Array {
    const at = this.find(name);
    if (!at) throw new CboxError(`${what}: the archive has no ${name}`);
    if (at.size > limit) throw new CboxError(`${what}: ${name} is ${at.size} bytes, over cbox's limit of ${limit}`);
    const fd = openSync(this.path, "r");
    try {
      const buf = new Uint8Array(at.size);
      let done = 0;
      while (done < at.size) {
        const n = readSync(fd, buf, done, at.size - done, at.offset + done);
        if (n === 0) throw new CboxError(`${what}: the archive ends inside ${name}`);
        done += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /** A file's bytes as a stream (layers). */
  stream(name: string, what: string): AsyncIterable<Uint8Array> {
    const at = this.find(name);
    if (!at) throw new CboxError(`${what}: the archive has no ${name}`);
    return Bun.file(this.path).slice(at.offset, at.offset + at.size).stream();
  }
}

/** "./a//b/" -> "a/b": names as the archive's JSON files give them match however the tar wrote them. */
function normalize(name: string): string {
  const parts: string[] = [];
  for (const p of name.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return parts.join("/");
}

function readHeaders(fd: number, fileSize: number, what: string): Map<string, Entry> {
  const entries = new Map<string, Entry>();
  const header = new Uint8Array(BLOCK);
  let offset = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  const damaged = (why: string) => new CboxError(`${what}: not a tar archive, or a damaged one (${why})`);
  while (offset + BLOCK <= fileSize) {
    if (readSync(fd, header, 0, BLOCK, offset) !== BLOCK) throw damaged("a header is cut short");
    if (header.every((b) => b === 0)) break;
    if (!checksumMatches(header)) throw damaged(`bad header checksum at byte ${offset}`);
    const type = String.fromCharCode(header[156]!);
    let size = pax.size !== undefined ? Number(pax.size) : octal(header.subarray(124, 136));
    const dataOffset = offset + BLOCK;
    if (dataOffset + size > fileSize) throw damaged(`an entry runs past the end of the file`);
    const data = () => {
      const buf = new Uint8Array(size);
      readSync(fd, buf, 0, size, dataOffset);
      return buf;
    };
    if (type === "x") pax = parsePax(data());
    else if (type === "L") longName = cString(data());
    else if (type === "K") longLink = cString(data());
    else if (type !== "g") {
      const magic = cString(header.subarray(257, 263));
      const prefix = magic.startsWith("ustar") ? cString(header.subarray(345, 500)) : "";
      const base = cString(header.subarray(0, 100));
      const name = pax.path ?? longName ?? (prefix ? `${prefix}/${base}` : base);
      const linkname = pax.linkpath ?? longLink ?? cString(header.subarray(157, 257));
      const kind = type === "0" || type === "\0" || type === "7" ? "file" : type === "1" ? "link" : type === "2" ? "symlink" : "other";
      entries.set(normalize(name), { type: kind, offset: dataOffset, size: kind === "file" ? size : 0, linkname });
      if ("123456".includes(type)) size = 0; // links, devices, folders and fifos carry no data
      pax = {};
      longName = longLink = undefined;
    }
    offset = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0);
  return new TextDecoder().decode(end < 0 ? bytes : bytes.subarray(0, end));
}

/** Octal digits, or base-256 (GNU) when the high bit of the first byte is set. */
function octal(field: Uint8Array): number {
  if (field[0]! & 0x80) {
    let n = field[0]! & 0x7f;
    for (const b of field.subarray(1)) n = n * 256 + b;
    return n;
  }
  const text = cString(field).trim();
  return text ? parseInt(text, 8) : 0;
}

function checksumMatches(header: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return octal(header.subarray(148, 156)) === sum;
}

/** Pax records: "LEN key=value\n", LEN counting the record's bytes. */
function parsePax(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const decoder = new TextDecoder();
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    const len = Number(decoder.decode(data.subarray(i, space)));
    if (space < 0 || !(len > 0) || i + len > data.length) break;
    const record = decoder.decode(data.subarray(space + 1, i + len - 1));
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}
