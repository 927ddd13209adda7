import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { credentialsFor, dockerConfigPath, eraseCredentials, loginRegistry, storeCredentials } from "../../src/image/registry/credentials.ts";
import { thrown } from "./helpers.ts";

let tmp: string;
let env: Record<string, string | undefined>;
let configDir: string;
let configFile: string;
let helperStore: string;

const b64 = (s: string) => Buffer.from(s).toString("base64");
const writeConfig = (config: unknown) => {
  mkdirSync(configDir, { recursive: true });
  writeFileSync(configFile, typeof config === "string" ? config : JSON.stringify(config));
};
const readConfig = () => JSON.parse(readFileSync(configFile, "utf8"));
const mode = (p: string) => statSync(p).mode & 0o777;

// A credential helper as docker's are: the action in argv[1], the request on stdin. It keeps each
// server's JSON in a file of CBOXTEST_STORE and logs every call there.
const FAKE_HELPER = `#!/bin/sh
input=$(cat)
printf '%s %s\\n' "$1" "$input" >> "$CBOXTEST_STORE/log"
name() { printf %s "$1" | tr -c 'A-Za-z0-9' _; }
case "$1" in
get|erase)
  f="$CBOXTEST_STORE/$(name "$input")"
  if [ ! -f "$f" ]; then echo "credentials not found in native keychain"; exit 1; fi
  if [ "$1" = get ]; then cat "$f"; else rm "$f"; fi ;;
store)
  url=$(printf %s "$input" | sed -n 's/.*"ServerURL":"\\([^"]*\\)".*/\\1/p')
  printf %s "$input" > "$CBOXTEST_STORE/$(name "$url")" ;;
*) echo "unknown action $1" >&2; exit 2 ;;
esac
`;

function writeHelper(name: string, script: string): void {
  const file = join(tmp, "bin", `docker-credential-${name}`);
  writeFileSync(file, script);
  chmodSync(file, 0o755);
}

const helperLog = () => (existsSync(join(helperStore, "log")) ? readFileSync(join(helperStore, "log"), "utf8") : "");

beforeEach(() => {
  tmp = mkdtempSync(join(tmpdir(), "cbox-credentials-"));
  configDir = join(tmp, "docker");
  configFile = join(configDir, "config.json");
  helperStore = join(tmp, "helper-store");
  mkdirSync(helperStore);
  mkdirSync(join(tmp, "bin"));
  writeHelper("cboxtest", FAKE_HELPER);
  env = { DOCKER_CONFIG: configDir, HOME: join(tmp, "home"), PATH: `${join(tmp, "bin")}:/usr/bin:/bin`, CBOXTEST_STORE: helperStore };
});
afterEach(() => rmSync(tmp, { recursive: true, force: true }));

describe("dockerConfigPath", () => {
  test("$DOCKER_CONFIG, then $HOME/.docker, then the user's home", () => {
    expect(dockerConfigPath({ DOCKER_CONFIG: "/etc/dc", HOME: "/home/x" })).toBe("/etc/dc/config.json");
    expect(dockerConfigPath({ HOME: "/home/x" })).toBe("/home/x/.docker/config.json");
    expect(dockerConfigPath({ DOCKER_CONFIG: "", HOME: "/home/x" })).toBe("/home/x/.docker/config.json");
    expect(dockerConfigPath({})).toBe(join(homedir(), ".docker", "config.json"));
  });
});

describe("loginRegistry", () => {
  test("strips a scheme and a path, and names Docker Hub docker.io", () => {
    expect(loginRegistry("ghcr.io")).toBe("ghcr.io");
    expect(loginRegistry("https://ghcr.io/v2/")).toBe("ghcr.io");
    expect(loginRegistry("http://localhost:5000")).toBe("localhost:5000");
    expect(loginRegistry("Registry.Example:443/")).toBe("registry.example:443");
    expect(loginRegistry("[::1]:5000")).toBe("[::1]:5000");
    for (const hub of ["docker.io", "index.docker.io", "registry-1.docker.io", "https://index.docker.io/v1/"]) expect(loginRegistry(hub)).toBe("docker.io");
  });

  test("refuses what is not HOST[:PORT]", () => {
    expect(thrown(() => loginRegistry("a b")).message).toBe('"a b" is not a registry: give HOST[:PORT], such as ghcr.io or localhost:5000');
    expect(thrown(() => loginRegistry("")).message).toBe('"" is not a registry: give HOST[:PORT], such as ghcr.io or localhost:5000');
  });
});

