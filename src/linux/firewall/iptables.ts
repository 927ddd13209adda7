// The iptables driver (either backend, legacy or nft): cbox's own chains (CBOX, CBOX-POSTROUTING,
// CBOX-GUARD, CBOX-FORWARD), reached by one jump each from the built-in chains. A start reads the
// tables once (iptables-save) and writes what is missing in one iptables-restore --noflush, which
// is atomic per table. iptables accepts duplicate rules, so every check is made here.
import {
  checkNetwork,
  servedNetworks,
  checkPorts,
  describeOwned,
  FirewallError,
  hostKey,
  ownedMatches,
  ownerTag,
  portsToAdd,
  shortOwner,
  toolMessage,
  type BridgeNetwork,
  type PublishedEntry,
  type PublishedPort,
  type Runner,
} from "./common.ts";

/** One table of iptables-save output: built-in chains' policies ("-" for cbox's own) and rules. */
export interface SavedTable {
  chains: Map<string, string>;
  rules: string[];
}

/** iptables-save output, by table name. Comments and counters are left out. */
export function parseSave(text: string): Map<string, SavedTable> {
  const tables = new Map<string, SavedTable>();
  let table: SavedTable | undefined;
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.startsWith("*")) {
      table = { chains: new Map(), rules: [] };
      tables.set(line.slice(1), table);
    } else if (!table || line === "" || line.startsWith("#")) {
      continue;
    } else if (line === "COMMIT") {
      table = undefined;
    } else if (line.startsWith(":")) {
      const [name, policy] = line.slice(1).split(" ");
      table.chains.set(name!, policy ?? "-");
    } else if (line.startsWith("-A ")) {
      table.rules.push(line);
    }
  }
  return tables;
}

/** A cbox chain that is rewritten whole when its rules differ from these. */
interface OwnedChain {
  name: string;
  rules: string[];
}

/** What a table needs: chains to rewrite, chains that must merely exist, jumps into them. */
interface TableSpec {
  owned: OwnedChain[];
  kept: string[];
  /** Rules of built-in chains as iptables-save prints them; first: put at the top (-I). */
  jumps: { rule: string; first?: boolean }[];
  /** Lines added as they are (the ports). */
  extra: string[];
}

/**
 * The iptables-restore --noflush input for one table, or "" when it has all it needs. Declaring a
 * chain that exists flushes it (both backends), so owned chains are declared only when they must be
 * rewritten, and CBOX (the ports of every container) only when it is missing. A jump found twice
 * (two starts at once) loses its copies.
 */
export function tableInput(name: string, saved: SavedTable | undefined, spec: TableSpec): string {
  const out: string[] = [];
  const rules = saved?.rules ?? [];
  for (const chain of spec.kept) if (!saved?.chains.has(chain)) out.push(`:${chain} - [0:0]`);
  for (const chain of spec.owned) {
    const now = rules.filter((r) => r.startsWith(`-A ${chain.name} `));
    if (saved?.chains.has(chain.name) && now.join("\n") === chain.rules.join("\n")) continue;
    out.push(`:${chain.name} - [0:0]`, ...chain.rules);
  }
  for (const jump of spec.jumps) {
    const count = rules.filter((r) => r === jump.rule).length;
    if (count === 0) out.push(jump.first ? jump.rule.replace(/^-A (\S+)/, "-I $1 1") : jump.rule);
    for (let i = 1; i < count; i++) out.push(jump.rule.replace(/^-A /, "-D "));
  }
  out.push(...spec.extra);
  return out.length ? `*${name}\n${out.join("\n")}\nCOMMIT\n` : "";
}

