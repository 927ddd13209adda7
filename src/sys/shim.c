/*
 * cbox shim: the only C in cbox. It executes a plan of setup ops that TypeScript built;
 * it decides nothing. No #include: servers often lack libc headers, so the few prototypes
 * and constants used are declared here (they are Linux ABI and stable).
 *
 * Plan encoding (see ops.ts): a sequence of records, each
 *   u32 code, u32 nints, u32 nstrs, u32 size | i64 ints[nints] | NUL-terminated strs | pad to 8
 * A child reports a failure as two i32 (op index, errno) on the error pipe, then exits 125.
 */

typedef unsigned long size_t;
typedef long ssize_t;

extern int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...);
extern int pipe2(int fds[2], int flags);
extern ssize_t read(int fd, void *buf, size_t n);
extern ssize_t write(int fd, const void *buf, size_t n);
extern int close(int fd);
extern int open(const char *path, int flags, ...);
extern int dup2(int from, int to);
extern int fchown(int fd, unsigned int uid, unsigned int gid);
extern int fcntl(int fd, int cmd, ...);
extern int setsid(void);
extern int socketpair(int domain, int type, int proto, int fds[2]);
extern ssize_t sendmsg(int fd, const void *msg, int flags);
extern ssize_t recvmsg(int fd, void *msg, int flags);
extern int poll(void *fds, unsigned long n, int timeout);
extern unsigned int alarm(unsigned int seconds);
extern int mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data);
extern int umount2(const char *target, int flags);
extern int mkdir(const char *path, unsigned int mode);
extern int rmdir(const char *path);
extern int mknod(const char *path, unsigned int mode, unsigned long dev);
extern int symlink(const char *target, const char *path);
extern int chdir(const char *path);
extern int sethostname(const char *name, size_t len);
extern unsigned int umask(unsigned int mask);
extern int setgroups(size_t n, const unsigned int *gids);
extern int setresgid(unsigned int r, unsigned int e, unsigned int s);
extern int setresuid(unsigned int r, unsigned int e, unsigned int s);
extern int execve(const char *path, char *const argv[], char *const envp[]);
extern int socket(int domain, int type, int proto);
extern int ioctl(int fd, unsigned long req, ...);
extern int prctl(int op, unsigned long a, unsigned long b, unsigned long c, unsigned long d);
extern long syscall(long nr, ...);
extern int kill(int pid, int sig);
extern int fork(void);
extern int waitpid(int pid, int *status, int options);
extern int sigaction(int sig, const void *act, void *old);
extern int sigemptyset(void *set);
extern int sigprocmask(int how, const void *set, void *old);
extern void *signal(int sig, void *handler);
extern void *mmap(void *addr, size_t len, int prot, int flags, int fd, long off);
extern void _exit(int code);
extern int *__errno_location(void);
#define errno (*__errno_location())

#define EINTR 4
#define EEXIST 17
#define ENOENT 2
#define EACCES 13
#define EINVAL 22
#define O_RDONLY 0
#define O_WRONLY 1
#define O_RDWR 2
#define O_CREAT 0100
#define O_NOCTTY 0400
#define O_NONBLOCK 04000
#define O_CLOEXEC 02000000
#define SIGCHLD 17
#define PR_SET_PDEATHSIG 1
#define SIOCGIFFLAGS 0x8913
#define SIOCSIFFLAGS 0x8914
#define IFF_UP 1
#define AF_INET 2
#define SOCK_DGRAM 2
#define AF_UNIX 1
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCSCTTY 0x540E
#define TIOCSPTLCK 0x40045431
#define TIOCGPTPEER 0x5441
#define CLOSE_RANGE_CLOEXEC 4
#define SYS_close_range 436
#define SYS_open_tree 428
#define SYS_move_mount 429
#define SYS_mount_setattr 442
#define OPEN_TREE_CLONE 1
#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define AT_RECURSIVE 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH 4
#if defined(__x86_64__)
#define SYS_pivot_root 155
#elif defined(__aarch64__)
#define SYS_pivot_root 41
#endif

