/*
 * bpf(2): load an eBPF program and attach it to a cgroup. The bytecode, its type, license and
 * where it goes are TypeScript's (device-bpf.ts); this only makes the two calls.
 * union bpf_attr is declared as the two members used, at the kernel ABI's offsets
 * (include/uapi/linux/bpf.h); a shorter attr than the kernel's is zero-filled by it.
 */

#define BPF_PROG_LOAD 5
#define BPF_PROG_ATTACH 8

struct bpf_prog_load_attr {
  unsigned int prog_type;          /* 0 */
  unsigned int insn_cnt;           /* 4 */
  unsigned long long insns;        /* 8 */
  unsigned long long license;      /* 16 */
  unsigned int log_level;          /* 24 */
  unsigned int log_size;           /* 28 */
  unsigned long long log_buf;      /* 32 */
  unsigned int kern_version;       /* 40 */
  unsigned int prog_flags;         /* 44 */
};

struct bpf_prog_attach_attr {
  unsigned int target_fd;          /* 0 */
  unsigned int attach_bpf_fd;      /* 4 */
  unsigned int attach_type;        /* 8 */
  unsigned int attach_flags;       /* 12 */
};

static void zero(void *p, int n) {
  int i;
  for (i = 0; i < n; i++) ((char *)p)[i] = 0;
}

/* Loads count instructions (8 bytes each) as a program of type; the verifier's log goes into log
 * when log_size > 0. Returns the program's fd, or -errno. */
int cbox_bpf_prog_load(int type, const void *insns, int count, const char *license, char *log, int log_size) {
  struct bpf_prog_load_attr a;
  long r;
  zero(&a, sizeof a);
  a.prog_type = type;
  a.insns = (unsigned long long)insns;
  a.insn_cnt = count;
  a.license = (unsigned long long)license;
  if (log_size > 0) {
    a.log_level = 1;
    a.log_buf = (unsigned long long)log;
    a.log_size = log_size;
  }
  r = syscall(SYS_bpf, BPF_PROG_LOAD, &a, sizeof a);
  return r < 0 ? -errno : (int)r;
}

/* Attaches the program prog_fd to the cgroup open at cgroup_fd. Returns 0, or -errno. */
int cbox_bpf_prog_attach(int cgroup_fd, int prog_fd, int type, int flags) {
  struct bpf_prog_attach_attr a;
  zero(&a, sizeof a);
  a.target_fd = cgroup_fd;
  a.attach_bpf_fd = prog_fd;
  a.attach_type = type;
  a.attach_flags = flags;
  return syscall(SYS_bpf, BPF_PROG_ATTACH, &a, sizeof a) < 0 ? -errno : 0;
}
