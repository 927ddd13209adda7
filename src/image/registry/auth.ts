// Registry authentication: what a 401's WWW-Authenticate asks for (Basic, or a Bearer token from
// a token server, anonymous or with credentials), and the Authorization header that answers it.
import { CboxError } from "../../errors.ts";
import type { Credentials } from "./credentials.ts";
import { readLimited, request } from "./transport.ts";

export type Challenge = { scheme: "basic" } | { scheme: "bearer"; realm: string; service?: string; scope?: string };

/** The challenge of a WWW-Authenticate header: `Bearer realm="...",service="...",scope="..."`. */
export function parseChallenge(header: string | null): Challenge | undefined {
  if (!header) return undefined;
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]!.toLowerCase();
  if (scheme === "basic") return { scheme: "basic" };
  if (scheme !== "bearer") return undefined;
  const params: Record<string, string> = {};
  for (const p of m[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : p[3]!;
  }
  if (!params.realm) return undefined;
  return { scheme: "bearer", realm: params.realm, service: params.service, scope: params.scope };
}

export function basicAuthorization(creds: Credentials): string {
  return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
}

const TOKEN_LIMIT = 1 << 20;

/**
 * A Bearer token for scope from the challenge's realm. With credentials they go to the realm
 * (Basic), or an identity token is traded (OAuth2 refresh_token grant); without, anonymously.
 */
export async function fetchToken(
  challenge: Extract<Challenge, { scheme: "bearer" }>,
  scope: string,
  creds: Credentials | undefined,
  opts: { registry: string; insecureTls?: boolean },
): Promise<string> {
  let realm: URL;
  try {
    realm = new URL(challenge.realm);
  } catch {
    throw new CboxError(`the registry ${opts.registry} names a token server that is not a URL: ${JSON.stringify(challenge.realm)}`);
  }
  if (realm.protocol !== "https:" && realm.protocol !== "http:") throw new CboxError(`the registry ${opts.registry} names a token server that is not http(s): ${realm.href}`);
  const what = `the token for ${opts.registry} from ${realm.host}`;
  let res: Response;
  if (creds?.identityToken) {
    const form = new URLSearchParams({ grant_type: "refresh_token", refresh_token: creds.identityToken, service: challenge.service ?? "", scope, client_id: "cbox" });
    res = await request(realm.href, { method: "POST", body: form.toString(), headers: { "content-type": "application/x-www-form-urlencoded" }, insecureTls: opts.insecureTls, what });
  } else {
    if (challenge.service) realm.searchParams.set("service", challenge.service);
    if (scope) realm.searchParams.set("scope", scope);
    if (creds) realm.searchParams.set("account", creds.username);
    res = await request(realm.href, { authorization: creds ? basicAuthorization(creds) : undefined, insecureTls: opts.insecureTls, what });
  }
  if (res.status === 401 || res.status === 403) {
    await res.body?.cancel();
    if (creds) throw new CboxError(`login to ${opts.registry} failed: wrong username or password (cbox login ${opts.registry})`);
    throw new CboxError(`the token server of ${opts.registry} refused an anonymous token: cbox login ${opts.registry}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new CboxError(`${what}: HTTP ${res.status}`);
  }
  const body = await readLimited(res, TOKEN_LIMIT, what);
  let token: unknown;
  try {
    const json = JSON.parse(new TextDecoder().decode(body)) as { token?: unknown; access_token?: unknown };
    token = json.token ?? json.access_token;
  } catch {
    // handled below
  }
  if (typeof token !== "string" || !token) throw new CboxError(`${what}: the answer holds no token`);
  return token;
}
