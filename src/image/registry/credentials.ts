// Registry logins where docker keeps them: config.json in $DOCKER_CONFIG or ~/.docker, either as
// `auths` entries (base64 USER:PASSWORD, or an identity token) or through a credential helper
// (docker-credential-NAME get|store|erase) that credHelpers or credsStore names. So `docker
// login` and `cbox login` share their logins.
import { chmodSync, closeSync, fchmodSync, fsyncSync, mkdirSync, openSync, readFileSync, realpathSync, renameSync, rmSync, writeSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { CboxError, systemErrorText } from "../../errors.ts";
import { DOCKER_HUB } from "../reference.ts";

export interface Credentials {
  username: string;
  password: string;
  /** An OAuth2 refresh token the registry's token server trades for access tokens. */
  identityToken?: string;
}

type Env = Record<string, string | undefined>;

interface AuthEntry {
  auth?: unknown;
  username?: unknown;
  password?: unknown;
  identitytoken?: unknown;
  [other: string]: unknown;
}

/** The parts of config.json cbox reads; every other key is kept as it is when the file is written. */
interface DockerConfig {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

/** Docker Hub's key in config.json, and the server URL its credential helpers are asked about. */
const HUB_KEY = "https://index.docker.io/v1/";
const HUB_HOSTS = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);
/** A helper's Username when its Secret is an identity token. */
const TOKEN_USERNAME = "<token>";

/** No HOME and no passwd entry (a bare server's service, a chroot): nowhere to keep logins. */
class NoHomeError extends CboxError {
  constructor() {
    super("there is no home folder to keep registry logins in (HOME is not set and this user has no passwd entry): set HOME or DOCKER_CONFIG");
  }
}

export function dockerConfigPath(env: Env = process.env): string {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  let home = env.HOME;
  try {
    home ||= homedir();
  } catch {
    // os.homedir() throws when the passwd database has no entry for this user
  }
  if (!home) throw new NoHomeError();
  return join(home, ".docker", "config.json");
}

/**
 * The registry a config.json key (or `cbox login`'s operand) names: without a scheme or a path,
 * lowercase, and Docker Hub's names as docker.io. "https://index.docker.io/v1/" -> "docker.io".
 */
export function registryOfKey(key: string): string {
  const host = key
    .trim()
    .replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")
    .replace(/\/.*$/s, "")
    .toLowerCase();
  return HUB_HOSTS.has(host) ? DOCKER_HUB : host;
}

/** `cbox login`'s and `logout`'s operand as a registry: "https://ghcr.io/v2/" -> "ghcr.io". */
export function loginRegistry(text: string): string {
  const registry = registryOfKey(text);
  if (!/^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/.test(registry)) {
    throw new CboxError(`${JSON.stringify(text)} is not a registry: give HOST[:PORT], such as ghcr.io or localhost:5000`);
  }
  return registry;
}

/** The key docker login writes for registry, which is also the server URL its helpers get. */
function serverKey(registry: string): string {
  const name = registryOfKey(registry);
  return name === DOCKER_HUB ? HUB_KEY : name;
}

/** The keys of a config.json table that name registry, docker's own spelling first. */
function keysFor(table: Record<string, unknown> | undefined, registry: string): string[] {
  if (!table) return [];
  const name = registryOfKey(registry);
  const own = serverKey(registry);
  const keys = Object.keys(table).filter((k) => registryOfKey(k) === name);
  return keys.sort((a, b) => Number(b === own) - Number(a === own));
}

function malformed(path: string, why: string): CboxError {
  return new CboxError(`${path} is not a valid docker config file (${why}): fix it or remove it`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function readConfig(path: string): DockerConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CboxError(`cannot read docker's config file: ${systemErrorText(err)}`);
  }
  if (text.trim() === "") return {};
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (err) {
    throw malformed(path, (err as Error).message.split("\n")[0]!);
  }
  if (!isObject(config)) throw malformed(path, "it is not a JSON object");
  if (config.auths !== undefined) {
    if (!isObject(config.auths)) throw malformed(path, '"auths" is not an object');
    for (const [key, entry] of Object.entries(config.auths)) {
      if (!isObject(entry)) throw malformed(path, `"auths" entry ${JSON.stringify(key)} is not an object`);
    }
  }
  if (config.credsStore !== undefined && typeof config.credsStore !== "string") throw malformed(path, '"credsStore" is not a string');
  if (config.credHelpers !== undefined) {
    if (!isObject(config.credHelpers) || !Object.values(config.credHelpers).every((v) => typeof v === "string")) {
      throw malformed(path, '"credHelpers" is not an object of strings');
    }
  }
  return config as DockerConfig;
}

/** Writes config as path's new content in one rename: a reader sees the old file or the new one. */
function writeConfig(path: string, config: DockerConfig): void {
  let target = path;
  try {
    target = realpathSync(path); // a config.json that is a symlink stays one
  } catch {}
  const dir = dirname(target);
  const temp = join(dir, `.${basename(target)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  try {
    if (mkdirSync(dir, { recursive: true, mode: 0o700 }) !== undefined) chmodSync(dir, 0o700);
    const fd = openSync(temp, "wx", 0o600);
    try {
      fchmodSync(fd, 0o600); // whatever the umask
      writeSync(fd, `${JSON.stringify(config, null, "\t")}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new CboxError(`cannot write docker's config file ${target}: ${systemErrorText(err)}`);
  }
}

/** A credential helper and the setting of config.json that names it (for messages). */
interface Helper {
  program: string;
  setting: string;
}

function helperFor(config: DockerConfig, registry: string, path: string): Helper | undefined {
  const key = keysFor(config.credHelpers, registry)[0];
  const [name, setting] = key !== undefined ? [config.credHelpers![key]!, `credHelpers[${JSON.stringify(key)}]`] : [config.credsStore, "credsStore"];
  if (!name) return undefined;
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw malformed(path, `${setting} names ${JSON.stringify(name)}, not a helper name such as "pass"`);
  return { program: `docker-credential-${name}`, setting };
}

type HelperAnswer = { ok: true; output: string } | { ok: false; notFound: boolean; message: string };

/** Runs `docker-credential-NAME action` with input on its stdin, as docker does. */
function runHelper(helper: Helper, action: "get" | "store" | "erase", input: string, env: Env, path: string): HelperAnswer {
  const exe = Bun.which(helper.program, { PATH: env.PATH ?? "/usr/local/bin:/usr/bin:/bin" });
  if (!exe) throw new CboxError(`the credential helper ${helper.program} (${helper.setting} in ${path}) is not on PATH: install it, or remove ${helper.setting} from ${path}`);
  const definedEnv = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  let r: ReturnType<typeof Bun.spawnSync>;
  try {
    r = Bun.spawnSync([exe, action], { stdin: Buffer.from(input), stdout: "pipe", stderr: "pipe", env: definedEnv });
  } catch (err) {
    throw new CboxError(`the credential helper ${exe} could not be run (${systemErrorText(err)}): fix it, or remove ${helper.setting} from ${path}`);
  }
  const output = r.stdout?.toString() ?? "";
  if (r.exitCode === 0) return { ok: true, output };
  const said = `${output}\n${r.stderr?.toString() ?? ""}`.trim();
  const message = said.split("\n")[0]!.trim() || (r.exitCode === null ? `killed by ${r.signalCode}` : `exit status ${r.exitCode}`);
  return { ok: false, notFound: /credentials not found/i.test(said), message };
}

function helperFailed(helper: Helper, action: string, message: string, path: string): CboxError {
  return new CboxError(`the credential helper ${helper.program} failed to ${action} credentials (${message}): fix it, or remove ${helper.setting} from ${path}`);
}

/** The login stored for registry ("docker.io", "ghcr.io", "localhost:5000"), if any. */
export function credentialsFor(registry: string, env: Env = process.env): Credentials | undefined {
  let path: string;
  try {
    path = dockerConfigPath(env);
  } catch (err) {
    if (err instanceof NoHomeError) return undefined; // no home, no stored login: pull anonymously
    throw err;
  }
  const config = readConfig(path);
  const helper = helperFor(config, registry, path);
  if (helper) return helperGet(helper, serverKey(registry), env, path);
  for (const key of keysFor(config.auths, registry)) {
    const creds = decodeEntry(config.auths![key]!, key, path);
    if (creds) return creds;
  }
  return undefined;
}

function helperGet(helper: Helper, serverUrl: string, env: Env, path: string): Credentials | undefined {
  const r = runHelper(helper, "get", serverUrl, env, path);
  if (!r.ok) {
    if (r.notFound) return undefined;
    throw helperFailed(helper, "get", r.message, path);
  }
  let answer: unknown;
  try {
    answer = JSON.parse(r.output);
  } catch {}
  if (!isObject(answer) || typeof answer.Username !== "string" || typeof answer.Secret !== "string") {
    throw helperFailed(helper, "get", "its answer is not JSON with Username and Secret", path);
  }
  if (answer.Username === TOKEN_USERNAME) return { username: "", password: "", identityToken: answer.Secret };
  if (!answer.Username && !answer.Secret) return undefined;
  return { username: answer.Username, password: answer.Secret };
}

function decodeEntry(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  let username = typeof entry.username === "string" ? entry.username : "";
  let password = typeof entry.password === "string" ? entry.password : "";
  if (entry.auth !== undefined && entry.auth !== "") {
    const encoded = typeof entry.auth === "string" ? entry.auth.replace(/\s+/g, "") : "";
    const text = /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, "base64").toString("utf8") : "";
    const colon = text.indexOf(":");
    if (colon < 0) throw malformed(path, `the "auth" of ${JSON.stringify(key)} is not base64 of USER:PASSWORD`);
    username = text.slice(0, colon);
    password = text.slice(colon + 1);
  }
  const identityToken = typeof entry.identitytoken === "string" && entry.identitytoken ? entry.identitytoken : undefined;
  if (!username && !password && !identityToken) return undefined; // `{}`: docker's mark for a login kept in credsStore
  return identityToken ? { username, password, identityToken } : { username, password };
}

