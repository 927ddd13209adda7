// cbox's default profile: docker's default (moby/profiles seccomp default.json) written as a
// deny-list. Everything is allowed but the calls below, which fail with EPERM (clone3: ENOSYS);
// a group is lifted when the container has the capability docker lifts it for. Docker's list is
// an allow-list, so unlike docker this lets through calls newer than the kernels it knows about.
import { CloneFlag } from "../namespaces.ts";
import { EPERM, ENOSYS, type Profile, Ret, type Rule } from "./profile.ts";

/** names fail with EPERM unless the container has one of liftedBy. */
const deny = (names: string[], liftedBy: string[] = []): Rule => ({
  names,
  action: Ret.errno(EPERM),
  args: [],
  ...(liftedBy.length > 0 ? { excludes: { caps: liftedBy } } : {}),
});

const allowIfArg0 = (name: string, value: number): Rule => ({
  names: [name],
  action: Ret.allow,
  args: [{ index: 0, op: "EQ", value: BigInt(value), valueTwo: 0n }],
});

const SYS_ADMIN = ["CAP_SYS_ADMIN"];

/** clone(2) flags that make namespaces. CLONE_NEWTIME (0x80) is not one: in clone(2) that bit is part of the exit signal. */
const NAMESPACE_FLAGS =
  CloneFlag.newns | CloneFlag.newcgroup | CloneFlag.newuts | CloneFlag.newipc | CloneFlag.newuser | CloneFlag.newpid | CloneFlag.newnet;

/** personality(2) values docker allows: Linux, 32-bit Linux, uname 2.6, both, and 0xffffffff (a query). */
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

const AF_ALG = 38;
const AF_VSOCK = 40;

export const DEFAULT_PROFILE: Profile = {
  defaultAction: Ret.allow,
  rules: [
    // Changing the running kernel: modules, a new kernel, a reboot. The obsolete module calls
    // (gone since 2.6) and kexec are never allowed.
    deny(["init_module", "finit_module", "delete_module"], ["CAP_SYS_MODULE"]),
    deny(["create_module", "query_module", "get_kernel_syms", "kexec_load", "kexec_file_load"]),
    deny(["reboot"], ["CAP_SYS_BOOT"]),

    // Watching or instrumenting the whole machine, beyond the container.
    deny(["bpf"], ["CAP_SYS_ADMIN", "CAP_BPF"]),
    deny(["perf_event_open"], ["CAP_SYS_ADMIN", "CAP_PERFMON"]),
    deny(["fanotify_init", "lookup_dcookie"], SYS_ADMIN),
    deny(["syslog"], ["CAP_SYS_ADMIN", "CAP_SYSLOG"]),
    deny(["lsm_get_self_attr", "lsm_set_self_attr", "lsm_list_modules"], SYS_ADMIN),

    // A file handle opens a file anywhere on its filesystem, outside the container's root.
    deny(["open_by_handle_at"], ["CAP_DAC_READ_SEARCH"]),

    // Kernel keyrings are not namespaced: keys would be shared with the host.
    deny(["add_key", "request_key", "keyctl"]),

    // New namespaces (user namespaces above all) open kernel code otherwise reserved to root.
    // clone3 passes its flags in memory a filter cannot read: ENOSYS makes libcs fall back to clone.
    deny(["unshare", "setns"], SYS_ADMIN),
    { names: ["clone"], action: Ret.allow, args: [{ index: 0, op: "MASKED_EQ", value: BigInt(NAMESPACE_FLAGS), valueTwo: 0n }], excludes: { caps: SYS_ADMIN } },
    deny(["clone"], SYS_ADMIN),
    { names: ["clone3"], action: Ret.errno(ENOSYS), args: [], excludes: { caps: SYS_ADMIN } },

    // Mounts: the container's view of files is set up once, by cbox. Docker never allows
    // pivot_root; open_tree_attr (6.15) is newer than docker's list, so it goes with open_tree.
    deny(["mount", "umount", "umount2", "open_tree", "open_tree_attr", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr"], SYS_ADMIN),
    deny(["pivot_root"]),
    deny(["sethostname", "setdomainname"], SYS_ADMIN),

    // Host-wide storage and obsolete interfaces to the kernel's state.
    deny(["quotactl", "quotactl_fd"], SYS_ADMIN),
    deny(["swapon", "swapoff", "nfsservctl", "sysfs", "_sysctl", "ustat", "uselib"]),

    // The clock is the host's. adjtimex and clock_adjtime stay: without CAP_SYS_TIME they only read.
    deny(["settimeofday", "stime", "clock_settime", "clock_settime64"], ["CAP_SYS_TIME"]),

    deny(["acct"], ["CAP_SYS_PACCT"]),
    // Raw I/O ports; vm86 is 32-bit x86 only (absent from the tables here, kept for the record).
    deny(["iopl", "ioperm"], ["CAP_SYS_RAWIO"]),
    deny(["vm86", "vm86old"]),
    deny(["vhangup"], ["CAP_SYS_TTY_CONFIG"]),
    deny(["chroot"], ["CAP_SYS_CHROOT"]),

    // Reading or changing another process. ptrace and process_vm_* are safe from 4.8 on (seccomp
    // is checked again after a tracer changes a call), so docker allows them there.
    deny(["kcmp", "pidfd_getfd", "process_madvise"], ["CAP_SYS_PTRACE"]),
    { ...deny(["ptrace", "process_vm_readv", "process_vm_writev"]), excludes: { caps: ["CAP_SYS_PTRACE"], minKernel: "4.8" } },

    // NUMA placement can pin memory on the host's nodes; moving another process's pages is never allowed.
    deny(["get_mempolicy", "mbind", "set_mempolicy", "set_mempolicy_home_node"], ["CAP_SYS_NICE"]),
    deny(["migrate_pages", "move_pages"]),

    // Exploit helpers: userfaultfd stretches kernel race windows; io_uring reaches much kernel
    // code through its own queue, past this filter.
    deny(["userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register"]),

    // personality: flags such as READ_IMPLIES_EXEC or ADDR_NO_RANDOMIZE weaken the process's protections.
    ...PERSONALITIES.map((p) => allowIfArg0("personality", p)),
    deny(["personality"]),

    // Sockets of two families docker shuts: AF_ALG (the kernel's crypto) and AF_VSOCK (to the hypervisor).
    { ...deny(["socket"]), args: [{ index: 0, op: "EQ", value: BigInt(AF_ALG), valueTwo: 0n }] },
    { ...deny(["socket"]), args: [{ index: 0, op: "EQ", value: BigInt(AF_VSOCK), valueTwo: 0n }] },
  ],
};