describe("credentialsFor from auths", () => {
  test("no config file, an empty one, or no entry: no credentials", () => {
    expect(credentialsFor("ghcr.io", env)).toBeUndefined();
    writeConfig("");
    expect(credentialsFor("ghcr.io", env)).toBeUndefined();
    writeConfig({ auths: { "quay.io": { auth: b64("a:b") } } });
    expect(credentialsFor("ghcr.io", env)).toBeUndefined();
  });

  for (const key of ["localhost:5000", "https://localhost:5000", "http://localhost:5000", "https://localhost:5000/v1/", "http://localhost:5000/v2", "HTTPS://LocalHost:5000"]) {
    test(`key ${JSON.stringify(key)} is localhost:5000's`, () => {
      writeConfig({ auths: { [key]: { auth: b64("alice:pa:ss") } } });
      expect(credentialsFor("localhost:5000", env)).toEqual({ username: "alice", password: "pa:ss" });
      expect(credentialsFor("localhost:5001", env)).toBeUndefined();
      expect(credentialsFor("localhost", env)).toBeUndefined();
    });
  }

  for (const key of ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io", "https://registry-1.docker.io/v2/"]) {
    test(`key ${JSON.stringify(key)} is Docker Hub's`, () => {
      writeConfig({ auths: { [key]: { auth: b64("hubuser:hubpass") } } });
      expect(credentialsFor("docker.io", env)).toEqual({ username: "hubuser", password: "hubpass" });
      expect(credentialsFor("ghcr.io", env)).toBeUndefined();
    });
  }

  test("docker's own key wins over another spelling, wherever it is in the file", () => {
    writeConfig({ auths: { "docker.io": { auth: b64("old:1") }, "https://index.docker.io/v1/": { auth: b64("new:2") } } });
    expect(credentialsFor("docker.io", env)).toEqual({ username: "new", password: "2" });
    writeConfig({ auths: { "https://ghcr.io": { auth: b64("old:1") }, "ghcr.io": { auth: b64("new:2") } } });
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "new", password: "2" });
  });

  test("an identitytoken comes with the username of auth", () => {
    writeConfig({ auths: { "ghcr.io": { auth: b64("bob:"), identitytoken: "refresh-123" } } });
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "bob", password: "", identityToken: "refresh-123" });
  });

  test("username and password fields, and an empty entry (a login kept elsewhere)", () => {
    writeConfig({ auths: { "ghcr.io": { username: "carol", password: "pw" }, "quay.io": {} } });
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "carol", password: "pw" });
    expect(credentialsFor("quay.io", env)).toBeUndefined();
  });

  test("a malformed config.json: one line naming the file and what to do", () => {
    writeConfig("{ auths: ");
    const err = thrown(() => credentialsFor("ghcr.io", env));
    expect(err.message).toStartWith(`${configFile} is not a valid docker config file (`);
    expect(err.message).toEndWith("): fix it or remove it");
    expect(err.message).not.toContain("\n");
    writeConfig("[1]");
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(`${configFile} is not a valid docker config file (it is not a JSON object): fix it or remove it`);
    writeConfig({ auths: [] });
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(`${configFile} is not a valid docker config file ("auths" is not an object): fix it or remove it`);
    writeConfig({ auths: { "ghcr.io": { auth: "not base64!" } } });
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(`${configFile} is not a valid docker config file (the "auth" of "ghcr.io" is not base64 of USER:PASSWORD): fix it or remove it`);
    writeConfig({ auths: { "ghcr.io": { auth: b64("no colon") } } });
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toContain('the "auth" of "ghcr.io" is not base64 of USER:PASSWORD');
    writeConfig({ credsStore: "../../bin/sh" });
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(`${configFile} is not a valid docker config file (credsStore names "../../bin/sh", not a helper name such as "pass"): fix it or remove it`);
  });
});

