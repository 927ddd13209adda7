/*
 * cbox's side of a container's stdio: the pipe or pty master that cbox holds, and the loop that
 * copies bytes between them and cbox's own stdin and stdout. Mechanism only: which fds, and
 * what to send at the end of input, are the caller's choice.
 */

/* ioctl for TypeScript (termios, window sizes). Returns its result or -errno. */
int cbox_ioctl(int fd, int request, void *arg) {
  int r = ioctl(fd, (unsigned long)request, arg);
  return r < 0 ? -errno : r;
}

/* out: [ours, the child's] ends of a unix socket pair, both close-on-exec. 0 or -errno. */
int cbox_socketpair(int *out) {
  return socketpair(AF_UNIX, SOCK_STREAM | O_CLOEXEC, 0, out) < 0 ? -errno : 0;
}

/* out: [read, write] ends of a close-on-exec pipe. 0 or -errno. */
int cbox_pipe(int *out) {
  return pipe2(out, O_CLOEXEC) < 0 ? -errno : 0;
}

/* The fd sent with SCM_RIGHTS on sock (close-on-exec here); -ENODATA when the message carried
 * none, -ECONNRESET when the peer had gone; or -errno. */
int cbox_recv_fd(int sock) {
  int fd, n = recv_fd(sock, &fd);
  if (n < 0) return -errno;
  if (n == 0) return -104; /* ECONNRESET */
  return fd < 0 ? -61 /* ENODATA */ : fd;
}

/* A container's attach socket (monitor.c) at path, listening. fd or -errno. */
int cbox_attach_listen(const char *path) {
  struct unix_address addr;
  int fd, err;
  if ((err = unix_address(&addr, path)) < 0) return err;
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (bind(fd, &addr, sizeof addr) < 0 || listen(fd, MAX_ATTACHED) < 0) { err = errno; close(fd); return -err; }
  return fd;
}

/* Connects to the attach socket at path and sends the request byte. fd or -errno. */
int cbox_attach_connect(const char *path, int request) {
  struct unix_address addr;
  char byte = (char)request;
  int fd, err;
  if ((err = unix_address(&addr, path)) < 0) return err;
  fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, &addr, sizeof addr) < 0 || send(fd, &byte, 1, MSG_NOSIGNAL) != 1) { err = errno; close(fd); return -err; }
  return fd;
}

/* Signals during a relay: each handler notes what came and writes to the wake pipe, which the
 * loop polls (a handler may run on any of Bun's threads, so poll is not always interrupted). */
static volatile int window_changed, ending_signal;
static int wake_w = -1, proxy_pidfd = -1;

static void notify(void) {
  int saved = errno;
  char byte = 0;
  if (wake_w >= 0) write(wake_w, &byte, 1);
  errno = saved;
}
static void on_winch(int sig) { window_changed = 1; notify(); }
static void on_ending(int sig) { ending_signal = sig; notify(); }
static void on_proxied(int sig) {
  int saved = errno;
  syscall(SYS_pidfd_send_signal, proxy_pidfd, sig, 0, 0);
  errno = saved;
}

/* Reads what from holds now into out; 0 once from has ended (EOF or EIO: the pty's slave side
 * is closed), 1 while it may give more. from must be non-blocking. */
static int drain(int from, int out, char *buf, size_t size) {
  ssize_t n;
  for (;;) {
    n = read(from, buf, size);
    if (n > 0) { if (out >= 0) write_all(out, buf, n); continue; }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

/* drain for an attach socket: each record to out (stream 1) or err (2), a wait status (3) into
 * *status; 0 once the socket has ended. */
static int drain_records(int from, int out, int err, char *buf, size_t size, int *status) {
  ssize_t n;
  int i;
  for (;;) {
    n = recv(from, buf, size, MSG_DONTWAIT);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 && errno == EAGAIN;
    if (buf[0] == 1 && out >= 0) write_all(out, buf + 1, n - 1);
    else if (buf[0] == 2 && err >= 0) write_all(err, buf + 1, n - 1);
    else if (buf[0] == 3 && n == 1 + (ssize_t)sizeof *status) for (i = 0; i < (int)sizeof *status; i++) ((char *)status)[i] = buf[1 + i];
  }
}

/* 1 when the pty slave fd holds input its reader has not taken yet (a whole line, in canonical mode). */
static int unread(int slave) {
  struct pollfd p;
  p.fd = slave; p.events = POLLIN; p.revents = 0;
  return poll(&p, 1, 0) > 0;
}

#define EOF_WAIT_TRIES 500 /* x 10 ms: a container that never reads its input gets EOF anyway */
#define MAX_KEYS 32

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, 3 /* F_GETFL */);
  if (flags >= 0) fcntl(fd, 4 /* F_SETFL */, flags | O_NONBLOCK);
}

