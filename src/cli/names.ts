// The names `cbox _names KIND` prints for completion: what a user types after a command.
import { containerDirs, listContainerIds, readState } from "../container/store-read.ts";
import { BUILTIN_NETWORKS, listNetworks } from "../container/network/named.ts";
import { listVolumes } from "../container/volume-store.ts";
import { formatRef } from "../image/ref.ts";
import { listTags } from "../image/store.ts";
import type { Paths } from "../paths.ts";

/** What `cbox _names` lists, and completion scripts ask it for. */
export const NAME_KINDS = ["containers", "images", "networks", "volumes"] as const;
export type NameKind = (typeof NAME_KINDS)[number];

export function namesOf(kind: NameKind, paths: Paths): string[] {
  switch (kind) {
    case "containers":
      return listContainerIds(paths).map((id) => readState(containerDirs(paths, id).dir)?.name || id.slice(0, 12)).sort();
    case "images":
      return listTags(paths).map((t) => formatRef(t.ref)).sort();
    case "networks":
      return [...BUILTIN_NETWORKS, ...listNetworks(paths).map((n) => n.name)];
    case "volumes":
      return listVolumes(paths).map((v) => v.name);
  }
}