describe("storeCredentials in config.json", () => {
  test("makes the folder 0700 and the file 0600, and reads back", () => {
    const where = storeCredentials("localhost:5000", { username: "alice", password: "s3cret" }, env);
    expect(where).toEqual({ path: configFile });
    expect(mode(configDir)).toBe(0o700);
    expect(mode(configFile)).toBe(0o600);
    expect(readConfig()).toEqual({ auths: { "localhost:5000": { auth: b64("alice:s3cret") } } });
    expect(credentialsFor("localhost:5000", env)).toEqual({ username: "alice", password: "s3cret" });
    expect(readdirSync(configDir)).toEqual(["config.json"]); // no temporary file left
  });

  test("keeps every other key and entry as it was, in order, and makes an existing file 0600", () => {
    const before = {
      psFormat: "table {{.ID}}",
      auths: { "quay.io": { auth: b64("q:w"), email: "q@example.org" }, "ghcr.io": { auth: b64("old:old") } },
      proxies: { default: { httpProxy: "http://proxy:3128" } },
      currentContext: "default",
    };
    writeConfig(before);
    chmodSync(configFile, 0o644);
    storeCredentials("ghcr.io", { username: "new", password: "pw" }, env);
    const after = readConfig();
    expect(after).toEqual({ ...before, auths: { ...before.auths, "ghcr.io": { auth: b64("new:pw") } } });
    expect(Object.keys(after)).toEqual(["psFormat", "auths", "proxies", "currentContext"]);
    expect(Object.keys(after.auths)).toEqual(["quay.io", "ghcr.io"]);
    expect(mode(configFile)).toBe(0o600);
  });

  test("Docker Hub's login goes under docker's key", () => {
    storeCredentials("docker.io", { username: "hub", password: "pw" }, env);
    expect(Object.keys(readConfig().auths)).toEqual(["https://index.docker.io/v1/"]);
    expect(credentialsFor("docker.io", env)).toEqual({ username: "hub", password: "pw" });
  });

  test("an identity token is stored as docker does: identitytoken, and auth with no password", () => {
    storeCredentials("ghcr.io", { username: "bob", password: "ignored", identityToken: "refresh-9" }, env);
    expect(readConfig().auths["ghcr.io"]).toEqual({ auth: b64("bob:"), identitytoken: "refresh-9" });
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "bob", password: "", identityToken: "refresh-9" });
  });

  test("a symlinked config.json stays a symlink", () => {
    const real = join(tmp, "real-config.json");
    writeFileSync(real, JSON.stringify({ psFormat: "x" }));
    mkdirSync(configDir);
    symlinkSync(real, configFile);
    storeCredentials("ghcr.io", { username: "a", password: "b" }, env);
    expect(readFileSync(real, "utf8")).toContain("ghcr.io");
    expect(readConfig().psFormat).toBe("x");
    expect(readdirSync(configDir)).toEqual(["config.json"]);
  });

  test("a malformed config.json is not overwritten", () => {
    writeConfig("{oops");
    expect(thrown(() => storeCredentials("ghcr.io", { username: "a", password: "b" }, env)).message).toEndWith("fix it or remove it");
    expect(readFileSync(configFile, "utf8")).toBe("{oops");
  });
});

describe("eraseCredentials in config.json", () => {
  test("removes every key naming the registry and nothing else", () => {
    writeConfig({ auths: { "https://ghcr.io": { auth: b64("a:1") }, "ghcr.io": { auth: b64("a:2") }, "quay.io": { auth: b64("q:3") } }, psFormat: "x" });
    expect(eraseCredentials("ghcr.io", env)).toBe(true);
    expect(readConfig()).toEqual({ auths: { "quay.io": { auth: b64("q:3") } }, psFormat: "x" });
    expect(mode(configFile)).toBe(0o600);
    expect(credentialsFor("ghcr.io", env)).toBeUndefined();
    expect(eraseCredentials("ghcr.io", env)).toBe(false);
  });

  test("Docker Hub under any of its keys", () => {
    writeConfig({ auths: { "https://index.docker.io/v1/": { auth: b64("a:1") }, "registry-1.docker.io": { auth: b64("a:2") } } });
    expect(eraseCredentials("docker.io", env)).toBe(true);
    expect(readConfig()).toEqual({ auths: {} });
  });

  test("nothing stored: false, and no file made", () => {
    expect(eraseCredentials("ghcr.io", env)).toBe(false);
    expect(existsSync(configDir)).toBe(false);
  });

  test("an empty entry holds no login: false, and the entry goes", () => {
    writeConfig({ auths: { "ghcr.io": {}, "quay.io": { auth: b64("q:3") } } });
    expect(eraseCredentials("ghcr.io", env)).toBe(false);
    expect(readConfig()).toEqual({ auths: { "quay.io": { auth: b64("q:3") } } });
  });
});