const holdsLogin = (entry: AuthEntry | undefined) => !!(entry && (entry.auth || entry.username || entry.password || entry.identitytoken));

/** Where a login was stored: config.json itself, or a credential helper (its program's name). */
export interface StoredIn {
  path: string;
  helper?: string;
}

/**
 * Stores creds for registry: through the credential helper when config.json names one for it,
 * else as its `auths` entry (the rest of the file kept as it was; the file 0600, a new folder 0700).
 */
export function storeCredentials(registry: string, creds: Credentials, env: Env = process.env): StoredIn {
  const path = dockerConfigPath(env);
  const config = readConfig(path);
  const helper = helperFor(config, registry, path);
  if (helper) {
    const secret = creds.identityToken ? { Username: TOKEN_USERNAME, Secret: creds.identityToken } : { Username: creds.username, Secret: creds.password };
    const r = runHelper(helper, "store", JSON.stringify({ ServerURL: serverKey(registry), ...secret }), env, path);
    if (!r.ok) throw helperFailed(helper, "store", r.message, path);
    return { path, helper: helper.program };
  }
  // An identity token replaces the password, as docker stores it: auth is then "USER:".
  const entry: AuthEntry = { auth: Buffer.from(`${creds.username}:${creds.identityToken ? "" : creds.password}`).toString("base64") };
  if (creds.identityToken) entry.identitytoken = creds.identityToken;
  writeConfig(path, { ...config, auths: { ...config.auths, [serverKey(registry)]: entry } });
  return { path };
}

/**
 * Removes registry's login: every `auths` key that names it, and the helper's entry when one is
 * configured. True when a login was there to remove.
 */
export function eraseCredentials(registry: string, env: Env = process.env): boolean {
  const path = dockerConfigPath(env);
  const config = readConfig(path);
  let erased = false;
  const helper = helperFor(config, registry, path);
  if (helper) {
    const r = runHelper(helper, "erase", serverKey(registry), env, path);
    if (r.ok) erased = true;
    else if (!r.notFound) throw helperFailed(helper, "erase", r.message, path);
  }
  const keys = keysFor(config.auths, registry);
  if (keys.length > 0) {
    const auths = { ...config.auths };
    for (const key of keys) {
      erased ||= holdsLogin(auths[key]);
      delete auths[key];
    }
    writeConfig(path, { ...config, auths });
  }
  return erased;
}