enum {
  OP_MOUNT = 1, OP_UMOUNT, OP_MKDIR, OP_MKNOD, OP_SYMLINK, OP_TOUCH, OP_PIVOT_ROOT, OP_RMDIR,
  OP_SETHOSTNAME, OP_CHDIR, OP_LOOPBACK_UP, OP_UMASK, OP_SETGROUPS, OP_SETGID, OP_SETUID,
  OP_OPEN_DUP, OP_CLOSE_FROM, OP_EXEC, OP_PDEATHSIG, OP_EXIT, OP_INIT, OP_SETSID, OP_DUP2, OP_CONSOLE,
  OP_CLONE_TREE, OP_ATTACH_TREE
};

#define MAX_INTS 64
#define MAX_STRS 4096

struct op {
  unsigned int code, nints, nstrs, size;
  const long long *ints;
  char *strs[MAX_STRS];
};

/* Returns the byte length of the record at p, filling *o; 0 when the plan is malformed. */
static unsigned int decode(const unsigned char *p, unsigned int left, struct op *o) {
  const unsigned int *h = (const unsigned int *)p;
  unsigned int i, off;
  if (left < 16) return 0;
  o->code = h[0]; o->nints = h[1]; o->nstrs = h[2]; o->size = h[3];
  if (o->size > left || o->nints > MAX_INTS || o->nstrs > MAX_STRS) return 0;
  o->ints = (const long long *)(p + 16);
  off = 16 + 8 * o->nints;
  for (i = 0; i < o->nstrs; i++) {
    o->strs[i] = (char *)(p + off);
    while (off < o->size && p[off]) off++;
    if (off >= o->size) return 0;
    off++;
  }
  return o->size;
}

/* glibc's and musl's dev_t encoding. */
static unsigned long makedev(unsigned long major, unsigned long minor) {
  return ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) |
         ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
}

static const char *nul_if_empty(const char *s) { return s[0] ? s : 0; }

static int loopback_up(void) {
  char ifr[40];
  int i, fd = socket(AF_INET, SOCK_DGRAM | O_CLOEXEC, 0);
  if (fd < 0) return -1;
  for (i = 0; i < 40; i++) ifr[i] = 0;
  ifr[0] = 'l'; ifr[1] = 'o';
  if (ioctl(fd, SIOCGIFFLAGS, ifr) < 0) { close(fd); return -1; }
  *(short *)(ifr + 16) |= IFF_UP;
  if (ioctl(fd, SIOCSIFFLAGS, ifr) < 0) { close(fd); return -1; }
  return close(fd);
}

static int touch(const char *path, unsigned int mode) {
  int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, mode); /* existing files need not be ours */
  return fd < 0 ? -1 : close(fd);
}

static int pivot(const char *newroot, const char *putold) {
  if (chdir(newroot) < 0) return -1;
  if (syscall(SYS_pivot_root, ".", putold) < 0) return -1;
  return chdir("/");
}

static int open_dup(const char *path, int flags, int target) {
  int fd = open(path, flags, 0);
  if (fd < 0) return -1;
  if (fd == target) return 0;
  if (dup2(fd, target) < 0) return -1;
  return close(fd);
}

/* A msghdr carrying one fd (SCM_RIGHTS) and one byte, laid out as the 64-bit kernel ABI has it. */
struct fd_message {
  struct { void *name; unsigned int namelen; void *iov; size_t iovlen; void *control; size_t controllen; int flags; } hdr;
  struct { void *base; size_t len; } iov;
  struct { size_t len; int level, type, fd, pad; } cmsg;
  char byte;
};

static void fd_message_init(struct fd_message *m, int fd) {
  int i;
  for (i = 0; i < (int)sizeof *m; i++) ((char *)m)[i] = 0;
  m->iov.base = &m->byte; m->iov.len = 1;
  m->hdr.iov = &m->iov; m->hdr.iovlen = 1;
  m->hdr.control = &m->cmsg; m->hdr.controllen = sizeof m->cmsg;
  m->cmsg.len = 20; /* CMSG_LEN(sizeof(int)) */
  m->cmsg.level = SOL_SOCKET; m->cmsg.type = SCM_RIGHTS; m->cmsg.fd = fd;
}

/*
 * -t: a new pty from the container's own devpts (after pivot_root, /dev/ptmx is its own). The
 * master goes to cbox over sock; the slave, sized rows x cols and owned by uid, becomes this
 * process's controlling terminal and its stdin, stdout and stderr. Call after setsid.
 */
