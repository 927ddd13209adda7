// `cbox completion bash|zsh|fish`: a completion script made from cbox's own command table and
// flag definitions, so it never drifts from them; container, image, network and volume names
// come from `cbox _names KIND` when a word is completed.
import { CboxError } from "../errors.ts";
import type { NameKind } from "./names.ts";
import { aliasesOf, type FlagDefs } from "./flags.ts";

export type CommandTable = Record<string, () => Promise<{ args: FlagDefs }>>;
export type GroupTable = Record<string, { commands: Record<string, string> }>;

/** What a command's operands are, for the names completed after it. */
const OPERANDS: Record<string, NameKind> = {
  ...Object.fromEntries(
    ["rm", "start", "stop", "kill", "restart", "logs", "exec", "inspect", "port", "wait", "pause", "unpause", "top", "stats", "update", "rename", "attach", "cp", "diff", "export"].map((c) => [c, "containers" as const]),
  ),
  ...Object.fromEntries(["run", "create", "rmi", "tag", "save", "image inspect"].map((c) => [c, "images" as const])),
  ...Object.fromEntries(["network inspect", "network rm", "network connect", "network disconnect"].map((c) => [c, "networks" as const])),
  ...Object.fromEntries(["volume inspect", "volume rm"].map((c) => [c, "volumes" as const])),
};

interface Completable {
  /** As typed: "run", or "network create". */
  words: string;
  flags: string[];
  names?: NameKind;
}

export async function completionScript(shell: string | undefined, commands: CommandTable, groups: GroupTable): Promise<string> {
  if (shell !== "bash" && shell !== "zsh" && shell !== "fish") throw new CboxError(`cbox completion ${shell ?? ""}: expected bash, zsh or fish`.replace(" :", ":"));
  const table = await completable(commands, groups);
  const top = [...table.filter((c) => !c.words.includes(" ")).map((c) => c.words), ...Object.keys(groups)].sort();
  if (shell === "fish") return fishScript(table, top, groups);
  const bash = bashScript(table, top, groups);
  return shell === "bash" ? bash : `#compdef cbox\n# cbox completion for zsh, through bash's: eval "$(cbox completion zsh)"\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

/** Every command a user types, with its flags; a group's subcommands under their group's name. */
async function completable(commands: CommandTable, groups: GroupTable): Promise<Completable[]> {
  const typed: [string, string][] = Object.keys(commands)
    .filter((name) => !name.startsWith("_") && !name.includes(" "))
    .map((name) => [name, name]);
  for (const [group, g] of Object.entries(groups)) for (const [sub, name] of Object.entries(g.commands)) typed.push([`${group} ${sub}`, name]);
  return Promise.all(
    typed.map(async ([words, name]) => ({ words, flags: flagsOf((await commands[name]!()).args), names: OPERANDS[name] })),
  );
}

function flagsOf(defs: FlagDefs): string[] {
  return Object.entries(defs).flatMap(([name, def]) => {
    return [`--${name}`, ...aliasesOf(def).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))];
  });
}

function bashScript(table: Completable[], top: string[], groups: GroupTable): string {
  const cases = table.map((c) => `    "${c.words}") flags="${c.flags.join(" ")}"; names="${c.names ?? ""}" ;;`).join("\n");
  return `# cbox completion for bash: eval "$(cbox completion bash)", or save it as /etc/bash_completion.d/cbox
_cbox() {
  local cur=\${COMP_WORDS[COMP_CWORD]} cmd="" word i flags="" names=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    word=\${COMP_WORDS[i]}
    [[ $word == -* ]] && continue
    if [[ -z $cmd ]]; then cmd=$word; case $word in ${Object.keys(groups).join("|")}) continue ;; *) break ;; esac; fi
    cmd="$cmd $word"; break
  done
  if [[ -z $cmd ]]; then COMPREPLY=($(compgen -W "${top.join(" ")}" -- "$cur")); return; fi
  case $cmd in
${Object.entries(groups).map(([g, def]) => `    "${g}") COMPREPLY=($(compgen -W "${Object.keys(def.commands).join(" ")}" -- "$cur")); return ;;`).join("\n")}
${cases}
  esac
  if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  elif [[ -n $names ]]; then COMPREPLY=($(compgen -W "$(cbox _names "$names" 2>/dev/null)" -- "$cur"))
  else COMPREPLY=($(compgen -f -- "$cur")); fi
}
complete -F _cbox cbox
`;
}

function fishScript(table: Completable[], top: string[], groups: GroupTable): string {
  const lines = ["# cbox completion for fish: cbox completion fish > ~/.config/fish/completions/cbox.fish", "complete -c cbox -f", `complete -c cbox -n __fish_use_subcommand -a '${top.join(" ")}'`];
  for (const [g, def] of Object.entries(groups)) lines.push(`complete -c cbox -n '__fish_seen_subcommand_from ${g}; and not __fish_seen_subcommand_from ${Object.keys(def.commands).join(" ")}' -a '${Object.keys(def.commands).join(" ")}'`);
  for (const c of table) {
    const words = c.words.split(" ");
    const when = words.map((w) => `__fish_seen_subcommand_from ${w}`).join("; and ");
    for (const flag of c.flags) lines.push(`complete -c cbox -n '${when}' ${flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`}`);
    if (c.names) lines.push(`complete -c cbox -n '${when}' -a '(cbox _names ${c.names} 2>/dev/null)'`);
  }
  return `${lines.join("\n")}\n`;
}
