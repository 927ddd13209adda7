import { defineCommand } from "../define.ts";
import { readSync, writeSync } from "node:fs";
import { CboxError } from "../../errors.ts";
import { DOCKER_HUB } from "../../image/reference.ts";
import { verifyLogin } from "../../image/registry/client.ts";
import { credentialsFor, loginRegistry, storeCredentials, type Credentials } from "../../image/registry/credentials.ts";
import { rawMode } from "../../linux/termios.ts";
import { getTermios, setTermios } from "../../sys/stdio.ts";
import type { CommandArgs } from "../args.ts";
import type { FlagDefs } from "../flags.ts";
import { warn } from "../output.ts";

export const args = {
  username: { type: "string", alias: "u", description: "Username" },
  password: { type: "string", alias: "p", description: "Password (other users can see it in ps: prefer --password-stdin)" },
  "password-stdin": { type: "boolean", description: "Read the password from stdin" },
  "tls-verify": { type: "boolean", description: "Check the registry's TLS certificate (default true; --tls-verify=false: also plain HTTP)" },
} satisfies FlagDefs;

const STDIN = 0;
const STDOUT = 1;

export default defineCommand({
  meta: { name: "login", description: "Log in to a registry (default Docker Hub): cbox login [-u USER] [--password-stdin] [REGISTRY]" },
  args,
  async run({ args: a }: { args: CommandArgs<typeof args> }) {
    if (a._.length > 1) throw new CboxError("cbox login takes at most one registry, e.g. cbox login ghcr.io");
    const registry = loginRegistry(a._[0] ?? DOCKER_HUB);
    const env = process.env;
    const check = (creds: Credentials) => verifyLogin(registry, creds, { insecure: a["tls-verify"] === false, env });
    if (a.password !== undefined && a["password-stdin"]) throw new CboxError("--password and --password-stdin cannot be used together");
    if (a["password-stdin"] && !a.username) throw new CboxError("--password-stdin needs the username in --username (-u)");
    if (a.password !== undefined) warn("--password on the command line is insecure: use --password-stdin");

    // The stored login: tried first when nothing was given, and the username prompt's default.
    const stored = a.username === undefined ? credentialsFor(registry, env) : undefined;
    if (a.username === undefined && a.password === undefined && stored) {
      // As docker: a login that is still good needs no prompt, and works without a terminal.
      process.stdout.write("Authenticating with existing credentials...\n");
      try {
        await check(stored);
        process.stdout.write("Login Succeeded\n");
        return 0;
      } catch (err) {
        if (!(err instanceof CboxError)) throw err;
        warn(`the stored login did not work: ${err.message}`);
      }
    }

    const creds = { username: a.username ?? "", password: a["password-stdin"] ? readStdinPassword() : (a.password ?? "") };
    if (a.username === undefined) creds.username = promptUsername(stored?.username);
    if (!creds.password) creds.password = promptPassword();
    await check(creds);
    const where = storeCredentials(registry, creds, env);
    if (!where.helper) warn(`the password is stored unencrypted in ${where.path}; configure a credential helper (credsStore) to avoid that`);
    process.stdout.write("Login Succeeded\n");
    return 0;
  },
});

/** All of stdin, without the line end `echo` or a file leaves. */
function readStdinPassword(): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(4096);
  for (let n; (n = readSync(STDIN, buf)) > 0; ) chunks.push(Buffer.from(buf.subarray(0, n)));
  const password = Buffer.concat(chunks).toString("utf8").replace(/[\r\n]+$/, "");
  if (!password) throw new CboxError("--password-stdin: stdin held no password");
  return password;
}

function terminalOrRefuse(what: string): Uint8Array {
  const termios = getTermios(STDIN);
  if (!termios) throw new CboxError(`cbox login needs a ${what} and stdin is not a terminal to ask for it: give -u USER and --password-stdin`);
  return termios;
}

function promptUsername(previous: string | undefined): string {
  terminalOrRefuse("username");
  writeSync(STDOUT, previous ? `Username (${previous}): ` : "Username: ");
  // The terminal's line editing and echo as they are: one read returns one line.
  const bytes: number[] = [];
  const one = new Uint8Array(256);
  for (let n; !bytes.includes(0x0a) && (n = readSync(STDIN, one)) > 0; ) bytes.push(...one.subarray(0, n));
  if (!bytes.includes(0x0a)) throw new CboxError("login cancelled", 130);
  const username = Buffer.from(bytes).toString("utf8").replace(/\r?\n[^]*$/, "").trim() || previous || "";
  if (!username) throw new CboxError("a username is needed to log in");
  return username;
}

/**
 * Reads the password with echo off, in raw mode so that ^C restores the terminal before cbox
 * ends (a SIGINT would leave it silent). Backspace, ^U and Enter are handled here.
 */
function promptPassword(): string {
  const saved = terminalOrRefuse("password");
  writeSync(STDOUT, "Password: ");
  const bytes: number[] = [];
  setTermios(STDIN, rawMode(saved));
  try {
    const one = new Uint8Array(1);
    for (;;) {
      if (readSync(STDIN, one) === 0) break;
      const c = one[0]!;
      if (c === 0x0d || c === 0x0a) break;
      if (c === 0x03 || (c === 0x04 && bytes.length === 0)) throw new CboxError("login cancelled", 130);
      if (c === 0x7f || c === 0x08) {
        while (bytes.length > 0 && (bytes.pop()! & 0xc0) === 0x80); // a whole UTF-8 character
      } else if (c === 0x15) {
        bytes.length = 0;
      } else {
        bytes.push(c);
      }
    }
  } finally {
    setTermios(STDIN, saved);
    writeSync(STDOUT, "\n");
  }
  const password = Buffer.from(bytes).toString("utf8");
  if (!password) throw new CboxError("a password is needed to log in");
  return password;
}