/** The guard: no 127.0.0.0/8 from the bridge (route_localnet), no container from elsewhere. */
export function rawSpec(net: BridgeNetwork): TableSpec {
  return {
    owned: [
      {
        name: "CBOX-GUARD",
        rules: servedNetworks(net).flatMap(({ bridge, subnet }) => [`-A CBOX-GUARD -d 127.0.0.0/8 -i ${bridge} -j DROP`, `-A CBOX-GUARD -d ${subnet} ! -i ${bridge} -m addrtype ! --dst-type LOCAL -j DROP`]),
      },
    ],
    kept: [],
    jumps: [{ rule: "-A PREROUTING -j CBOX-GUARD" }],
    extra: [],
  };
}

export function natSpec(net: BridgeNetwork, ports: string[]): TableSpec {
  return {
    owned: [
      {
        name: "CBOX-POSTROUTING",
        rules: servedNetworks(net).flatMap(({ bridge, subnet }) => [
          `-A CBOX-POSTROUTING -s ${subnet} ! -o ${bridge} -j MASQUERADE`,
          `-A CBOX-POSTROUTING -s 127.0.0.0/8 -o ${bridge} -m conntrack --ctstate DNAT -j MASQUERADE`,
          `-A CBOX-POSTROUTING -s ${subnet} -o ${bridge} -m conntrack --ctstate DNAT -j MASQUERADE`,
        ]),
      },
    ],
    kept: ["CBOX"],
    jumps: [
      { rule: "-A PREROUTING -m addrtype --dst-type LOCAL -j CBOX" },
      { rule: "-A OUTPUT -m addrtype --dst-type LOCAL -j CBOX" },
      { rule: "-A POSTROUTING -j CBOX-POSTROUTING" },
    ],
    extra: ports,
  };
}

/** A host whose FORWARD policy is DROP (docker, ufw) drops bridged and routed container traffic. */
export function filterSpec(net: BridgeNetwork): TableSpec {
  return {
    owned: [
      {
        name: "CBOX-FORWARD",
        rules: servedNetworks(net).flatMap(({ bridge }) => [`-A CBOX-FORWARD -i ${bridge} -j ACCEPT`, `-A CBOX-FORWARD -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED,DNAT -j ACCEPT`]),
      },
    ],
    kept: [],
    jumps: [{ rule: "-A FORWARD -j CBOX-FORWARD", first: true }],
    extra: [],
  };
}

export function forwardDrops(filter: SavedTable | undefined): boolean {
  return filter?.chains.get("FORWARD") === "DROP";
}

/** A port's DNAT rule in CBOX, without the -A/-I/-D, as iptables-save prints it. */
export function portRule(owner: string, containerIp: string, p: PublishedPort): string {
  const dest = p.hostIp ? `-d ${p.hostIp}/32 ` : "";
  return `${dest}-p ${p.proto} -m ${p.proto} --dport ${p.hostPort} -m comment --comment "${ownerTag(owner)}" -j DNAT --to-destination ${containerIp}:${p.containerPort}`;
}

/** One host address goes first (-I), as nft's addrports map is looked up before ports. */
export function portLine(verb: "add" | "delete", owner: string, containerIp: string, p: PublishedPort): string {
  const op = verb === "delete" ? "-D CBOX" : p.hostIp ? "-I CBOX 1" : "-A CBOX";
  return `${op} ${portRule(owner, containerIp, p)}`;
}

/** The whole restore input of a start, given what iptables-save showed. */
export function publishInput(saved: Map<string, SavedTable>, net: BridgeNetwork, owner: string, containerIp: string, add: PublishedPort[]): string {
  const ports = add.map((p) => portLine("add", owner, containerIp, p));
  let input = tableInput("raw", saved.get("raw"), rawSpec(net)) + tableInput("nat", saved.get("nat"), natSpec(net, ports));
  if (forwardDrops(saved.get("filter"))) input += tableInput("filter", saved.get("filter"), filterSpec(net));
  return input;
}

/** A port found in CBOX, with the rule as it was printed (deleted by that, so that it matches). */
export interface SavedEntry extends PublishedEntry {
  rule?: string;
}