describe("a credential helper", () => {
  test("credsStore: store, get and erase go through the helper with docker's requests", () => {
    writeConfig({ credsStore: "cboxtest", auths: {} });
    const before = readFileSync(configFile, "utf8");
    expect(storeCredentials("docker.io", { username: "hub", password: "pw" }, env)).toEqual({ path: configFile, helper: "docker-credential-cboxtest" });
    expect(readFileSync(configFile, "utf8")).toBe(before); // the secret is the helper's alone
    expect(credentialsFor("docker.io", env)).toEqual({ username: "hub", password: "pw" });
    expect(eraseCredentials("docker.io", env)).toBe(true);
    expect(credentialsFor("docker.io", env)).toBeUndefined();
    expect(eraseCredentials("docker.io", env)).toBe(false);
    expect(helperLog()).toBe(
      [
        'store {"ServerURL":"https://index.docker.io/v1/","Username":"hub","Secret":"pw"}',
        "get https://index.docker.io/v1/",
        "erase https://index.docker.io/v1/",
        "get https://index.docker.io/v1/",
        "erase https://index.docker.io/v1/",
        "",
      ].join("\n"),
    );
  });

  test('"credentials not found" is no login', () => {
    writeConfig({ credsStore: "cboxtest" });
    expect(credentialsFor("ghcr.io", env)).toBeUndefined();
    expect(helperLog()).toBe("get ghcr.io\n");
  });

  test("an identity token travels as Username <token>", () => {
    writeConfig({ credsStore: "cboxtest" });
    storeCredentials("ghcr.io", { username: "bob", password: "", identityToken: "refresh-7" }, env);
    expect(helperLog()).toBe('store {"ServerURL":"ghcr.io","Username":"<token>","Secret":"refresh-7"}\n');
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "", password: "", identityToken: "refresh-7" });
  });

  test("credHelpers names a helper for one registry; the others use auths", () => {
    writeConfig({ credHelpers: { "https://localhost:5000": "cboxtest" }, auths: { "ghcr.io": { auth: b64("g:h") } } });
    storeCredentials("localhost:5000", { username: "l", password: "m" }, env);
    storeCredentials("quay.io", { username: "q", password: "r" }, env);
    expect(credentialsFor("localhost:5000", env)).toEqual({ username: "l", password: "m" });
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "g", password: "h" });
    expect(readConfig().auths).toEqual({ "ghcr.io": { auth: b64("g:h") }, "quay.io": { auth: b64("q:r") } });
    expect(helperLog()).toBe('store {"ServerURL":"localhost:5000","Username":"l","Secret":"m"}\nget localhost:5000\n');
  });

  test("credHelpers wins over credsStore", () => {
    writeHelper("other", "#!/bin/sh\necho should-not-run >&2\nexit 3\n");
    writeConfig({ credsStore: "other", credHelpers: { "ghcr.io": "cboxtest" } });
    storeCredentials("ghcr.io", { username: "a", password: "b" }, env);
    expect(credentialsFor("ghcr.io", env)).toEqual({ username: "a", password: "b" });
  });

  test("logout with credsStore also drops docker's empty auths entry", () => {
    writeConfig({ credsStore: "cboxtest", auths: { "ghcr.io": {}, "quay.io": {} } });
    storeCredentials("ghcr.io", { username: "a", password: "b" }, env);
    expect(eraseCredentials("ghcr.io", env)).toBe(true);
    expect(readConfig()).toEqual({ credsStore: "cboxtest", auths: { "quay.io": {} } });
  });

  test("a helper that is not on PATH: one line naming it and what to do", () => {
    writeConfig({ credsStore: "nosuch" });
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(
      `the credential helper docker-credential-nosuch (credsStore in ${configFile}) is not on PATH: install it, or remove credsStore from ${configFile}`,
    );
    writeConfig({ credHelpers: { "ghcr.io": "nosuch" } });
    expect(thrown(() => storeCredentials("ghcr.io", { username: "a", password: "b" }, env)).message).toBe(
      `the credential helper docker-credential-nosuch (credHelpers["ghcr.io"] in ${configFile}) is not on PATH: install it, or remove credHelpers["ghcr.io"] from ${configFile}`,
    );
  });

  test("a helper that fails, or answers nonsense: one line naming it and what to do", () => {
    writeHelper("broken", "#!/bin/sh\necho 'error: the keyring is locked' >&2\nexit 1\n");
    writeConfig({ credsStore: "broken" });
    const failed = (action: string, why: string) =>
      `the credential helper docker-credential-broken failed to ${action} credentials (${why}): fix it, or remove credsStore from ${configFile}`;
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(failed("get", "error: the keyring is locked"));
    expect(thrown(() => storeCredentials("ghcr.io", { username: "a", password: "b" }, env)).message).toBe(failed("store", "error: the keyring is locked"));
    expect(thrown(() => eraseCredentials("ghcr.io", env)).message).toBe(failed("erase", "error: the keyring is locked"));
    writeHelper("broken", "#!/bin/sh\nexit 4\n");
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(failed("get", "exit status 4"));
    writeHelper("broken", "#!/bin/sh\necho '{\"Username\": 1}'\n");
    expect(thrown(() => credentialsFor("ghcr.io", env)).message).toBe(failed("get", "its answer is not JSON with Username and Secret"));
  });
});
