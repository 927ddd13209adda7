import { describe, expect, test } from "bun:test";
import { type FlagDefs, parseFlags, usageFlags } from "../../src/cli/flags.ts";
import { thrown } from "./helpers.ts";

const defs: FlagDefs = {
  rm: { type: "boolean" },
  rootfs: { type: "string" },
  name: { type: "string" },
  env: { type: "string", alias: "e", multiple: true },
  hostname: { type: "string", alias: "h" },
  interactive: { type: "boolean", alias: "i" },
  tty: { type: "boolean", alias: "t" },
};


describe("parseFlags", () => {
  test("stops at the first operand: the command keeps its own flags", () => {
    const r = parseFlags(["--rm", "--rootfs", "d", "sh", "-c", "x"], defs, true);
    expect(r.flags).toEqual({ rm: true, rootfs: "d" });
    expect(r.operands).toEqual(["sh", "-c", "x"]);
  });

  test("without stopAtOperand flags after operands are still parsed", () => {
    const r = parseFlags(["a", "--rm", "b"], defs, false);
    expect(r.flags).toEqual({ rm: true });
    expect(r.operands).toEqual(["a", "b"]);
  });

  test("-- ends the flags", () => {
    const r = parseFlags(["--rm", "--", "--name", "x"], defs, false);
    expect(r.flags).toEqual({ rm: true });
    expect(r.operands).toEqual(["--name", "x"]);
  });

  test("a lone - is an operand", () => {
    expect(parseFlags(["-", "--rm"], defs, true).operands).toEqual(["-", "--rm"]);
  });

  test("repeated multiple flags collect in order, from every spelling", () => {
    const r = parseFlags(["-e", "A=1", "--env", "B=2", "--env=C=3", "-e", "A=4"], defs, true);
    expect(r.flags.env).toEqual(["A=1", "B=2", "C=3", "A=4"]);
  });

  test("a repeated single flag keeps the last value", () => {
    expect(parseFlags(["--name", "a", "--name", "b"], defs, true).flags.name).toBe("b");
  });

  test("--flag=value keeps everything after the first =", () => {
    expect(parseFlags(["--name=a=b"], defs, true).flags.name).toBe("a=b");
  });

  test("-e K=V takes the next argument", () => {
    const r = parseFlags(["-e", "K=V", "cmd"], defs, true);
    expect(r.flags.env).toEqual(["K=V"]);
    expect(r.operands).toEqual(["cmd"]);
  });

  // Bug in src/cli/flags.ts: an argument like "-eK=V" contains "=" so it is taken as "-<key>=value"
  // with key "eK", and fails with "unknown flag: -eK=V". Docker reads it as -e "K=V".
  test("-eK=V attaches the value to the short flag", () => {
    expect(parseFlags(["-eK=V"], defs, true).flags.env).toEqual(["K=V"]);
  });

  test("-eVALUE without = attaches the value to the short flag", () => {
    expect(parseFlags(["-eFOO"], defs, true).flags.env).toEqual(["FOO"]);
  });

  test("short booleans combine: -it", () => {
    const r = parseFlags(["-it", "img"], defs, true);
    expect(r.flags).toEqual({ interactive: true, tty: true });
    expect(r.operands).toEqual(["img"]);
  });

  test("booleans combine with a trailing value flag: -ie K=V", () => {
    const r = parseFlags(["-ie", "K=V"], defs, true);
    expect(r.flags).toEqual({ interactive: true, env: ["K=V"] });
  });

  test("-h value sets the string flag it is an alias of", () => {
    const r = parseFlags(["-h", "box", "sh"], defs, true);
    expect(r.flags.hostname).toBe("box");
    expect(r.operands).toEqual(["sh"]);
  });

  test("--bool=false and --bool=true", () => {
    expect(parseFlags(["--rm=false"], defs, true).flags.rm).toBe(false);
    expect(parseFlags(["--rm=true"], defs, true).flags.rm).toBe(true);
  });

  test("--bool=maybe is refused", () => {
    expect(thrown(() => parseFlags(["--rm=maybe"], defs, true)).message).toBe('invalid boolean value for --rm=maybe: "maybe"');
  });

  test("an unknown long flag throws CboxError with exit code 125", () => {
    const err = thrown(() => parseFlags(["--nope"], defs, true));
    expect(err.message).toBe("unknown flag: --nope");
    expect(err.exitCode).toBe(125);
  });

  test("an unknown short flag inside a group is named alone", () => {
    expect(thrown(() => parseFlags(["-iz"], defs, true)).message).toBe("unknown flag: -z");
  });

  test("a string flag with no value throws", () => {
    const err = thrown(() => parseFlags(["--name"], defs, true));
    expect(err.message).toBe("flag needs an argument: --name");
    expect(err.exitCode).toBe(125);
    expect(thrown(() => parseFlags(["-e"], defs, true)).message).toBe("flag needs an argument: -e");
  });

  test("a string flag takes the next argument even when it looks like a flag", () => {
    expect(parseFlags(["--name", "--rm"], defs, true).flags).toEqual({ name: "--rm" });
  });
});

describe("usageFlags", () => {
  test("a long alias is shown as --net in the description, never as -net; short ones stay", () => {
    const shown = usageFlags({
      network: { type: "string", alias: "net", description: "Network" },
      detach: { type: "boolean", alias: "d", description: "Detach" },
    });
    expect(shown.network).toEqual({ type: "string", alias: [], description: "Network (also --net)" });
    expect(shown.detach).toEqual({ type: "boolean", alias: "d", description: "Detach" });
  });

  test("run's --net is parsed as --network", () => {
    expect(parseFlags(["--net", "none", "x"], { network: { type: "string", alias: "net" } }, true).flags).toEqual({ network: "none" });
  });
});