/* Copies n bytes of input to out, but for the detach keys: *held counts the keys matched so far,
 * held back until the sequence breaks (then they go out first). Stops at a whole sequence, with
 * *detach set. The bytes put in out. */
static int filter_keys(const char *in, int n, char *out, const unsigned char *keys, int nkeys, int *held, int *detach) {
  int i, k, o = 0;
  for (i = 0; i < n && !*detach; i++) {
    unsigned char c = (unsigned char)in[i];
    if (nkeys > 0 && c == keys[*held]) {
      *detach = ++*held == nkeys;
      continue;
    }
    for (k = 0; k < *held; k++) out[o++] = (char)keys[k];
    *held = 0;
    if (nkeys > 0 && c == keys[0]) *detach = ++*held == nkeys;
    else out[o++] = (char)c;
  }
  return o;
}

static void set_handlers(const int *sigs, int n, void (*handler)(int)) {
  int i;
  for (i = 0; i < n; i++) set_handler(sigs[i], handler);
}

/*
 * Copies in -> to and from -> out until the other side ends. cfg: [in, to, from, out, err,
 * size_from, eof, pid, proxy_pid] (fds of -1 are not used).
 *   pid >= 0: from is the container's output (a pipe or pty master), copied to out until process
 *     pid ends (a foreground container). pid < 0: from is its monitor's attach socket, whose
 *     records go to out and err until it ends; result[1] is the wait status its last record gave.
 *   When in ends, eof decides: -1 closes `to` (a pipe: the container reads EOF; with -1 the relay
 *     owns `to` and always closes it), else that byte is sent (a pty master: VEOF). The byte waits
 *     until the container has read what came before it (as script(1) does): sent into a line
 *     still unread, a shell that switches its terminal to raw mode would lose it.
 *   size_from >= 0: its window size is copied onto `to` (the pty master) at the start and at each
 *     SIGWINCH (the kernel then signals the container's foreground process group).
 *   proxy_pid >= 0: the signals in forward sent to us go on to it (docker's sig-proxy). The
 *     signals in ending end the relay, as does the detach sequence keys in `in` (nkeys 0: none).
 * Signals cbox_spawn forwards keep working meanwhile. result: [how it ended: 0 the container's
 * side did, 1 the detach keys, 2 a signal of ending; the wait status, the signal, or -1].
 * Returns 0 or -errno.
 */
