// The user a container's process runs as: `-u` and `--group-add` read as docker reads them,
// names looked up in the image's /etc/passwd and /etc/group.
import { CboxError } from "../errors.ts";
import { readImageFile } from "./image-files.ts";

export interface User {
  uid: number;
  gid: number;
  /** Supplementary groups: the primary one, the user's from the image's /etc/group, then --group-add's. */
  groups: number[];
  home: string;
  /** --group-add's gids (in groups too). */
  added?: number[];
}

interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

function parsePasswd(text: string): PasswdEntry[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 7)
    .map((f) => ({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5]! }));
}

function parseGroup(text: string): { name: string; gid: number; members: string[] }[] {
  return text
    .split("\n")
    .map((l) => l.split(":"))
    .filter((f) => f.length >= 4)
    .map((f) => ({ name: f[0]!, gid: Number(f[2]), members: f[3]!.split(",").filter(Boolean) }));
}

const ID_MAX = 0xfffffffe;

/** `-u` as docker reads it: name or uid, optionally `:group` or `:gid`, looked up in the image; groupAdd: --group-add's names or gids. */
export function resolveUser(value: string, layers: string[], groupAdd: string[] = []): User {
  const [userPart = "", groupPart, extra] = value.split(":");
  if (extra !== undefined || userPart === "" || groupPart === "") {
    throw new CboxError(`--user ${JSON.stringify(value)}: expected UID[:GID] or NAME[:GROUP]`);
  }
  const passwd = parsePasswd(readImageFile(layers, "/etc/passwd"));
  const groups = parseGroup(readImageFile(layers, "/etc/group"));
  const numeric = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined);
  const checkId = (id: number) => {
    if (id > ID_MAX) throw new CboxError(`--user ${JSON.stringify(value)}: id ${id} is out of range`);
    return id;
  };

  const uidNum = numeric(userPart);
  const entry = uidNum === undefined ? passwd.find((p) => p.name === userPart) : passwd.find((p) => p.uid === uidNum);
  if (uidNum === undefined && !entry) throw new CboxError(`--user: no user ${JSON.stringify(userPart)} in the image's /etc/passwd`);
  const uid = checkId(uidNum ?? entry!.uid);

  let gid: number;
  if (groupPart === undefined) gid = entry?.gid ?? 0;
  else {
    const gidNum = numeric(groupPart);
    const group = gidNum === undefined ? groups.find((g) => g.name === groupPart) : undefined;
    if (gidNum === undefined && !group) throw new CboxError(`--user: no group ${JSON.stringify(groupPart)} in the image's /etc/group`);
    gid = checkId(gidNum ?? group!.gid);
  }
  // As docker: the primary group first, then the user's groups from the image's /etc/group.
  const member = entry ? groups.filter((g) => g.members.includes(entry.name) && g.gid !== gid).map((g) => g.gid) : [];
  const added = groupAdd.map((g) => {
    const byName = groups.find((group) => group.name === g)?.gid;
    const id = numeric(g) ?? byName;
    if (id === undefined) throw new CboxError(`--group-add ${g}: no such group in the image's /etc/group (give its name or a number)`);
    if (id > ID_MAX) throw new CboxError(`--group-add ${g}: id ${id} is out of range`);
    return id;
  });
  return { uid, gid, groups: [...new Set([gid, ...member, ...added])], home: entry?.home || "/", ...(added.length && { added }) };
}
