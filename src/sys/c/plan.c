/* The plan: decoding its records and running each op in the container's first process. */

/* Returns the byte length of the record at p, filling *o; 0 when the plan is malformed. */
static unsigned int decode(const unsigned char *p, unsigned int left, struct op *o) {
  const unsigned int *h = (const unsigned int *)p;
  unsigned int i, off;
  if (left < 16) return 0;
  o->code = h[0]; o->nints = h[1]; o->nstrs = h[2]; o->size = h[3];
  if (o->size > left || o->nints > MAX_INTS || o->nstrs > MAX_STRS) return 0;
  o->ints = (const long long *)(p + 16);
  off = 16 + 8 * o->nints;
  if (off > o->size) return 0;
  for (i = 0; i < o->nstrs; i++) {
    o->strs[i] = (char *)(p + off);
    while (off < o->size && p[off]) off++;
    if (off >= o->size) return 0;
    off++;
  }
  return o->size;
}

/* Memory the child uses before execve, mapped once (see cbox_spawn for why it is ours). */
#define MAX_PLAN (1 << 20)
struct child_memory {
  char stack[1 << 18];
  unsigned char plan[MAX_PLAN];
  struct op op;
  char *argv[MAX_STRS + 1], *envp[MAX_STRS + 1];
};
static struct child_memory *mem;

/* Writes text into an existing file (a kernel file: one write call). */
static int write_file(const char *path, const char *text) {
  size_t n = 0;
  int fd = open(path, O_WRONLY | O_CLOEXEC, 0), r, err;
  if (fd < 0) return -1;
  while (text[n]) n++;
  r = write(fd, text, n) == (ssize_t)n ? 0 : -1;
  err = errno;
  close(fd);
  errno = err;
  return r;
}

static int run_op(struct op *o) {
  char **s = o->strs;
  const long long *v = o->ints;
  int r;
  switch (o->code) {
  case OP_MOUNT:
    return mount(nul_if_empty(s[0]), s[1], nul_if_empty(s[2]), (unsigned long)v[0], nul_if_empty(s[3]));
  case OP_UMOUNT: return umount2(s[0], (int)v[0]);
  case OP_MKDIR:
    r = mkdir(s[0], (unsigned int)v[0]);
    return (r < 0 && errno == EEXIST && v[1]) ? 0 : r;
  case OP_MKNOD:
    return (int)syscall(SYS_mknodat, AT_FDCWD, s[0], (unsigned int)v[0], makedev((unsigned long)v[1], (unsigned long)v[2]));
  case OP_SYMLINK: return symlink(s[0], s[1]);
  case OP_TOUCH: return touch(s[0], (unsigned int)v[0]);
  case OP_PIVOT_ROOT: return pivot(s[0], s[1]);
  case OP_RMDIR: return rmdir(s[0]);
  case OP_SETHOSTNAME: { size_t n = 0; while (s[0][n]) n++; return sethostname(s[0], n); }
  case OP_CHDIR: return chdir(s[0]);
  case OP_LOOPBACK_UP: return loopback_up();
  case OP_UMASK: umask((unsigned int)v[0]); return 0;
  case OP_SETGROUPS: {
    unsigned int gids[MAX_INTS];
    int i;
    for (i = 0; i < (int)o->nints; i++) gids[i] = (unsigned int)v[i];
    return (int)syscall(SYS_setgroups, (size_t)o->nints, gids);
  }
  case OP_SETGID: return (int)syscall(SYS_setresgid, (unsigned int)v[0], (unsigned int)v[0], (unsigned int)v[0]);
  case OP_SETUID: return (int)syscall(SYS_setresuid, (unsigned int)v[0], (unsigned int)v[0], (unsigned int)v[0]);
  case OP_OPEN_DUP: return open_dup(s[0], (int)v[0] | O_CLOEXEC, (int)v[1]);
  case OP_CLOSE_FROM: return (int)syscall(SYS_close_range, (unsigned int)v[0], ~0U, CLOSE_RANGE_CLOEXEC);
  case OP_EXEC: return exec_op(o, mem->argv, mem->envp);
  case OP_PDEATHSIG: return prctl(PR_SET_PDEATHSIG, (unsigned long)v[0], 0, 0, 0);
  case OP_EXIT: _exit((int)v[0]);
  case OP_INIT: return become_init(o->nstrs ? s[0] : 0);
  case OP_SETSID: return setsid();
  case OP_DUP2: return v[0] == v[1] ? fcntl((int)v[0], 2 /* F_SETFD */, 0) : dup2((int)v[0], (int)v[1]);
  case OP_CONSOLE: return console((int)v[0], (unsigned int)v[1], (int)v[2], (int)v[3]);
  case OP_CLONE_TREE: return clone_tree_to(s[0], (unsigned long long)v[0], (int)v[1]);
  case OP_ATTACH_TREE: return attach_tree((int)v[0], s[0]);
  case OP_UNSHARE: return unshare((int)v[0]);
  case OP_SETNS: return setns((int)v[0], (int)v[1]);
  case OP_DROP_BOUNDING: return drop_bounding((unsigned long long)v[0], (int)v[1]);
  case OP_CAPSET: return set_capabilities((unsigned long long)v[0], (unsigned long long)v[1], (unsigned long long)v[2]);
  case OP_NO_NEW_PRIVS: return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
  case OP_SECCOMP: return install_seccomp(v, o->nints);
  case OP_DUMPABLE: return prctl(PR_SET_DUMPABLE, (unsigned long)v[0], 0, 0, 0);
  case OP_SETXATTR: { size_t n = 0; while (s[2][n]) n++; return lsetxattr(s[0], s[1], s[2], n, 0); }
  case OP_WRITE: return write_file(s[0], s[1]);
  case OP_PRCTL: return prctl((int)v[0], (unsigned long)v[1], (unsigned long)v[2], (unsigned long)v[3], 0);
  case OP_FIND_EXEC: return find_exec(s[0], s[1]);
  case OP_HOOK: return run_hook(o, mem->argv, mem->envp);
  case OP_CHOWN: return lchown(s[0], (unsigned int)v[0], (unsigned int)v[1]);
  case OP_RLIMIT: {
    unsigned long long limit[2];
    limit[0] = (unsigned long long)v[1]; limit[1] = (unsigned long long)v[2];
    return (int)syscall(SYS_prlimit64, 0, (int)v[0], limit, 0);
  }
  }
  errno = EINVAL;
  return -1;
}

