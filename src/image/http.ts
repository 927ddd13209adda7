// HTTP GETs for images, failures as one clear line. Bun's fetch itself follows HTTP_PROXY,
// HTTPS_PROXY and NO_PROXY from the environment (tested in test/integration/pull.test.ts).
import { CboxError } from "../errors.ts";

export class HttpStatusError extends CboxError {
  constructor(
    readonly url: string,
    readonly status: number,
  ) {
    super(`GET ${url}: HTTP ${status}`);
  }
}

/** GET url; throws CboxError for network failures and, unless allowed, for non-2xx answers. */
export async function httpGet(url: string, opts: { signal?: AbortSignal } = {}): Promise<Response> {
  const target = new URL(url);
  let res: Response;
  try {
    res = await fetch(url, { signal: opts.signal, redirect: "follow" });
  } catch (err) {
    throw new CboxError(`cannot reach ${target.origin}: ${networkReason(err)}; check the network, or set --mirror or CBOX_ALPINE_MIRROR`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new HttpStatusError(url, res.status);
  }
  return res;
}

export async function httpText(url: string): Promise<string> {
  const res = await httpGet(url);
  try {
    return await res.text();
  } catch (err) {
    throw new CboxError(`GET ${url}: the connection broke (${networkReason(err)})`);
  }
}

export function networkReason(err: unknown): string {
  const e = err as { code?: string; message?: string };
  const byCode: Record<string, string> = {
    ConnectionRefused: "connection refused",
    ECONNREFUSED: "connection refused",
    ECONNRESET: "connection reset",
    ConnectionClosed: "the connection closed early",
    FailedToOpenSocket: "cannot open a connection",
    ENOTFOUND: "host not found",
    EAI_AGAIN: "its name does not resolve (no answer from DNS: is this machine offline?)",
    UnableToConnect: "cannot connect",
    ETIMEDOUT: "timed out",
  };
  return (e?.code && byCode[e.code]) || e?.message || String(err);
}
