// Network sysctls, e.g. "ipv4/ip_forward": /proc/sys/net shows the namespace of whoever opens it,
// so these are the calling thread's (cbox's: the host's).
import { readFileSync, writeFileSync } from "node:fs";
import { CboxError, systemErrorText } from "../../errors.ts";

const ROOT = "/proc/sys/net";

/** path is under /proc/sys/net, e.g. "ipv4/conf/cbox0/route_localnet". */
export function setSysctl(path: string, value: string): void {
  try {
    writeFileSync(`${ROOT}/${path}`, value);
  } catch (err) {
    throw new CboxError(`set ${sysctlName(path)} to ${value}: ${systemErrorText(err)}`);
  }
}

export function readSysctl(path: string): string {
  try {
    return readFileSync(`${ROOT}/${path}`, "utf8").trim();
  } catch (err) {
    throw new CboxError(`read ${sysctlName(path)}: ${systemErrorText(err)}`);
  }
}

/** As sysctl(8) names it: net.ipv4.conf.cbox0.route_localnet. */
function sysctlName(path: string): string {
  return `net.${path.replaceAll("/", ".")}`;
}
