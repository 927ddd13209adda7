// One registry's /v2/ API for one repository: GETs of manifests and blobs, answering the
// registry's challenge (Basic, or Bearer tokens for the repository's pull scope) once and
// reusing the answer. Docker Hub is reached at registry-1.docker.io, or through a mirror first.
import { CboxError } from "../../errors.ts";
import { DOCKER_HUB, plainHttpRegistry } from "../reference.ts";
import { basicAuthorization, fetchToken, parseChallenge, type Challenge } from "./auth.ts";
import type { Credentials } from "./credentials.ts";
import { request } from "./transport.ts";

export interface ClientOptions {
  credentials?: Credentials;
  /** --tls-verify=false: no certificate checks, and plain HTTP where HTTPS fails to connect. */
  tlsVerify?: boolean;
  env: Record<string, string | undefined>;
}

/** Where a registry's API is: http(s)://HOST/v2/. */
export function registryBase(registry: string, env: Record<string, string | undefined>): string {
  if (registry === DOCKER_HUB) return "https://registry-1.docker.io/v2/";
  const scheme = plainHttpRegistry(registry, env.CBOX_INSECURE_REGISTRIES) ? "http" : "https";
  return `${scheme}://${registry}/v2/`;
}

/** CBOX_REGISTRY_MIRROR (docker's registry-mirrors): bases to try before Docker Hub itself. */
export function hubMirrors(env: Record<string, string | undefined>): string[] {
  return (env.CBOX_REGISTRY_MIRROR ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)
    .map((m) => {
      const url = /^https?:\/\//.test(m) ? m : `https://${m}`;
      try {
        return `${new URL(url).origin}/v2/`;
      } catch {
        throw new CboxError(`CBOX_REGISTRY_MIRROR: ${JSON.stringify(m)} is not a URL (give https://HOST[:PORT])`);
      }
    });
}

export class RegistryClient {
  private authorization?: string;

  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly base: string,
    private opts: ClientOptions,
  ) {}

  /**
   * GET base + path, answering a 401 once (the first, or a token that expired mid-pull);
   * returns any final status.
   */
  async get(path: string, headers: Record<string, string>, what: string): Promise<Response> {
    const url = this.base + path;
    const send = () => request(url, { headers, authorization: this.authorization, insecureTls: this.opts.tlsVerify === false, what });
    let res = await send();
    if (res.status !== 401) return res;
    const challenge = parseChallenge(res.headers.get("www-authenticate"));
    await res.body?.cancel();
    if (!challenge) throw new CboxError(`${what}: the registry ${this.registry} asks for a login it does not describe (HTTP 401 without a usable WWW-Authenticate)`);
    this.authorization = await this.answer(challenge);
    res = await send();
    return res;
  }

  private async answer(challenge: Challenge): Promise<string> {
    const creds = this.opts.credentials;
    if (challenge.scheme === "basic") {
      if (!creds) throw new CboxError(`the registry ${this.registry} needs a login: cbox login ${this.registry}`);
      return basicAuthorization(creds);
    }
    const scope = this.repository ? `repository:${this.repository}:pull` : (challenge.scope ?? "");
    return `Bearer ${await fetchToken(challenge, scope, creds, { registry: this.registry, insecureTls: this.opts.tlsVerify === false })}`;
  }
}

/**
 * `cbox login`'s check: the registry's /v2/ answered with these credentials (a token fetched
 * with them for a Bearer registry). Throws one line when they are wrong.
 */
export async function verifyLogin(registry: string, creds: Credentials, opts: { insecure?: boolean; env?: Record<string, string | undefined> }): Promise<void> {
  const env = opts.env ?? process.env;
  const client = new RegistryClient(registry, "", registryBase(registry, env), { credentials: creds, tlsVerify: opts.insecure ? false : undefined, env });
  const res = await client.get("", {}, `login to ${registry}`);
  await res.body?.cancel();
  if (res.status === 401 || res.status === 403) throw new CboxError(`login to ${registry} failed: wrong username or password`);
  if (!res.ok) throw new CboxError(`login to ${registry} failed: ${registry}/v2/ answered HTTP ${res.status}`);
}