int cbox_relay(const int *cfg, const unsigned char *keys, int nkeys, const int *forward, int nforward, const int *ending, int nending, int *result) {
  int in = cfg[0], to = cfg[1], from = cfg[2], out = cfg[3], err = cfg[4], size_from = cfg[5], eof = cfg[6], pid = cfg[7], proxy_pid = cfg[8];
  static char raw[4096], inbuf[4096 + MAX_KEYS], outbuf[16384];
  unsigned short size[4];
  struct pollfd p[5];
  int pidfd = -1, wakeup[2], pending = 0, done = 0, r = 0, peer = -1, eof_wait = 0, idle = 0, held = 0, detach = 0;
  ssize_t n;
  result[0] = 0; result[1] = -1;
  if (nkeys > MAX_KEYS) return -EINVAL;
  if (pid >= 0 && (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) < 0) return -errno;
  if (pipe2(wakeup, O_CLOEXEC | O_NONBLOCK) < 0) { r = -errno; if (pidfd >= 0) close(pidfd); return r; }
  wake_w = wakeup[1];
  /* a container that has just ended has nothing left to pass signals on to */
  proxy_pidfd = proxy_pid >= 0 ? (int)syscall(SYS_pidfd_open, proxy_pid, 0) : -1;
  if (to >= 0) set_nonblocking(to);
  if (pid >= 0 && from >= 0 && from != to) set_nonblocking(from);
  window_changed = size_from >= 0;
  ending_signal = 0;
  if (size_from >= 0) set_handler(28 /* SIGWINCH */, on_winch);
  if (proxy_pidfd >= 0) set_handlers(forward, nforward, on_proxied);
  set_handlers(ending, nending, on_ending);
  while (!done) {
    if (window_changed) {
      window_changed = 0;
      if (ioctl(size_from, TIOCGWINSZ, size) == 0) ioctl(to, TIOCSWINSZ, size);
    }
    if (ending_signal) {
      result[0] = 2; result[1] = ending_signal;
      break;
    }
    if (eof_wait) {
      /* the pty hands input to its reader asynchronously: wait for two empty looks in a row */
      idle = peer >= 0 && unread(peer) ? 0 : idle + 1;
      if (idle >= 2 || ++eof_wait > EOF_WAIT_TRIES) {
        if (peer >= 0) close(peer);
        peer = -1;
        eof_wait = 0;
        inbuf[0] = (char)eof;
        pending = 1;
      }
    }
    p[0].fd = pending ? -1 : in; p[0].events = POLLIN;
    p[1].fd = pending ? to : -1; p[1].events = POLLOUT;
    p[2].fd = from; p[2].events = POLLIN;
    p[3].fd = pidfd; p[3].events = POLLIN;
    p[4].fd = wakeup[0]; p[4].events = POLLIN;
    p[0].revents = p[1].revents = p[2].revents = p[3].revents = p[4].revents = 0;
    if (poll(p, 5, eof_wait ? 10 : -1) < 0) {
      if (errno == EINTR) continue;
      r = -errno;
      break;
    }
    if (p[4].revents) while (read(wakeup[0], raw, sizeof raw) > 0) {}
    if (p[0].revents) {
      n = read(in, raw, sizeof raw);
      if (n > 0) {
        pending = filter_keys(raw, (int)n, inbuf, keys, nkeys, &held, &detach);
        if (detach) {
          write_all(to, inbuf, pending); /* what came before the keys, as far as `to` takes it now */
          result[0] = 1;
          break;
        }
      } else if (n == 0 || errno != EINTR) {
        in = -1;
        if (held > 0 && to >= 0) write_all(to, (const char *)keys, held);
        if (eof >= 0) {
          peer = ioctl(to, TIOCGPTPEER, O_RDONLY | O_NOCTTY | O_CLOEXEC);
          eof_wait = 1;
        } else if (to >= 0) {
          close(to);
          to = -1;
        }
      }
    }
    if (p[1].revents) {
      n = write(to, inbuf, (size_t)pending);
      if (n > 0 && n < pending) {
        int i;
        for (i = 0; i < pending - n; i++) inbuf[i] = inbuf[i + n];
      }
      if (n > 0) pending -= (int)n;
      else if (errno != EAGAIN && errno != EINTR) pending = 0; /* nobody reads it any more */
    }
    if (p[2].revents && pid < 0) done = !drain_records(from, out, err, outbuf, sizeof outbuf, &result[1]);
    else if (p[2].revents && !drain(from, out, outbuf, sizeof outbuf)) from = -1;
    if (p[3].revents) {
      if (from >= 0) drain(from, out, outbuf, sizeof outbuf);
      done = 1;
    }
  }
  if (size_from >= 0) set_handler(28, 0);
  if (proxy_pidfd >= 0) set_handlers(forward, nforward, 0);
  set_handlers(ending, nending, 0);
  wake_w = -1;
  close(wakeup[0]);
  close(wakeup[1]);
  if (proxy_pidfd >= 0) close(proxy_pidfd);
  proxy_pidfd = -1;
  if (eof < 0 && to >= 0) close(to);
  if (peer >= 0) close(peer);
  if (pidfd >= 0) close(pidfd);
  return r;
}
