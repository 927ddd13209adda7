/*
 * cbox run -d: the monitor, a process forked from cbox that runs only this C. It clones the
 * container itself (so the container's PDEATHSIG is tied to the monitor, not to the cbox that
 * started it), copies the container's stdout and stderr (or its terminal's output) into its log
 * and to the clients attached on its attach socket, waits for it, writes its wait status to a
 * file, and then execs cbox's exit command, which records the end. No second Bun runs beside a
 * detached container.
 *
 * The attach socket (unix, seqpacket, made and bound by cbox): a client sends one byte, 'a' to
 * attach or 'o' to attach and take the container's stdin over (the monitor closes its own copy,
 * so the container's input ends with the client's). It gets one byte back, carrying the
 * container's stdin as an fd (the pty master, or the stdin pipe's write end) when there is one,
 * then records: the stream (1 stdout, 2 stderr) and the bytes; once the container has ended,
 * 3 and its wait status (an int); then the end of the socket.
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
#define MAX_ATTACHED 8

static const char *next_str(const char *s) {
  while (*s) s++;
  return s + 1;
}

/* The monitor's own copies of what it needs from Bun's memory before giving that memory back. */
struct monitor_memory {
  char text[1 << 16];
  char *argv[MAX_ARGS + 1], *envp[MAX_ENV + 1];
  const char *exit_tmp, *exit_path, *title;
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
    else if (i == 2) own->title = copy;
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

/* Attached clients: their sockets (-1: a free slot), and whether each has made its request. */
static int client_fd[MAX_ATTACHED];
static char client_on[MAX_ATTACHED];

static void drop_client(int i) {
  close(client_fd[i]);
  client_fd[i] = -1;
  client_on[i] = 0;
}

/* One record to every attached client; one whose socket has ended is dropped. The sends block: a
 * client that stops reading holds the container's output back (as a full pipe would), not loses it. */
static void broadcast(const char *rec, int n) {
  int i;
  ssize_t w;
  for (i = 0; i < MAX_ATTACHED; i++) {
    if (!client_on[i]) continue;
    while ((w = send(client_fd[i], rec, (size_t)n, MSG_NOSIGNAL)) < 0 && errno == EINTR) {}
    if (w != n) drop_client(i);
  }
}

/* Reads what fd (a stdout or stderr pipe, or the pty master) has, logs it line by line and sends
 * it to the attached clients; the fd, or -1 once it has ended (and is closed). */
static int copy_output(int fd, int log, int stream) {
  static char buf[1 + LOG_CHUNK];
  const char *name = stream == 1 ? "stdout" : "stderr";
  char *text = buf + 1;
  int n, start = 0, i;
  n = (int)read(fd, text, LOG_CHUNK);
  /* EAGAIN: an attached client made the pty master non-blocking (it shares the master's file) */
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return fd;
  if (n <= 0) { close(fd); return -1; }
  for (i = 0; i < n; i++) {
    if (text[i] != '\n') continue;
    log_record(log, name, 1, text + start, i - start);
    start = i + 1;
  }
  if (start < n) log_record(log, name, 0, text + start, n - start);
  buf[0] = (char)stream;
  broadcast(buf, n + 1);
  return fd;
}

/* Answers client i's request (see the top of this file); a client whose socket ended is dropped. */
static void serve_client(int i, int *in_w) {
  char req;
  ssize_t n;
  while ((n = recv(client_fd[i], &req, 1, MSG_DONTWAIT)) < 0 && errno == EINTR) {}
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) { drop_client(i); return; }
  if (client_on[i]) return;
  if (send_fd(client_fd[i], *in_w) < 0) { drop_client(i); return; }
  client_on[i] = 1;
  if (req == 'o' && *in_w >= 0) { close(*in_w); *in_w = -1; }
}

/* A new connection on the attach socket, served at once if its request is there already (cbox
 * start -a sends it before the container runs, so it misses none of its output). */
static void accept_client(int listener, int *in_w) {
  int i, fd = accept4(listener, 0, 0, SOCK_CLOEXEC);
  if (fd < 0) return;
  for (i = 0; i < MAX_ATTACHED && client_fd[i] >= 0; i++) {}
  if (i == MAX_ATTACHED) { close(fd); return; }
  client_fd[i] = fd;
  client_on[i] = 0;
  serve_client(i, in_w);
}

/* The container has ended: each attached client gets its wait status, then the end of its socket. */
static void say_goodbye(int status) {
  char rec[1 + sizeof status];
  int i;
  rec[0] = 3;
  for (i = 0; i < (int)sizeof status; i++) rec[1 + i] = ((const char *)&status)[i];
  broadcast(rec, sizeof rec);
  for (i = 0; i < MAX_ATTACHED; i++) if (client_fd[i] >= 0) drop_client(i);
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

enum { M_RELEASE_R, M_ERROR_W, M_REPORT_W, M_DONE_R, M_LOG, M_LISTEN, M_OUT_R, M_ERR_R, M_IN_W, M_COUNT };

/* The container's stdin: /dev/null, a pipe the monitor holds open (-i), or a terminal (-t): then
 * the container's end of a socket pair is its 0, 1 and 2 until its plan's console op has sent the
 * pty master over it and put the slave there. */
enum { STDIN_NULL, STDIN_PIPE, STDIN_TTY };

/* The container's stdio: its ends on 0, 1 and 2; the monitor's in fd[M_OUT_R], [M_ERR_R], [M_IN_W]
 * (for a terminal, the socket the master comes over in fd[M_OUT_R]). 0 or -1. */
static int container_stdio(int *fd, int stdin_kind) {
  int in[2] = {-1, -1}, out[2], err[2], tty[2];
  if (stdin_kind == STDIN_TTY) {
    if (socketpair(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, tty) < 0) return -1;
    if (dup2(tty[1], 0) < 0 || dup2(tty[1], 1) < 0 || dup2(tty[1], 2) < 0) return -1;
    fd[M_OUT_R] = tty[0]; fd[M_ERR_R] = -1; fd[M_IN_W] = -1;
    return 0;
  }
  if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0) return -1;
  if (stdin_kind == STDIN_PIPE) { if (pipe2(in, O_CLOEXEC) < 0) return -1; }
  else in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) return -1;
  fd[M_OUT_R] = out[0]; fd[M_ERR_R] = err[0]; fd[M_IN_W] = in[1];
  return 0;
}