static int console(int sock, unsigned int uid, int rows, int cols) {
  struct fd_message m;
  unsigned short size[4];
  int unlock = 0, master, slave = -1, fd, err;
  master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -1;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) goto fail;
  slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) goto fail;
  size[0] = (unsigned short)rows; size[1] = (unsigned short)cols; size[2] = size[3] = 0;
  if (rows > 0 && ioctl(slave, TIOCSWINSZ, size) < 0) goto fail;
  if (uid != 0 && fchown(slave, uid, ~0U) < 0) goto fail;
  fd_message_init(&m, master);
  if (sendmsg(sock, &m.hdr, 0x4000 /* MSG_NOSIGNAL */) < 0) goto fail;
  close(master);
  close(sock);
  if (ioctl(slave, TIOCSCTTY, 0) < 0) { master = -1; goto fail; }
  for (fd = 0; fd < 3; fd++) if (dup2(slave, fd) < 0) { master = -1; goto fail; }
  return close(slave);
fail:
  err = errno;
  if (master >= 0) close(master);
  if (slave >= 0) close(slave);
  errno = err;
  return -1;
}

/*
 * A detached copy of the mount tree at path (open_tree OPEN_TREE_CLONE), with mount attributes
 * set on all of it (mount_setattr: MOUNT_ATTR_RDONLY, MOUNT_ATTR_IDMAP with userns_fd, ...).
 * Returns its fd (close-on-exec) or -1.
 */
static int clone_tree(const char *path, unsigned long long attr_set, int userns_fd) {
  struct { unsigned long long set, clr, propagation, userns_fd; } attr;
  int fd, err;
  fd = (int)syscall(SYS_open_tree, AT_FDCWD, path, OPEN_TREE_CLONE | O_CLOEXEC | AT_RECURSIVE);
  if (fd < 0 || !attr_set) return fd;
  attr.set = attr_set; attr.clr = 0; attr.propagation = 0; attr.userns_fd = (unsigned long long)userns_fd;
  if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof attr) == 0) return fd;
  err = errno;
  close(fd);
  errno = err;
  return -1;
}

/* A volume's source, cloned before pivot_root into fd `target`; attached after it by attach_tree. */
static int clone_tree_to(const char *path, unsigned long long attr_set, int target) {
  int fd = clone_tree(path, attr_set, -1);
  if (fd < 0 || fd == target) return fd < 0 ? -1 : 0;
  if (dup2(fd, target) < 0) return -1;
  return close(fd);
}

