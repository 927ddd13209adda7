/*
 * cbox run -d: the monitor, a process forked from cbox that runs only this C. It clones the
 * container itself (so the container's PDEATHSIG is tied to the monitor, not to the cbox that
 * started it), copies the container's stdout and stderr into its log, waits for it, writes its
 * wait status to a file, and then execs cbox's exit command, which records the end. No second
 * Bun runs beside a detached container.
 */

extern int clock_gettime(int clock, long long ts[2]);
extern int rename(const char *from, const char *to);
extern int madvise(void *addr, size_t len, int advice);
extern int munmap(void *addr, size_t len);
extern ssize_t readlink(const char *path, char *buf, size_t n);
extern char **environ;

#define LOG_CHUNK 16384
#define MAX_ARGS 64
#define MAX_ENV 1024
#define MAPS_SIZE (1 << 20)

static const char *next_str(const char *s) {
  while (*s) s++;
  return s + 1;
}

/* The monitor's own copies of what it needs from Bun's memory before giving that memory back. */
struct monitor_memory {
  char text[1 << 16];
  char *argv[MAX_ARGS + 1], *envp[MAX_ENV + 1];
  const char *exit_tmp, *exit_path;
};
static struct monitor_memory *own;

static void *map_anonymous(size_t size) {
  void *m = mmap(0, size, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  return m == (void *)-1 ? 0 : m;
}

/* Copies s to the end of own->text; the copy, or 0 when full. */
static char *keep_string(const char *s, size_t *used) {
  size_t n = 0;
  char *copy = own->text + *used;
  while (s[n]) n++;
  if (*used + n + 1 > sizeof own->text) return 0;
  for (n = 0; (copy[n] = s[n]); n++) {}
  *used += n + 1;
  return copy;
}

/* strs (see monitor_main) and the environment, into own. 0 or -1. */
static int keep_strings(const char *strs, int nstrs) {
  size_t used = 0;
  int i, argc = 0, envc = 0;
  own = map_anonymous(sizeof *own);
  if (!own) return -1;
  for (i = 0; i < nstrs; i++, strs = next_str(strs)) {
    char *copy = keep_string(strs, &used);
    if (!copy) return -1;
    if (i == 0) own->exit_tmp = copy;
    else if (i == 1) own->exit_path = copy;
    else if (argc < MAX_ARGS) own->argv[argc++] = copy;
  }
  own->argv[argc] = 0;
  for (i = 0; environ && environ[i] && envc < MAX_ENV; i++) {
    char *copy = keep_string(environ[i], &used);
    if (copy) own->envp[envc++] = copy;
  }
  own->envp[envc] = 0;
  return 0;
}

static unsigned long parse_hex(const char **p) {
  unsigned long v = 0;
  for (;; (*p)++) {
    char c = **p;
    if (c >= '0' && c <= '9') v = v * 16 + (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') v = v * 16 + (unsigned long)(c - 'a' + 10);
    else return v;
  }
}

struct range { unsigned long lo, hi; };

/* Whether [start, end) meets one of the ranges (whose ends may come in either order). */
static int overlaps(unsigned long start, unsigned long end, const struct range *keep, int nkeep) {
  int i;
  for (i = 0; i < nkeep; i++) {
    unsigned long lo = keep[i].lo < keep[i].hi ? keep[i].lo : keep[i].hi;
    unsigned long hi = keep[i].lo < keep[i].hi ? keep[i].hi : keep[i].lo;
    if (start <= hi && end > lo) return 1;
  }
  return 0;
}

static int same_string(const char *a, const char *b, int n) {
  int i;
  for (i = 0; i < n; i++) if (a[i] != b[i]) return 0;
  return b[n] == 0;
}

/*
 * A forked Bun brings along ~6 MB of resident pages it will never touch here: Bun's heaps, its
 * threads' stacks, its executable's data. They are given back (MADV_DONTNEED), leaving what this
 * C uses: mem and own (keep[]), the stack and thread-local storage (keep[]), the shared libraries'
 * data (the shim is one of them) and the bss right after it, the kernel's [vdso].
 */
static void shed_inherited_memory(const struct range *keep, int nkeep) {
  char exe[4096], *maps, *line, *end, *path;
  const char *p;
  unsigned long start, stop, prev_end = 0;
  int fd, n, exe_len, prev_lib = 0, lib, total = 0;
  exe_len = (int)readlink("/proc/self/exe", exe, sizeof exe);
  maps = map_anonymous(MAPS_SIZE);
  if (!maps) return;
  fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) { munmap(maps, MAPS_SIZE); return; }
  while (total < MAPS_SIZE - 1 && (n = (int)read(fd, maps + total, (size_t)(MAPS_SIZE - 1 - total))) > 0) total += n;
  close(fd);
  for (line = maps; line < maps + total; line = end + 1) {
    for (end = line; end < maps + total && *end != '\n'; end++) {}
    if (end >= maps + total) break; /* a line cut off by a full buffer */
    *end = 0;
    p = line;
    start = parse_hex(&p);
    p++;
    stop = parse_hex(&p);
    p++; /* now "rw-p offset dev inode   path" */
    for (path = (char *)p + 4, n = 0; *path && n < 4; path++) if (*path == ' ') { n++; while (path[1] == ' ') path++; }
    lib = path[0] == '/' && !(exe_len > 0 && same_string(exe, path, exe_len));
    if (p[1] == 'w' && p[3] == 'p' && path[0] != '[' && !lib && !(path[0] == 0 && prev_lib && start == prev_end) &&
        !overlaps(start, stop, keep, nkeep))
      madvise((void *)start, stop - start, 4 /* MADV_DONTNEED */);
    prev_lib = lib;
    prev_end = stop;
  }
  munmap(maps, MAPS_SIZE);
}

/* "2026-11-23T10:00:00.123456789Z": RFC 3339 in UTC with nanoseconds, 30 bytes, no NUL. */
static void put_digits(char *p, long long v, int n) {
  while (n--) { p[n] = (char)('0' + v % 10); v /= 10; }
}

static void timestamp(char *p) {
  long long ts[2], days, z, era, yy;
  unsigned int doe, yoe, doy, mp, d, m, rem;
  clock_gettime(0 /* CLOCK_REALTIME */, ts);
  days = ts[0] / 86400;
  rem = (unsigned int)(ts[0] % 86400);
  /* days since 1970-01-01 -> civil date (Howard Hinnant's algorithm) */
  z = days + 719468;
  era = (z >= 0 ? z : z - 146096) / 146097;
  doe = (unsigned int)(z - era * 146097);
  yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  yy = (long long)yoe + era * 400;
  doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  mp = (5 * doy + 2) / 153;
  d = doy - (153 * mp + 2) / 5 + 1;
  m = mp < 10 ? mp + 3 : mp - 9;
  put_digits(p, yy + (m <= 2), 4); p[4] = '-';
  put_digits(p + 5, m, 2); p[7] = '-';
  put_digits(p + 8, d, 2); p[10] = 'T';
  put_digits(p + 11, rem / 3600, 2); p[13] = ':';
  put_digits(p + 14, rem / 60 % 60, 2); p[16] = ':';
  put_digits(p + 17, rem % 60, 2); p[19] = '.';
  put_digits(p + 20, ts[1], 9); p[29] = 'Z';
}

/* One log record in the CRI format (podman's k8s-file): "TIME STREAM F|P TEXT\n"; P marks a
 * piece of a line that goes on in the next record. */
static void log_record(int log, const char *stream, int full, const char *text, int n) {
  static char rec[64 + LOG_CHUNK];
  int len = 30, i;
  timestamp(rec);
  rec[len++] = ' ';
  for (i = 0; stream[i]; i++) rec[len++] = stream[i];
  rec[len++] = ' ';
  rec[len++] = full ? 'F' : 'P';
  rec[len++] = ' ';
  for (i = 0; i < n; i++) rec[len++] = text[i];
  rec[len++] = '\n';
  write_all(log, rec, len);
}

/* Reads what fd has and logs it line by line; the fd, or -1 once it has ended (and is closed). */
static int copy_to_log(int fd, int log, const char *stream) {
  static char buf[LOG_CHUNK];
  int n, start = 0, i;
  n = (int)read(fd, buf, sizeof buf);
  if (n < 0 && errno == EINTR) return fd;
  if (n <= 0) { close(fd); return -1; }
  for (i = 0; i < n; i++) {
    if (buf[i] != '\n') continue;
    log_record(log, stream, 1, buf + start, i - start);
    start = i + 1;
  }
  if (start < n) log_record(log, stream, 0, buf + start, n - start);
  return fd;
}

/* Moves fds[0..n) to 3..3+n (close-on-exec) and closes every other fd from 3 up: what the
 * monitor inherited from Bun must not stay open for the container's whole life. */
static int keep_only(int *fds, int n) {
  int i, high = 1000;
  for (i = 0; i < n; i++) if (fds[i] >= 0 && fcntl(fds[i], 1030 /* F_DUPFD_CLOEXEC */, high + i) != high + i) return -1;
  syscall(SYS_close_range, 3U, (unsigned int)high - 1, 0);
  for (i = 0; i < n; i++) {
    if (fds[i] < 0) continue;
    if (fcntl(high + i, 1030, 3 + i) != 3 + i) return -1;
    fds[i] = 3 + i;
  }
  syscall(SYS_close_range, (unsigned int)high, ~0U, 0);
  return 0;
}

static void write_exit_file(const char *tmp, const char *path, int status, const char *finished) {
  char text[64];
  int len = 0, fd, i;
  unsigned int v = (unsigned int)status;
  char digits[12];
  int nd = 0;
  do { digits[nd++] = (char)('0' + v % 10); v /= 10; } while (v);
  while (nd) text[len++] = digits[--nd];
  text[len++] = ' ';
  for (i = 0; i < 30; i++) text[len++] = finished[i];
  text[len++] = '\n';
  fd = open(tmp, O_WRONLY | O_CREAT | 01000 /* O_TRUNC */ | O_CLOEXEC, 0600);
  if (fd < 0) return;
  write_all(fd, text, len);
  close(fd);
  rename(tmp, path);
}

enum { M_RELEASE_R, M_ERROR_W, M_REPORT_W, M_DONE_R, M_LOG, M_OUT_R, M_ERR_R, M_IN_W, M_COUNT };

/*
 * The monitor's life: stdio pipes, the container cloned with them as its 0, 1 and 2, its pid
 * reported to cbox; then logging until it has ended and cbox has said whether the start went
 * through ('g' on the done pipe). Without it the container is killed and nothing is recorded:
 * the cbox that gave up cleans up. strs: the exit file's temporary name, its name, the exit
 * command's argv.
 */
static void monitor_main(struct spawn *sp, int flags, int *fd, int interactive, int pidns, const char *strs, int nstrs) {
  char finished[30], decision;
  int in[2], out[2], err[2], pid, pidfd, nul, i, status = 0, exited = 0, decided = 0, go = 0;
  struct pollfd p[4];

  struct range keep[4];
  setsid();
  reset_signals();
  /* a PID namespace to clone into (another container's): joined for the children only */
  if (pidns >= 0 && setns(pidns, 0x20000000 /* CLONE_NEWPID */) < 0) {
    i = -errno;
    write_all(fd[M_REPORT_W], (const char *)&i, sizeof i);
    _exit(125);
  }
  if (keep_strings(strs, nstrs) < 0) _exit(125);
  /* the shim's own code and data are a library's mappings, kept by shed_inherited_memory */
  keep[0].lo = (unsigned long)mem; keep[0].hi = keep[0].lo + sizeof *mem;
  keep[1].lo = (unsigned long)own; keep[1].hi = keep[1].lo + sizeof *own;
  keep[2].lo = keep[2].hi = (unsigned long)&decision; /* the stack */
  keep[3].lo = keep[3].hi = (unsigned long)__errno_location(); /* thread-local storage */
  shed_inherited_memory(keep, 4);
  prctl(15 /* PR_SET_NAME */, (unsigned long)"cbox-monitor", 0, 0, 0);
  /* 0, 1 and 2 open, so that no pipe below takes one of their numbers */
  while ((nul = open("/dev/null", O_RDWR)) >= 0 && nul < 3) {}
  if (nul >= 0) close(nul);
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) _exit(125);
  if (interactive) { if (pipe2(in, O_CLOEXEC) < 0) _exit(125); }
  else { in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC); in[1] = -1; }
  if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(125);
  fd[M_OUT_R] = out[0]; fd[M_ERR_R] = err[0]; fd[M_IN_W] = in[1];
  if (keep_only(fd, M_COUNT) < 0) _exit(125);
  sp->release_r = fd[M_RELEASE_R]; sp->release_w = -1;
  sp->error_r = -1; sp->error_w = fd[M_ERROR_W];

  pid = clone(child_main, mem->stack + sizeof mem->stack, flags | SIGCHLD, sp);
  i = pid < 0 ? -errno : pid;
  write_all(fd[M_REPORT_W], (const char *)&i, sizeof i);
  if (pid < 0) _exit(125);
  close(fd[M_REPORT_W]); close(fd[M_RELEASE_R]); close(fd[M_ERROR_W]);
  /* the container's ends of its stdio are its own now */
  nul = open("/dev/null", O_RDWR);
  for (i = 0; i < 3; i++) dup2(nul, i);
  if (nul > 2) close(nul);
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) { kill(pid, 9); _exit(125); }

  while (!(exited && decided && fd[M_OUT_R] < 0 && fd[M_ERR_R] < 0)) {
    p[0].fd = fd[M_OUT_R]; p[1].fd = fd[M_ERR_R];
    p[2].fd = decided ? -1 : fd[M_DONE_R]; p[3].fd = exited ? -1 : pidfd;
    for (i = 0; i < 4; i++) { p[i].events = POLLIN; p[i].revents = 0; }
    if (poll(p, 4, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(125);
    }
    if (p[0].revents) fd[M_OUT_R] = copy_to_log(fd[M_OUT_R], fd[M_LOG], "stdout");
    if (p[1].revents) fd[M_ERR_R] = copy_to_log(fd[M_ERR_R], fd[M_LOG], "stderr");
    if (p[2].revents) {
      i = (int)read(fd[M_DONE_R], &decision, 1);
      if (i < 0 && errno == EINTR) continue;
      decided = 1;
      go = i == 1 && decision == 'g';
      close(fd[M_DONE_R]);
      if (!go) kill(pid, 9);
    }
    if (p[3].revents) {
      while (waitpid(pid, &status, 0x40000000 /* __WALL */) < 0 && errno == EINTR) {}
      timestamp(finished);
      exited = 1;
    }
  }
  if (!go) _exit(0);
  if (fd[M_IN_W] >= 0) close(fd[M_IN_W]);
  close(fd[M_LOG]);
  write_exit_file(own->exit_tmp, own->exit_path, status, finished);
  execve(own->argv[0], own->argv, own->envp);
  _exit(127);
}

