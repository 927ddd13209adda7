/* What the container's first process does besides mounting: network, stdio, exec, init. */

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

static int open_dup(const char *path, int flags, int target) {
  int fd = open(path, flags, 0);
  if (fd < 0) return -1;
  if (fd == target) return 0;
  if (dup2(fd, target) < 0) return -1;
  return close(fd);
}

/*
 * -t: a new pty from the container's own devpts (after pivot_root, /dev/ptmx is its own). The
 * master goes to cbox over sock; the slave, sized rows x cols and owned by uid, becomes this
 * process's controlling terminal and its stdin, stdout and stderr. Call after setsid.
 */
static int console(int sock, unsigned int uid, int rows, int cols) {
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
  if (send_fd(sock, master) < 0) goto fail;
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
 * The PATH search execvp does, without malloc: try_one is called with name itself when it holds
 * a '/', else with each PATH entry joined to it, until one succeeds (0). A file that is missing or
 * not in a folder goes on to the next; any other failure ends the search with its errno.
 */
static int search_path(const char *path, const char *name, int (*try_one)(const char *file, void *ctx), void *ctx) {
  const char *p;
  char buf[4096];
  int i, n, saw_eacces = 0, err;
  for (p = name; *p; p++) if (*p == '/') return try_one(name, ctx);
  for (p = path;;) {
    for (n = 0; p[n] && p[n] != ':' && n < 2048; n++) buf[n] = p[n];
    if (n == 0) buf[n++] = '.';
    buf[n++] = '/';
    for (i = 0; name[i] && n < 4095; i++) buf[n++] = name[i];
    buf[n] = 0;
    if (try_one(buf, ctx) == 0) return 0;
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

struct exec_args { char **argv, **envp; };

static int try_execve(const char *file, void *ctx) {
  struct exec_args *a = ctx;
  execve(file, a->argv, a->envp);
  return -1;
}

static int try_access(const char *file, void *ctx) {
  (void)ctx;
  return access(file, 1 /* X_OK */);
}

/* execvpe: the first string is the PATH to search when argv[0] has no '/'. */
static int exec_op(struct op *o, char **argv, char **envp) {
  struct exec_args a;
  int i, argc = (int)o->ints[0], envc = (int)o->ints[1];
  if (argc < 1 || 1 + argc + envc != (int)o->nstrs) { errno = EINVAL; return -1; }
  for (i = 0; i < argc; i++) argv[i] = o->strs[1 + i];
  argv[argc] = 0;
  for (i = 0; i < envc; i++) envp[i] = o->strs[1 + argc + i];
  envp[envc] = 0;
  a.argv = argv; a.envp = envp;
  return search_path(o->strs[0], argv[0], try_execve, &a);
}

/* Whether exec_op would find name on path: 0, or -1 with errno as exec's would be. */
static int find_exec(const char *path, const char *name) {
  return search_path(path, name, try_access, 0);
}

/*
 * An OCI hook run in the container's namespaces: path with argv and envp (counts in ints[1],
 * ints[2]), its stdin the file open at ints[0] (the container's state), read from its start; it
 * must exit 0 within ints[3] seconds (0: no limit), else it is killed and the step fails (ECHILD).
 */
static int run_hook(struct op *o, char **argv, char **envp) {
  int i, pid, status, waited = 0, stdin_fd = (int)o->ints[0], argc = (int)o->ints[1], envc = (int)o->ints[2], limit_ms = (int)o->ints[3] * 1000;
  if (argc < 1 || 1 + argc + envc != (int)o->nstrs) { errno = EINVAL; return -1; }
  for (i = 0; i < argc; i++) argv[i] = o->strs[1 + i];
  argv[argc] = 0;
  for (i = 0; i < envc; i++) envp[i] = o->strs[1 + argc + i];
  envp[envc] = 0;
  pid = (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); /* raw, as become_init: no atfork handlers */
  if (pid < 0) return -1;
  if (pid == 0) {
    if (syscall(SYS_lseek, stdin_fd, 0, 0) < 0 || dup2(stdin_fd, 0) < 0) _exit(126);
    execve(o->strs[0], argv, envp);
    _exit(127);
  }
  for (;;) {
    i = waitpid(pid, &status, limit_ms ? 1 /* WNOHANG */ : 0);
    if (i == pid) break;
    if (i < 0 && errno != EINTR) return -1;
    if (limit_ms && (waited += 10) > limit_ms) { kill(pid, 9); waitpid(pid, &status, 0); errno = ETIMEDOUT; return -1; }
    if (limit_ms) poll(0, 0, 10);
  }
  if (status != 0) { errno = ECHILD; return -1; }
  return 0;
}

/*
 * Shows title as this process's command line (/proc/PID/cmdline, ps), written over the memory
 * that held its arguments: cut to fit, NUL-ended, and the area's last byte left non-NUL, so that
 * the kernel reads one string up to that NUL (setproctitle's convention). Only for a process
 * with a copy of cbox's memory (a fork), never one that shares it.
 */
static void set_title(const char *title) {
  char stat[1024], *args;
  unsigned long field[2] = {0, 0};
  int fd, n, i, nr = 2;
  size_t len, k;
  fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  n = (int)read(fd, stat, sizeof stat - 1);
  close(fd);
  if (n <= 0) return;
  stat[n] = 0;
  for (i = n - 1; i > 0 && stat[i] != ')'; i--) {}
  /* after the command's ')' comes field 3; arg_start and arg_end are fields 48 and 49 */
  for (i++; stat[i] && nr < 49; i++) {
    if (stat[i] != ' ') continue;
    nr++;
    if (nr == 48 || nr == 49) for (k = i + 1; stat[k] >= '0' && stat[k] <= '9'; k++) field[nr - 48] = field[nr - 48] * 10 + (unsigned long)(stat[k] - '0');
  }
  if (field[1] <= field[0] + 2) return;
  args = (char *)field[0];
  len = field[1] - field[0];
  for (k = 0; k < len - 2 && title[k]; k++) args[k] = title[k];
  for (; k < len - 1; k++) args[k] = 0;
  args[len - 1] = '.';
}

/*
 * --init: this process stays as PID 1, a minimal init; a forked child goes on with the plan and
 * becomes the command. The init forwards every catchable signal to it, reaps every zombie, and
 * exits with the command's status (128+N for a death by signal N) once the command is gone.
 * Spawn it without CLONE_VM: the init never execs, so it must not share cbox's memory.
 */
static volatile int init_child;
static void init_forward(int sig) { if (init_child > 0) kill(init_child, sig); }

static int become_init(const char *title) {
  int pid, sig, status, r;
  /* The raw call, not fork(): libc's fork runs the atfork handlers Bun registered, whose code
   * a detached container's monitor has already given back (a SIGSEGV in run -d --init). */
  pid = (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
  if (pid <= 0) return pid; /* the command's side carries on; -1 is a failure */
  init_child = pid;
  /* Nothing of cbox's may stay open here: the command reports its own exec failure on error_w
   * (EOF must not wait for us), and a pipe end held here would keep its reader from EOF. */
  syscall(SYS_close_range, 3U, ~0U, 0);
  prctl(15 /* PR_SET_NAME */, (unsigned long)"init", 0, 0, 0);
  if (title) set_title(title);
  for (sig = 1; sig < 32; sig++) if (sig != 9 && sig != 19 && sig != SIGCHLD) set_handler(sig, init_forward);
  for (;;) {
    r = waitpid(-1, &status, 0);
    if (r == pid) _exit((status & 0x7f) ? 128 + (status & 0x7f) : (status >> 8) & 0xff);
    if (r < 0 && errno != EINTR) _exit(125);
  }
}
