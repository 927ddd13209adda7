// The host's side of the guest's network: one HTTP server on 127.0.0.1 (the guest's 10.0.2.2)
// with the release as GitHub lays it out (/latest/download/FILE), an Alpine mirror for
// `cbox pull` (/alpine/...), the guest's test (/guest.tar) and a page for containers to reach
// through NAT (/nat-probe). node:http rather than Bun.serve: it sends Content-Length and closes
// HTTP/1.0 connections, which busybox nc in a container relies on.
import { createReadStream, statSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";

export const RELEASE_FILES = ["install.sh", "SHA256SUMS", "cbox-linux-x64", "cbox-linux-arm64"];
export const NAT_PROBE_BODY = "the test host answers through NAT\n";

export interface Served {
  releaseDir: string;
  mirror: Map<string, Uint8Array | string>; // path under /alpine/ -> body (test/fixtures/mirror.ts)
  guestTar: string;
}
export interface Server {
  port: number;
  requests: string[]; // "GET /path 200", in order
  stop(): void;
}

export function startServer(served: Served): Promise<Server> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://host").pathname;
    const status = answer(served, path, req, res);
    requests.push(`${req.method} ${path} ${status}`);
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      resolve({ port, requests, stop: () => (server.closeAllConnections(), server.close()) });
    });
  });
}

function answer(served: Served, path: string, req: IncomingMessage, res: ServerResponse): number {
  if (req.method !== "GET" && req.method !== "HEAD") return send(res, req, 405, "405 Method Not Allowed\n");
  const release = /^\/latest\/download\/([^/]+)$/.exec(path)?.[1];
  if (release && RELEASE_FILES.includes(release)) return sendFile(res, req, join(served.releaseDir, release));
  if (path === "/guest.tar") return sendFile(res, req, served.guestTar);
  if (path === "/nat-probe") return send(res, req, 200, NAT_PROBE_BODY);
  const body = path.startsWith("/alpine/") ? served.mirror.get(path.slice("/alpine/".length)) : undefined;
  if (body !== undefined) return send(res, req, 200, body);
  return send(res, req, 404, "404 Not Found\n");
}

function send(res: ServerResponse, req: IncomingMessage, status: number, body: Uint8Array | string): number {
  const bytes = typeof body === "string" ? Buffer.from(body) : body;
  res.writeHead(status, { "Content-Length": String(bytes.length), "Content-Type": "application/octet-stream" });
  res.end(req.method === "HEAD" ? undefined : bytes);
  return status;
}

function sendFile(res: ServerResponse, req: IncomingMessage, file: string): number {
  let size: number;
  try {
    size = statSync(file).size;
  } catch {
    return send(res, req, 404, "404 Not Found\n");
  }
  res.writeHead(200, { "Content-Length": String(size), "Content-Type": "application/octet-stream" });
  if (req.method === "HEAD") res.end();
  else createReadStream(file).pipe(res);
  return 200;
}
