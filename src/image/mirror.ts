// Finding an Alpine minirootfs on a mirror laid out like Alpine's CDN:
// MIRROR/{latest-stable|edge|vX.Y}/releases/ARCH/{latest-releases.yaml, alpine-minirootfs-*.tar.gz[.sha256]}
import { CboxError } from "../errors.ts";
import { httpText, HttpStatusError } from "./http.ts";
import { releaseFolder, type AlpineRelease } from "./ref.ts";
import { parseReleasesYaml } from "./releases-yaml.ts";

export const DEFAULT_MIRROR = "https://dl-cdn.alpinelinux.org/alpine";

export interface RemoteImage {
  url: string;
  sha256: string;
  version: string;
  /** When the release was built, from the yaml; undefined for exact versions. */
  date?: string;
}

export function mirrorBase(flag?: string): string {
  return (flag || process.env.CBOX_ALPINE_MIRROR || DEFAULT_MIRROR).replace(/\/+$/, "");
}

export async function resolveAlpine(mirror: string, release: AlpineRelease, arch: string, tag: string): Promise<RemoteImage> {
  const dir = `${mirror}/${releaseFolder(release)}/releases/${arch}`;
  try {
    return release.kind === "exact" ? await exactVersion(dir, release.version, arch) : await latestOfFolder(dir);
  } catch (err) {
    if (!(err instanceof HttpStatusError) || err.status !== 404) throw err;
    throw new CboxError(`no alpine:${tag} for ${arch} on the mirror (${err.url}: 404 not found); ${await whatTheMirrorHas(mirror, release, dir, arch)}`);
  }
}

async function latestOfFolder(dir: string): Promise<RemoteImage> {
  const yamlUrl = `${dir}/latest-releases.yaml`;
  const entry = parseReleasesYaml(await httpText(yamlUrl)).find((e) => e.flavor === "alpine-minirootfs");
  if (!entry?.file || !entry.version || !isSha256(entry.sha256)) {
    throw new CboxError(`${yamlUrl} lists no alpine-minirootfs release with a file, version and sha256`);
  }
  const date = entry.date && entry.time ? `${entry.date}T${entry.time}Z` : undefined;
  return { url: `${dir}/${entry.file}`, sha256: entry.sha256!, version: entry.version, date };
}

async function exactVersion(dir: string, version: string, arch: string): Promise<RemoteImage> {
  const url = `${dir}/alpine-minirootfs-${version}-${arch}.tar.gz`;
  const sha256 = (await httpText(`${url}.sha256`)).trim().split(/\s+/)[0];
  if (!isSha256(sha256)) throw new CboxError(`${url}.sha256 holds no sha256 checksum`);
  return { url, sha256: sha256!, version };
}

function isSha256(value: string | undefined): boolean {
  return !!value && /^[0-9a-f]{64}$/.test(value);
}

/** "the mirror lists versions 3.20.1, 3.20.3" or "branches v3.19, v3.20, edge", from its indexes. */
async function whatTheMirrorHas(mirror: string, release: AlpineRelease, dir: string, arch: string): Promise<string> {
  if (release.kind === "exact") {
    const versions = await listing(`${dir}/`, new RegExp(`alpine-minirootfs-([0-9][0-9a-z._-]*)-${arch}\\.tar\\.gz"`, "g"));
    if (versions.length) return `the mirror lists ${versions.join(", ")} in ${release.branch}`;
  }
  const branches = await listing(`${mirror}/`, /href="((?:v\d+\.\d+|edge|latest-stable))\/"/g);
  return branches.length ? `the mirror lists ${branches.join(", ")}` : "the mirror lists nothing that could be read";
}

async function listing(url: string, pattern: RegExp): Promise<string[]> {
  try {
    const html = await httpText(url);
    return [...new Set([...html.matchAll(pattern)].map((m) => m[1]!))].sort(compareVersions);
  } catch {
    return [];
  }
}

function compareVersions(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}