export function unpublishInput(entries: SavedEntry[]): string {
  if (entries.length === 0) return "";
  const lines = entries.map((e) => (e.rule ? e.rule.replace(/^-A /, "-D ") : portLine("delete", e.owner, e.containerIp, e)));
  return `*nat\n${lines.join("\n")}\nCOMMIT\n`;
}

/** Splits a rule as iptables-save prints it; "..." is one word. */
function words(rule: string): string[] {
  return [...rule.matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => m[1] ?? m[2]!);
}

/** The ports in CBOX's rules (DNAT rules that cbox did not write are left out). */
export function parsePortRules(nat: SavedTable | undefined): SavedEntry[] {
  const entries: SavedEntry[] = [];
  for (const rule of nat?.rules ?? []) {
    if (!rule.startsWith("-A CBOX ")) continue;
    const w = words(rule);
    const arg = (flag: string) => {
      const i = w.indexOf(flag);
      return i < 0 ? undefined : w[i + 1];
    };
    const proto = arg("-p");
    const dport = Number(arg("--dport"));
    const to = /^([0-9.]+):(\d+)$/.exec(arg("--to-destination") ?? "");
    const dest = arg("-d");
    if ((proto !== "tcp" && proto !== "udp") || !dport || !to || arg("-j") !== "DNAT") continue;
    if (dest !== undefined && !dest.endsWith("/32")) continue;
    const comment = arg("--comment") ?? "";
    entries.push({
      hostIp: dest ? dest.slice(0, -3) : "",
      hostPort: dport,
      containerPort: Number(to[2]),
      proto,
      owner: comment.startsWith("cbox:") ? comment.slice(5) : "",
      containerIp: to[1]!,
      rule,
    });
  }
  return entries;
}

function runOk(run: Runner, argv: string[], stdin?: string): string {
  const res = run(argv, stdin);
  if (res.code !== 0) throw new FirewallError(toolMessage(argv[0]!.slice(argv[0]!.lastIndexOf("/") + 1), res, stdin));
  return res.stdout;
}

/** For the nft driver: CBOX-FORWARD when the iptables FORWARD policy is DROP (one iptables-save, and a restore when something is missing). */
export function ensureForward(iptables: string, net: BridgeNetwork, run: Runner): void {
  const filter = parseSave(runOk(run, [`${iptables}-save`, "-t", "filter"])).get("filter");
  if (!forwardDrops(filter)) return;
  const input = tableInput("filter", filter, filterSpec(net));
  if (input) runOk(run, [`${iptables}-restore`, "-w", "--noflush"], input);
}

export class IptablesFirewall {
  readonly kind = "iptables" as const;

  constructor(
    readonly iptables: string,
    private readonly run: Runner,
  ) {}

  publish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    const checked = checkPorts(net, containerIp, ports);
    shortOwner(owner);
    const saved = parseSave(runOk(this.run, [`${this.iptables}-save`]));
    const add = portsToAdd(parsePortRules(saved.get("nat")), owner, containerIp, checked);
    const input = publishInput(saved, net, owner, containerIp, add);
    if (input) runOk(this.run, [`${this.iptables}-restore`, "-w", "--noflush"], input);
  }

  unpublish(net: BridgeNetwork, owner: string, containerIp: string, ports: PublishedPort[]): void {
    checkNetwork(net);
    const input = unpublishInput(ownedMatches(this.saved(), owner, ports));
    if (input) runOk(this.run, [`${this.iptables}-restore`, "-w", "--noflush"], input);
  }

  entriesOf(owner: string): string[] {
    return describeOwned(this.published(), owner);
  }

  published(): PublishedEntry[] {
    return this.saved()
      .map(({ rule: _, ...e }) => e)
      .sort((a, b) => hostKey(a).localeCompare(hostKey(b)));
  }

  private saved(): SavedEntry[] {
    return parsePortRules(parseSave(runOk(this.run, [`${this.iptables}-save`, "-t", "nat"])).get("nat"));
  }
}
