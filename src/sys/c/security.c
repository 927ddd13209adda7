/* What the process may do after execve: capabilities, no_new_privs, the seccomp filter. */

#define PR_SET_DUMPABLE 4
#define PR_CAPBSET_DROP 24
#define PR_SET_SECCOMP 22
#define PR_SET_NO_NEW_PRIVS 38
#define SECCOMP_MODE_FILTER 2
#define LINUX_CAPABILITY_VERSION_3 0x20080522

/* Drops from the bounding set every capability up to last_cap that keep (a bit mask) lacks. */
static int drop_bounding(unsigned long long keep, int last_cap) {
  int cap;
  for (cap = 0; cap <= last_cap; cap++) {
    if (cap < 64 && (keep >> cap & 1)) continue;
    if (prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0, 0, 0) < 0) return -1;
  }
  return 0;
}

/* Sets the effective, permitted and inheritable masks (64 bits each, as two 32-bit words). */
static int set_capabilities(unsigned long long eff, unsigned long long perm, unsigned long long inh) {
  struct { unsigned int version; int pid; } header;
  struct { unsigned int effective, permitted, inheritable; } data[2];
  header.version = LINUX_CAPABILITY_VERSION_3;
  header.pid = 0;
  data[0].effective = (unsigned int)eff; data[1].effective = (unsigned int)(eff >> 32);
  data[0].permitted = (unsigned int)perm; data[1].permitted = (unsigned int)(perm >> 32);
  data[0].inheritable = (unsigned int)inh; data[1].inheritable = (unsigned int)(inh >> 32);
  return (int)syscall(SYS_capset, &header, data);
}

/* The ints are the filter's instructions, each packed by TypeScript as a struct sock_filter. */
static int install_seccomp(const long long *filter, unsigned int count) {
  struct { unsigned short len; const long long *filter; } prog;
  prog.len = (unsigned short)count;
  prog.filter = filter;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, (unsigned long)&prog, 0, 0);
}