struct spawn {
  const unsigned char *plan;
  unsigned int len;
  int release_r, release_w, error_r, error_w;
};

static void report(int fd, int index, int err) {
  int msg[2];
  msg[0] = index; msg[1] = err;
  write(fd, msg, sizeof msg);
  _exit(125);
}

/*
 * The plan goes on in a child (the first process of a PID namespace unshared before); this
 * process tells the parent that child's pid on the error pipe (index -2) and ends.
 */
static void fork_and_report(int error_w, int index) {
  int msg[2], pid = (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* raw: no atfork handlers */
  if (pid < 0) report(error_w, index, errno);
  if (pid == 0) return;
  msg[0] = -2; msg[1] = pid;
  write(error_w, msg, sizeof msg);
  _exit(0);
}

/* Start clean: Bun's signal dispositions and mask must not leak into the container or the monitor. */
static void reset_signals(void) {
  unsigned long long mask[16];
  int i;
  for (i = 1; i < 65; i++) if (i != 9 && i != 19 && i != 32 && i != 33) signal(i, 0);
  for (i = 0; i < 16; i++) mask[i] = 0;
  sigprocmask(2 /* SIG_SETMASK */, mask, 0);
}

static int child_main(void *arg) {
  struct spawn *sp = arg;
  struct op *o = &mem->op;
  unsigned int off = 0;
  int n, index = 0;
  char go;
  /* Our copies of the parent's ends, so that EOF on the release pipe means the parent is gone. */
  close(sp->release_w);
  close(sp->error_r);
  reset_signals();
  while ((n = (int)read(sp->release_r, &go, 1)) < 0 && errno == EINTR) {}
  if (n != 1) _exit(125); /* the parent gave up or died before releasing us */
  while (off < sp->len) {
    n = (int)decode(sp->plan + off, sp->len - off, o);
    if (!n) report(sp->error_w, index, EINVAL);
    /* The parent stops waiting here: what follows may wait on others (an OCI container's start). */
    if (o->code == OP_READY) { close(sp->error_w); sp->error_w = -1; }
    else if (o->code == OP_FORK_REPORT) fork_and_report(sp->error_w, index);
    else if (run_op(o) < 0) report(sp->error_w, index, errno);
    off += n;
    index++;
  }
  report(sp->error_w, index, EINVAL); /* a plan must end in OP_EXEC or OP_EXIT */
  return 0;
}