static void close_pair(const int p[2]) {
  if (p[0] >= 0) close(p[0]);
  if (p[1] >= 0) close(p[1]);
}

static int read_int(int fd, int *v) {
  int got = 0, n;
  while (got < (int)sizeof *v) {
    n = (int)read(fd, (char *)v + got, sizeof *v - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return -1;
    got += n;
  }
  return 0;
}

/*
 * Forks the monitor, which clones the container held as cbox_spawn's is. cfg: [log fd, 1 for a
 * stdin pipe the monitor keeps open (-i) or 0 for /dev/null, a PID namespace's fd to clone into
 * or -1]. strs: nstrs NUL-ended strings (see
 * monitor_main). out: [pid, release_w, error_r, done_w, monitor pid]; write 'g' to done_w once
 * the start went through. Returns 0 or -errno.
 */
int cbox_detach(const unsigned char *plan, int len, int flags, const int *cfg, const char *strs, int nstrs, int *out) {
  struct spawn *sp = &spawn_args;
  int release[2] = {-1, -1}, error[2] = {-1, -1}, report[2] = {-1, -1}, done[2] = {-1, -1};
  int fd[M_COUNT], monitor, pid, err;
  if (nstrs < 3) return -EINVAL;
  if ((err = load_plan(plan, len)) < 0) return err;
  sp->plan = mem->plan; sp->len = (unsigned int)len;
  if (pipe2(release, O_CLOEXEC) < 0 || pipe2(error, O_CLOEXEC) < 0 || pipe2(report, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0) {
    err = errno;
    close_pair(release); close_pair(error); close_pair(report); close_pair(done);
    return -err;
  }
  monitor = fork();
  if (monitor == 0) {
    close(release[1]); close(error[0]); close(report[0]); close(done[1]);
    fd[M_RELEASE_R] = release[0]; fd[M_ERROR_W] = error[1]; fd[M_REPORT_W] = report[1];
    fd[M_DONE_R] = done[0]; fd[M_LOG] = cfg[0];
    monitor_main(sp, flags, fd, cfg[1], cfg[2], strs, nstrs);
  }
  err = errno;
  close(release[0]); close(error[1]); close(report[1]); close(done[0]);
  if (monitor < 0) { close(release[1]); close(error[0]); close(report[0]); close(done[1]); return -err; }
  if (read_int(report[0], &pid) < 0) pid = -5; /* EIO: the monitor died */
  close(report[0]);
  if (pid < 0) {
    close(release[1]); close(error[0]); close(done[1]);
    while (waitpid(monitor, &err, 0) < 0 && errno == EINTR) {}
    return pid;
  }
  out[0] = pid; out[1] = release[1]; out[2] = error[0]; out[3] = done[1]; out[4] = monitor;
  return 0;
}