static int attach_tree(int fd, const char *target) {
  if (syscall(SYS_move_mount, fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0) return -1;
  return close(fd);
}

/* execvpe without malloc: the first string is the PATH to search when argv[0] has no '/'. */
static int exec_op(struct op *o, char **argv, char **envp) {
  const char *path = o->strs[0], *name, *p;
  char buf[4096];
  int i, n, argc = (int)o->ints[0], envc = (int)o->ints[1], saw_eacces = 0, err;
  if (argc < 1 || 1 + argc + envc != (int)o->nstrs) { errno = EINVAL; return -1; }
  for (i = 0; i < argc; i++) argv[i] = o->strs[1 + i];
  argv[argc] = 0;
  for (i = 0; i < envc; i++) envp[i] = o->strs[1 + argc + i];
  envp[envc] = 0;
  name = argv[0];
  for (p = name; *p; p++) if (*p == '/') { execve(name, argv, envp); return -1; }
  for (p = path;;) {
    for (n = 0; p[n] && p[n] != ':' && n < 2048; n++) buf[n] = p[n];
    if (n == 0) buf[n++] = '.';
    buf[n++] = '/';
    for (i = 0; name[i] && n < 4095; i++) buf[n++] = name[i];
    buf[n] = 0;
    execve(buf, argv, envp);
    err = errno;
    if (err == EACCES) saw_eacces = 1;
    else if (err != ENOENT && err != 20 /* ENOTDIR */) return -1;
    while (*p && *p != ':') p++;
    if (!*p) break;
    p++;
  }
  errno = saw_eacces ? EACCES : ENOENT;
  return -1;
}

struct sigaction_k { void (*handler)(int); unsigned long long mask[16]; int flags; void (*restorer)(void); };

static void set_handler(int sig, void (*handler)(int)) {
  struct sigaction_k act;
  int i;
  for (i = 0; i < (int)sizeof act; i++) ((char *)&act)[i] = 0;
  act.handler = handler;
  act.flags = 0x10000000; /* SA_RESTART */
  sigaction(sig, &act, 0);
}

/*
 * --init: this process stays as PID 1, a minimal init; a forked child goes on with the plan and
 * becomes the command. The init forwards every catchable signal to it, reaps every zombie, and
 * exits with the command's status (128+N for a death by signal N) once the command is gone.
 * Spawn it without CLONE_VM: the init never execs, so it must not share cbox's memory.
 */
static volatile int init_child;
static void init_forward(int sig) { if (init_child > 0) kill(init_child, sig); }

static int become_init(int error_w) {
  int pid, sig, status, r;
  pid = fork();
  if (pid <= 0) return pid; /* the command's side carries on; -1 is a failure */
  init_child = pid;
  close(error_w); /* the command reports its own exec failure; EOF must not wait for us */
  prctl(15 /* PR_SET_NAME */, (unsigned long)"init", 0, 0, 0);
  for (sig = 1; sig < 32; sig++) if (sig != 9 && sig != 19 && sig != SIGCHLD) set_handler(sig, init_forward);
  for (;;) {
    r = waitpid(-1, &status, 0);
    if (r == pid) _exit((status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff);
    if (r < 0 && errno != EINTR) _exit(125);
  }
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

static int run_op(struct op *o, int error_w) {
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
    return mknod(s[0], (unsigned int)v[0], makedev((unsigned long)v[1], (unsigned long)v[2]));
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
    return setgroups(o->nints, gids);
  }
  case OP_SETGID: return setresgid((unsigned int)v[0], (unsigned int)v[0], (unsigned int)v[0]);
  case OP_SETUID: return setresuid((unsigned int)v[0], (unsigned int)v[0], (unsigned int)v[0]);
  case OP_OPEN_DUP: return open_dup(s[0], (int)v[0] | O_CLOEXEC, (int)v[1]);
  case OP_CLOSE_FROM: return (int)syscall(SYS_close_range, (unsigned int)v[0], ~0U, CLOSE_RANGE_CLOEXEC);
  case OP_EXEC: return exec_op(o, mem->argv, mem->envp);
  case OP_PDEATHSIG: return prctl(PR_SET_PDEATHSIG, (unsigned long)v[0], 0, 0, 0);
  case OP_EXIT: _exit((int)v[0]);
  case OP_INIT: return become_init(error_w);
  case OP_SETSID: return setsid();
  case OP_DUP2: return v[0] == v[1] ? fcntl((int)v[0], 2 /* F_SETFD */, 0) : dup2((int)v[0], (int)v[1]);
  case OP_CONSOLE: return console((int)v[0], (unsigned int)v[1], (int)v[2], (int)v[3]);
  case OP_CLONE_TREE: return clone_tree_to(s[0], (unsigned long long)v[0], (int)v[1]);
  case OP_ATTACH_TREE: return attach_tree((int)v[0], s[0]);
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

static int child_main(void *arg) {
  struct spawn *sp = arg;
  struct op *o = &mem->op;
  unsigned long long mask[16];
  unsigned int off = 0;
  int n, sig, index = 0;
  char go;
  /* Our copies of the parent's ends, so that EOF on the release pipe means the parent is gone. */
  close(sp->release_w);
  close(sp->error_r);
  /* Start clean: Bun's signal dispositions and mask must not leak into the container. */
  for (sig = 1; sig < 65; sig++) if (sig != 9 && sig != 19 && sig != 32 && sig != 33) signal(sig, 0);
  for (n = 0; n < 16; n++) mask[n] = 0;
  sigprocmask(2 /* SIG_SETMASK */, mask, 0);
  while ((n = (int)read(sp->release_r, &go, 1)) < 0 && errno == EINTR) {}
  if (n != 1) _exit(125); /* the parent gave up or died before releasing us */
  while (off < sp->len) {
    n = (int)decode(sp->plan + off, sp->len - off, o);
    if (!n) report(sp->error_w, index, EINVAL);
    if (run_op(o, sp->error_w) < 0) report(sp->error_w, index, errno);
    off += n;
    index++;
  }
  report(sp->error_w, index, EINVAL); /* a plan must end in OP_EXEC or OP_EXIT */
  return 0;
}

/*
 * Signal forwarding while the child lives. The container has its own session, so signals a
 * terminal sends to cbox's process group reach only cbox: each one is passed on. A signal in
 * stop_mask also starts the stop timer: if the child still lives stop_after seconds later, it
 * gets SIGKILL (docker stop's rule, so a PID 1 that ignores SIGTERM cannot keep cbox waiting).
 */
static volatile int forward_to;
static unsigned long stop_mask;
static unsigned int stop_after;
static volatile int stop_armed;

static void forward(int sig) {
  if (forward_to <= 0) return;
  kill(forward_to, sig);
  if (stop_after && (stop_mask >> sig & 1) && !stop_armed) { stop_armed = 1; alarm(stop_after); }
}
static void stop_timer_fired(int sig) { if (forward_to > 0) kill(forward_to, 9); }

static void forward_signals(int pid, const int *signals, int nsignals) {
  int i;
  forward_to = pid;
  stop_armed = 0;
  for (i = 0; i < nsignals; i++) set_handler(signals[i], forward);
  if (stop_after) set_handler(14 /* SIGALRM */, stop_timer_fired);
}

/*
 * The child usually shares our memory (CLONE_VM in flags, as posix_spawn does): copying the page
 * tables of a Bun process costs ~5 ms a container. So everything the child reads lives here, not in memory
 * JavaScript owns, and the child touches nothing else until execve gives it its own memory.
 * One child at a time may be between clone and execve. The child's errno is the calling
 * thread's (shared TLS): that thread only blocks in read(2) on the error pipe meanwhile, which
 * looks at errno only when it fails, and SA_RESTART keeps signals from failing it.
 * The large buffers are mapped at the first spawn, not static: TinyCC would zero them at
 * compile time, ~3 ms of every start (measured).
 */
static struct spawn spawn_args;

/* out: [pid, release_w, error_r]. From the moment the child exists, the given signals sent to
 * us are forwarded to it, so none is lost between its start and cbox_wait; stop: [mask of the
 * signals that start the stop timer, its seconds (0: none)]. Returns 0 or -errno. */
int cbox_spawn(const unsigned char *plan, int len, int flags, const int *signals, int nsignals, const int *stop, int *out) {
  struct spawn *sp = &spawn_args;
  int release[2], error[2], pid, err, i;
  if (len < 0 || len > MAX_PLAN) return -7; /* E2BIG */
  if (!mem) {
    void *m = mmap(0, sizeof *mem, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    if (m == (void *)-1) return -errno;
    mem = m;
  }
  for (i = 0; i < len; i++) mem->plan[i] = plan[i];
  if (pipe2(release, O_CLOEXEC) < 0) return -errno;
  if (pipe2(error, O_CLOEXEC) < 0) { err = errno; close(release[0]); close(release[1]); return -err; }
  sp->plan = mem->plan; sp->len = (unsigned int)len;
  sp->release_r = release[0]; sp->release_w = release[1];
  sp->error_r = error[0]; sp->error_w = error[1];
  pid = clone(child_main, mem->stack + sizeof mem->stack, flags | SIGCHLD, sp);
  err = errno;
  close(release[0]);
  close(error[1]);
  if (pid < 0) { close(release[1]); close(error[0]); return -err; }
  stop_mask = (unsigned int)stop[0];
  stop_after = (unsigned int)stop[1];
  if (nsignals > 0) forward_signals(pid, signals, nsignals);
  out[0] = pid; out[1] = release[1]; out[2] = error[0];
  return 0;
}

/* For cbox itself: an idmapped copy of the mount tree at path, attached on target. 0 or -errno. */
int cbox_idmapped_mount(const char *path, int userns_fd, const char *target) {
  int err, fd = clone_tree(path, 0x00100000 /* MOUNT_ATTR_IDMAP */, userns_fd);
  if (fd < 0) return -errno;
  if (attach_tree(fd, target) == 0) return 0;
  err = errno;
  close(fd);
  return -err;
}

int cbox_umount(const char *target, int flags) {
  return umount2(target, flags) < 0 ? -errno : 0;
}

/* Waits for pid (signals are forwarded to it since cbox_spawn); the raw wait status or -errno. */
int cbox_wait(int pid) {
  int status, r, err;
  while ((r = waitpid(pid, &status, 0x40000000 /* __WALL */)) < 0 && errno == EINTR) {}
  err = errno;
  if (forward_to == pid) { forward_to = 0; alarm(0); }
  return r < 0 ? -err : status;
}
