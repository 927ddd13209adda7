// The test command (npm test): builds dist/cbox and the release (dist/release, which the
// installer's and the test server's tests install from), runs every test with bun test, and ends
// with one plain summary line ("N passed, N failed, N skipped").
import { $ } from "bun";

await $`bun scripts/build.ts --host-only`;
await $`bun scripts/release.ts`;

const bunTest = ["bun", "test", "--timeout", "120000", ...(process.argv.slice(2).length ? process.argv.slice(2) : ["test/"])];
// As root, the tests run in a network namespace of their own, loopback up: containers on the
// default bridge network put cbox0 and cbox's firewall table there, never on the host's.
// CBOX_TEST_NETNS tells the tests which namespace that is (test/integration/helpers.ts).
const inPrivateNetwork =
  process.getuid!() === 0 ? ["unshare", "--net", "sh", "-c", 'ip link set lo up && CBOX_TEST_NETNS=$(stat -L -c %i /proc/self/ns/net) exec "$@"', "sh"] : [];
const proc = Bun.spawn([...inPrivateNetwork, ...bunTest], {
  stdout: "inherit",
  stderr: "pipe",
});
let summary = "";
const decoder = new TextDecoder();
for await (const chunk of proc.stderr) {
  const text = decoder.decode(chunk);
  process.stderr.write(text);
  summary = (summary + text).slice(-4096);
}
const code = await proc.exited;
const count = (word: string) => Number(new RegExp(`^\\s*(\\d+) ${word}$`, "m").exec(summary)?.[1] ?? 0);
console.log(`tests: ${count("pass")} passed, ${count("fail")} failed, ${count("skip")} skipped`);
process.exit(code);
