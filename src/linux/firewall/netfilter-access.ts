// How the nft driver reaches a network namespace's netfilter: a NETLINK_NETFILTER socket and its
// /proc/net. In this process's namespace, one socket serves the whole process, and is let go of
// without waiting after a delete, because of what the kernel does when such a socket is closed:
//
// nf_tables frees what a transaction deleted (cbox's map elements when a port goes) only after an
// RCU grace period, in a per-namespace work item that the commit schedules and that calls
// synchronize_rcu (nf_tables_commit_release -> nf_tables_trans_destroy_work). Releasing any bound
// NETLINK_NETFILTER socket sends NETLINK_URELEASE, and nf_tables' handler of it (nft_rcv_nl_event)
// flushes that work item first, so close(2) (or the exit that closes it) waits for the grace
// period: 6-14 ms on this project's machines, where the delete itself takes 0.1 ms. The element is
// gone when the batch is answered (unlinked from the map, no longer listed, matched or in the way
// of a new one with its key); only its memory waits. So after a delete the socket's last close is
// a short-lived child's (NetlinkSocket.closeInChild) and cbox does not wait; otherwise the socket is
// kept for the process's next use (a start reads and adds through one socket, and its --rm removal
// uses it again), and closing it at exit waits only if something else just deleted.
import { closeSync, openSync } from "node:fs";
import { NETLINK_NETFILTER, NetlinkSocket } from "../netlink.ts";

/** One network namespace's netfilter, as the driver reaches it without a tool. */
export interface NetfilterAccess {
  /** A NETLINK_NETFILTER socket in that namespace. */
  open(): NetlinkSocket;
  /** Done with a socket open gave; deleted: its last batch deleted something. Unset: it is closed. */
  done?(sock: NetlinkSocket, deleted: boolean): void;
  /** Its /proc/net (which legacy iptables tables are loaded). */
  procNet: string;
}

/** One socket, opened by open at first use and kept; after a delete, closed in a child (and a new one opened next time). */
export function heldAccess(open: () => NetlinkSocket, procNet: string): NetfilterAccess {
  let held: NetlinkSocket | undefined;
  return {
    open: () => (held ??= open()),
    done: (sock, deleted) => {
      if (!deleted) return;
      if (sock === held) held = undefined;
      sock.closeInChild();
    },
    procNet,
  };
}

/** This process's network namespace: where spawnRunner's nft and iptables act too. */
export const thisNamespace: NetfilterAccess = heldAccess(() => NetlinkSocket.open(undefined, NETLINK_NETFILTER), "/proc/self/net");

/** The namespace of a process (a test's), for a driver whose runner acts there. */
export function namespaceOf(pid: number): NetfilterAccess {
  return {
    open: () => {
      const fd = openSync(`/proc/${pid}/ns/net`, "r");
      try {
        return NetlinkSocket.open(fd, NETLINK_NETFILTER);
      } finally {
        closeSync(fd);
      }
    },
    procNet: `/proc/${pid}/net`,
  };
}

/** Lets go of a socket access.open() gave. */
export function letGo(access: NetfilterAccess, sock: NetlinkSocket, deleted = false): void {
  if (access.done) access.done(sock, deleted);
  else sock.close();
}
