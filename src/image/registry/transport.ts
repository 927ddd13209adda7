// HTTP for registries: redirects followed by hand (credentials go only to the host they were
// meant for), 429 and 5xx retried with backoff, bodies read with a size limit. Failures are one
// line naming the registry.
import { CboxError } from "../../errors.ts";
import { networkReason } from "../http.ts";

export interface RequestOptions {
  method?: "GET" | "HEAD" | "POST";
  headers?: Record<string, string>;
  body?: string;
  /** Sent only to the origin of the first URL: dropped when a redirect leaves it. */
  authorization?: string;
  /** Skip TLS certificate checks (--tls-verify=false). */
  insecureTls?: boolean;
  /** What the request is, for messages: "the manifest of nginx:latest". */
  what: string;
}

const MAX_REDIRECTS = 5;
const RETRIED_STATUS = new Set([429, 500, 502, 503, 504]);
/** Tries of one request answered 429 or 5xx, or cut by the network mid-way, before giving up. */
export const ATTEMPTS = 4;
const MAX_RETRY_WAIT_MS = 10_000;

/** The delay before try n+1 (n from 1): 250 ms doubled each time, or what Retry-After asks for. */
export function retryDelayMs(attempt: number, retryAfter: string | null): number {
  const seconds = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  const base = seconds !== undefined ? seconds * 1000 : 250 * 2 ** (attempt - 1);
  return Math.min(base, MAX_RETRY_WAIT_MS);
}

/**
 * The final response to url after redirects, retried while the answer is 429 or 5xx. Any
 * status is returned; the caller decides what a 401 or 404 means.
 */
export async function request(url: string, opts: RequestOptions): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await followRedirects(url, opts);
    } catch (err) {
      if (err instanceof CboxError || attempt >= ATTEMPTS || !isTransient(err)) throw reachError(url, err);
      await Bun.sleep(retryDelayMs(attempt, null));
      continue;
    }
    if (!RETRIED_STATUS.has(res.status) || attempt >= ATTEMPTS) return res;
    await res.body?.cancel();
    await Bun.sleep(retryDelayMs(attempt, res.headers.get("retry-after")));
  }
}

async function followRedirects(url: string, opts: RequestOptions): Promise<Response> {
  const origin = new URL(url).origin;
  let target = url;
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = { "user-agent": "cbox", ...opts.headers };
    if (opts.authorization && new URL(target).origin === origin) headers.authorization = opts.authorization;
    const res = await fetch(target, {
      method: opts.method ?? "GET",
      headers,
      body: opts.body,
      redirect: "manual",
      tls: opts.insecureTls ? { rejectUnauthorized: false } : undefined,
    } as RequestInit);
    const location = res.headers.get("location");
    if (res.status < 300 || res.status >= 400 || res.status === 304 || !location) return res;
    await res.body?.cancel();
    if (hop >= MAX_REDIRECTS) throw new CboxError(`${opts.what}: more than ${MAX_REDIRECTS} redirects from ${new URL(url).host}`);
    const next = new URL(location, target);
    if (next.protocol !== "https:" && next.protocol !== "http:") throw new CboxError(`${opts.what}: a redirect to ${next.protocol} is not followed`);
    target = next.href;
  }
}

/** Connection resets and timeouts are worth another try; a refused connection or no host is not. */
function isTransient(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? "";
  return /ECONNRESET|ConnectionClosed|ETIMEDOUT|Timeout|EPIPE/i.test(code);
}

function reachError(url: string, err: unknown): CboxError {
  if (err instanceof CboxError) return err;
  const reason = networkReason(err);
  const tls = /certificate|self.signed|tls|ssl/i.test(reason) ? " (for a registry without a valid certificate: --tls-verify=false or CBOX_INSECURE_REGISTRIES)" : "";
  return new CboxError(`cannot reach the registry ${new URL(url).host}: ${reason}${tls}`);
}

/** The body as bytes, refused past limit bytes (a manifest or config is small; a hostile one is not). */
export async function readLimited(res: Response, limit: number, what: string): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? NaN);
  if (declared > limit) {
    await res.body?.cancel();
    throw new CboxError(`${what} is ${declared} bytes, over cbox's limit of ${limit}: refused`);
  }
  const parts: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body ?? []) {
      size += chunk.length;
      if (size > limit) throw new CboxError(`${what} is over cbox's limit of ${limit} bytes: refused`);
      parts.push(chunk);
    }
  } catch (err) {
    await res.body?.cancel().catch(() => {});
    if (err instanceof CboxError) throw err;
    throw new CboxError(`${what}: the download broke off (${networkReason(err)})`);
  }
  return Buffer.concat(parts);
}
