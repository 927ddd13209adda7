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

/* The fd sent with SCM_RIGHTS on sock (close-on-exec here), or -errno. */
int cbox_recv_fd(int sock) {
  struct fd_message m;
  ssize_t n;
  fd_message_init(&m, -1);
  while ((n = recvmsg(sock, &m.hdr, 0x40000000 /* MSG_CMSG_CLOEXEC */)) < 0 && errno == EINTR) {}
  if (n < 0) return -errno;
  if (n == 0 || m.cmsg.level != SOL_SOCKET || m.cmsg.type != SCM_RIGHTS || m.cmsg.fd < 0) return -EINVAL;
  return m.cmsg.fd;
}

static volatile int window_changed;
static void on_winch(int sig) { window_changed = 1; }

/* Reads what from holds now into out; 0 once from has ended (EOF or EIO: the pty's slave side
 * is closed), 1 while it may give more. from must be non-blocking. */
static int drain(int from, int out, char *buf, size_t size) {
  ssize_t n;
  for (;;) {
    n = read(from, buf, size);
    if (n > 0) { write_all(out, buf, n); continue; }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
}

/* 1 when the pty slave fd holds input its reader has not taken yet (a whole line, in canonical mode). */
static int unread(int slave) {
  struct pollfd p;
  p.fd = slave; p.events = POLLIN; p.revents = 0;
  return poll(&p, 1, 0) > 0;
}

#define EOF_WAIT_TRIES 500 /* x 10 ms: a container that never reads its input gets EOF anyway */

static void set_nonblocking(int fd) {
  int flags = fcntl(fd, 3 /* F_GETFL */);
  if (flags >= 0) fcntl(fd, 4 /* F_SETFL */, flags | O_NONBLOCK);
}

/*
 * Copies in -> to and from -> out until process pid ends (fds of -1 are not used). When in
 * ends, eof decides: -1 closes `to` (a pipe: the container reads EOF; with -1 the relay owns
 * `to` and always closes it), else that byte is sent (a pty master: VEOF). The byte waits
 * until the container has read what came before it (as script(1) does): sent into a line
 * still unread, a shell that switches its terminal to raw mode would lose it. With size_from >= 0, each SIGWINCH copies its window size onto `to` (the pty
 * master; the kernel then signals the container's foreground process group).
 * Signals cbox_spawn forwards keep working meanwhile. Returns 0 or -errno.
 */
int cbox_relay(const int *fds, int pid) {
  int in = fds[0], to = fds[1], from = fds[2], out = fds[3], size_from = fds[4], eof = fds[5];
  static char inbuf[4096], outbuf[16384];
  unsigned short size[4];
  struct pollfd p[4];
  int pidfd, pending = 0, done = 0, r, peer = -1, eof_wait = 0, idle = 0;
  ssize_t n;
  pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
  if (pidfd < 0) return -errno;
  if (to >= 0) set_nonblocking(to);
  if (from >= 0 && from != to) set_nonblocking(from);
  if (size_from >= 0) set_handler(28 /* SIGWINCH */, on_winch);
  while (!done) {
    if (window_changed) {
      window_changed = 0;
      if (ioctl(size_from, TIOCGWINSZ, size) == 0) ioctl(to, TIOCSWINSZ, size);
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
    p[0].revents = p[1].revents = p[2].revents = p[3].revents = 0;
    r = poll(p, 4, eof_wait ? 10 : -1);
    if (r < 0) {
      if (errno == EINTR) continue;
      r = -errno;
      break;
    }
    if (p[0].revents) {
      n = read(in, inbuf, sizeof inbuf);
      if (n > 0) pending = (int)n;
      else if (n == 0 || errno != EINTR) {
        in = -1;
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
    if (p[2].revents && !drain(from, out, outbuf, sizeof outbuf)) from = -1;
    if (p[3].revents) {
      if (from >= 0) drain(from, out, outbuf, sizeof outbuf);
      done = 1;
    }
  }
  if (size_from >= 0) set_handler(28, 0);
  if (eof < 0 && to >= 0) close(to);
  if (peer >= 0) close(peer);
  close(pidfd);
  return done ? 0 : r;
}