#define POLL_CLIENTS 5 /* the first of p[] that watches a client */

/*
 * The monitor's life: stdio, the container cloned with it as its 0, 1 and 2, its pid reported to
 * cbox; then logging and serving attached clients until it has ended and cbox has said whether
 * the start went through ('g' on the done pipe). Without it the container is killed and nothing
 * is recorded: the cbox that gave up cleans up. strs: the exit file's temporary name, its name,
 * the monitor's command line (what ps shows), the exit command's argv.
 */
static void monitor_main(struct spawn *sp, int flags, int *fd, int stdin_kind, int pidns, const char *strs, int nstrs) {
  char finished[30], decision;
  int pid, pidfd, nul, i, status = 0, exited = 0, decided = 0, go = 0, master, awaiting_master = stdin_kind == STDIN_TTY;
  struct pollfd p[POLL_CLIENTS + MAX_ATTACHED];

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
  set_title(own->title); /* before the arguments' memory could go with the rest */
  /* the shim's own code and data are a library's mappings, kept by shed_inherited_memory */
  keep[0].lo = (unsigned long)mem; keep[0].hi = keep[0].lo + sizeof *mem;
  keep[1].lo = (unsigned long)own; keep[1].hi = keep[1].lo + sizeof *own;
  keep[2].lo = keep[2].hi = (unsigned long)&decision; /* the stack */
  keep[3].lo = keep[3].hi = (unsigned long)__errno_location(); /* thread-local storage */
  shed_inherited_memory(keep, 4);
  prctl(15 /* PR_SET_NAME */, (unsigned long)"cbox-monitor", 0, 0, 0);
  for (i = 0; i < MAX_ATTACHED; i++) client_fd[i] = -1;
  /* 0, 1 and 2 open, so that no pipe below takes one of their numbers */
  while ((nul = open("/dev/null", O_RDWR)) >= 0 && nul < 3) {}
  if (nul >= 0) close(nul);
  if (container_stdio(fd, stdin_kind) < 0) _exit(125);
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
    /* a terminal's clients wait until there is a master to give them */
    p[4].fd = awaiting_master ? -1 : fd[M_LISTEN];
    for (i = 0; i < MAX_ATTACHED; i++) p[POLL_CLIENTS + i].fd = client_fd[i];
    for (i = 0; i < POLL_CLIENTS + MAX_ATTACHED; i++) { p[i].events = POLLIN; p[i].revents = 0; }
    if (poll(p, POLL_CLIENTS + MAX_ATTACHED, -1) < 0) {
      if (errno == EINTR) continue;
      _exit(125);
    }
    /* clients first: one that connected before the container ran gets all of its output */
    for (i = 0; i < MAX_ATTACHED; i++) if (p[POLL_CLIENTS + i].revents && client_fd[i] >= 0) serve_client(i, &fd[M_IN_W]);
    if (p[4].revents) accept_client(fd[M_LISTEN], &fd[M_IN_W]);
    if (p[0].revents && awaiting_master) {
      recv_fd(fd[M_OUT_R], &master);
      close(fd[M_OUT_R]);
      fd[M_OUT_R] = master;
      if (master >= 0) fd[M_IN_W] = fcntl(master, 1030 /* F_DUPFD_CLOEXEC */, 3);
      awaiting_master = 0;
    } else if (p[0].revents) fd[M_OUT_R] = copy_output(fd[M_OUT_R], fd[M_LOG], 1);
    if (p[1].revents) fd[M_ERR_R] = copy_output(fd[M_ERR_R], fd[M_LOG], 2);
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
  if (fd[M_LISTEN] >= 0) close(fd[M_LISTEN]); /* from now on an attach is refused */
  say_goodbye(status);
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
 * Forks the monitor, which clones the container held as cbox_spawn's is. cfg: [log fd, the
 * container's stdin (STDIN_NULL, STDIN_PIPE for -i, STDIN_TTY for -t), a PID namespace's fd to
 * clone into or -1, the attach socket listening or -1]. strs: nstrs NUL-ended strings (see
 * monitor_main). out: [pid, release_w, error_r, done_w, monitor pid]; write 'g' to done_w once
 * the start went through. Returns 0 or -errno.
 */
int cbox_detach(const unsigned char *plan, int len, int flags, const int *cfg, const char *strs, int nstrs, int *out) {
  struct spawn *sp = &spawn_args;
  int release[2] = {-1, -1}, error[2] = {-1, -1}, report[2] = {-1, -1}, done[2] = {-1, -1};
  int fd[M_COUNT], monitor, pid, err;
  if (nstrs < 4) return -EINVAL;
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
    fd[M_DONE_R] = done[0]; fd[M_LOG] = cfg[0]; fd[M_LISTEN] = cfg[3];
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

