// Registry image references as docker reads them (issue 18): [HOST[:PORT]/]PATH[:TAG][@DIGEST].
// `nginx` is docker.io/library/nginx:latest, `user/app` is docker.io/user/app:latest, and a first
// component with a dot or a colon, or `localhost`, names the registry. Not wired into pull yet.
import { CboxError } from "../errors.ts";

export const DOCKER_HUB = "docker.io";

export interface RegistryRef {
  registry: string; // "docker.io", "ghcr.io", "localhost:5000", "[::1]:5000"
  repository: string; // "library/nginx", "org/app"
  tag?: string; // "latest" when neither a tag nor a digest was given
  digest?: string; // "sha256:" and 64 lowercase hex digits
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
const NAME_MAX = 255;

function invalid(text: string, why: string): never {
  throw new CboxError(`invalid image reference ${JSON.stringify(text)}: ${why}`);
}

/** Parses and normalizes a reference; one line naming what is wrong when it is not one. */
export function parseRegistryRef(text: string): RegistryRef {
  if (text === "") invalid(text, "it is empty; give NAME[:TAG], such as nginx:1.27");
  const at = text.indexOf("@");
  const digest = at >= 0 ? text.slice(at + 1) : undefined;
  const named = at >= 0 ? text.slice(0, at) : text;
  if (digest !== undefined && !DIGEST.test(digest)) invalid(text, "a digest is sha256: and 64 lowercase hex digits");

  const colon = named.lastIndexOf(":");
  const hasTag = colon > named.lastIndexOf("/");
  const tag = hasTag ? named.slice(colon + 1) : undefined;
  const name = hasTag ? named.slice(0, colon) : named;
  if (tag !== undefined && !TAG.test(tag)) invalid(text, "a tag is up to 128 letters, digits, _ . and -, not starting with . or -");

  const slash = name.indexOf("/");
  const first = slash >= 0 ? name.slice(0, slash) : "";
  // A first component is the registry when it cannot be a repository's: a dot, a port, localhost,
  // or an uppercase letter (docker's rule).
  const isRegistry = slash >= 0 && (/[.:]/.test(first) || first === "localhost" || first !== first.toLowerCase());
  let registry = isRegistry ? first : DOCKER_HUB;
  let repository = isRegistry ? name.slice(slash + 1) : name;
  if (isRegistry && !HOST.test(registry)) invalid(text, `${registry} is not a registry host[:port]`);
  if (registry === "index.docker.io" || registry === "registry-1.docker.io") registry = DOCKER_HUB;
  if (repository !== repository.toLowerCase()) invalid(text, "a repository name must be lowercase");
  if (!repository.split("/").every((c) => COMPONENT.test(c))) {
    invalid(text, "a repository name is lowercase letters and digits, separated by . _ __ - or /");
  }
  if (registry === DOCKER_HUB && !repository.includes("/")) repository = `library/${repository}`;
  if (`${registry}/${repository}`.length > NAME_MAX) invalid(text, `a name is at most ${NAME_MAX} characters`);
  return { registry, repository, tag: tag ?? (digest ? undefined : "latest"), digest };
}

/** The full form: docker.io/library/nginx:latest, ghcr.io/org/app@sha256:... */
export function formatRegistryRef(ref: RegistryRef): string {
  return `${ref.registry}/${ref.repository}${ref.tag ? `:${ref.tag}` : ""}${ref.digest ? `@${ref.digest}` : ""}`;
}

/** The short form docker shows: nginx:latest, user/app:1, ghcr.io/org/app:1.2. */
export function familiarRegistryRef(ref: RegistryRef): string {
  const full = formatRegistryRef(ref);
  if (ref.registry !== DOCKER_HUB) return full;
  const path = full.slice(DOCKER_HUB.length + 1);
  return path.startsWith("library/") ? path.slice("library/".length) : path;
}

/**
 * Whether the registry is spoken to over plain HTTP: localhost and 127.0.0.0/8 (as docker does)
 * and the hosts listed in `insecure` (CBOX_INSECURE_REGISTRIES, comma-separated host[:port]).
 */
export function plainHttpRegistry(registry: string, insecure: string | undefined): boolean {
  const host = registry.replace(/:\d+$/, "");
  if (host === "localhost" || host === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(host)) return true;
  const listed = (insecure ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  return listed.includes(registry) || listed.includes(host);
}
