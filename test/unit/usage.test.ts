// The usage's colour, and the completion scripts made from the command table.
import { describe, expect, test } from "bun:test";
import { completionScript } from "../../src/cli/completion.ts";
import { wantsColour, withoutColour } from "../../src/cli/usage.ts";

describe("colour", () => {
  test("only on a terminal, never with NO_COLOR (set and not empty) or TERM=dumb", () => {
    expect(wantsColour(true, {})).toBe(true);
    expect(wantsColour(false, {})).toBe(false);
    expect(wantsColour(undefined, {})).toBe(false);
    expect(wantsColour(true, { NO_COLOR: "1" })).toBe(false);
    expect(wantsColour(true, { NO_COLOR: "" })).toBe(true);
    expect(wantsColour(true, { TERM: "dumb" })).toBe(false);
  });
  test("the SGR sequences go, the text stays", () => {
    expect(withoutColour("\x1b[90mgrey\x1b[39m \x1b[4m\x1b[1mUSAGE\x1b[22m\x1b[24m")).toBe("grey USAGE");
  });
});

describe("completion scripts", () => {
  const commands = {
    run: async () => ({ args: { rm: { type: "boolean" as const }, network: { type: "string" as const, alias: "net" }, detach: { type: "boolean" as const, alias: "d" } } }),
    rm: async () => ({ args: { force: { type: "boolean" as const, alias: "f" } } }),
    "network ls": async () => ({ args: { quiet: { type: "boolean" as const, alias: "q" } } }),
    _exited: async () => ({ args: {} }),
  };
  const groups = { network: { commands: { ls: "network ls", list: "network ls" } } };
  test("bash: top-level commands and groups, each command's flags with its aliases, names after rm; hidden commands left out", async () => {
    const bash = await completionScript("bash", commands, groups);
    expect(bash).toContain(`compgen -W "network rm run"`);
    expect(bash).toContain(`"run") flags="--rm --network --net --detach -d"; names="images" ;;`);
    expect(bash).toContain(`"rm") flags="--force -f"; names="containers" ;;`);
    expect(bash).toContain(`"network ls") flags="--quiet -q"; names="" ;;`);
    expect(bash).not.toContain("_exited");
  });
  test("fish: a line per flag and the names; an unknown shell is refused", async () => {
    const fish = await completionScript("fish", commands, groups);
    expect(fish).toContain("complete -c cbox -n '__fish_seen_subcommand_from run' -s d");
    expect(fish).toContain("complete -c cbox -n '__fish_seen_subcommand_from network; and __fish_seen_subcommand_from ls' -l quiet");
    expect(await completionScript("csh", commands, groups).catch((e: Error) => e.message)).toBe("cbox completion csh: expected bash, zsh or fish");
  });
});
