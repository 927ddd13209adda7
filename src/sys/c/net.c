/*
 * Sockets for the network: netlink (rtnetlink, nfnetlink, sock_diag; the bytes are TypeScript's,
 * netlink.ts) and a unix stream (slirp4netns's API socket). These only make the calls; each
 * returns n or fd, or -errno.
 */

extern int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
extern int shutdown(int fd, int how);
extern void abort(void);
extern int munmap(void *addr, size_t len);

#define AF_NETLINK 16
#define SOCK_RAW 3
#define SOL_NETLINK 270
#define NETLINK_CAP_ACK 10
#define NETLINK_EXT_ACK 11
#define CLONE_NEWNET 0x40000000
#define SHUT_WR 1
#define CLONE_VM 0x100

/* A netlink socket of protocol (NETLINK_ROUTE, NETLINK_NETFILTER...) in the network namespace open
 * at nsfd (-1: this thread's). A socket keeps the namespace it was made in, so only this call moves
 * the calling thread, and moves it back. */
int cbox_netlink_open(int nsfd, int protocol) {
  int one = 1, self = -1, fd, err = 0;
  if (nsfd >= 0) {
    self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self < 0) return -errno;
    if (setns(nsfd, CLONE_NEWNET) < 0) { err = errno; close(self); return -err; }
  }
  fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
  if (fd < 0) err = errno;
  if (self >= 0) {
    if (setns(self, CLONE_NEWNET) < 0) abort(); /* never run on in the container's namespace */
    close(self);
  }
  if (fd < 0) return -err;
  /* The kernel's reason in error replies, and only the request's header echoed back with them. */
  setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof one);
  setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one);
  return fd;
}

int cbox_send(int fd, const void *buf, int len) {
  ssize_t n;
  while ((n = send(fd, buf, (size_t)len, 0)) < 0 && errno == EINTR) {}
  return n < 0 ? -errno : (int)n;
}

int cbox_recv(int fd, void *buf, int len) {
  ssize_t n;
  while ((n = recv(fd, buf, (size_t)len, 0)) < 0 && errno == EINTR) {}
  return n < 0 ? -errno : (int)n;
}

/* What is queued already, without waiting: -EAGAIN when nothing is. */
int cbox_recv_nowait(int fd, void *buf, int len) {
  ssize_t n;
  while ((n = recv(fd, buf, (size_t)len, MSG_DONTWAIT)) < 0 && errno == EINTR) {}
  return n < 0 ? -errno : (int)n;
}

/* What the closer child keeps: the fd it makes the last close of, and the pipe it waits on. */
struct closer { int keep, wait; };

static void close_all_but(int a, int b) {
  unsigned int lo = (unsigned int)(a < b ? a : b), hi = (unsigned int)(a < b ? b : a);
  if (lo > 0) syscall(SYS_close_range, 0U, lo - 1, 0);
  if (hi > lo + 1) syscall(SYS_close_range, lo + 1, hi - 1, 0);
  syscall(SYS_close_range, hi + 1, ~0U, 0);
}

/* The child of cbox_close_in_child. Its fd table is a copy of ours: it keeps only its two fds,
 * and exits once the pipe's write end is closed (read gives EOF; with every signal blocked
 * nothing interrupts it), which the parent does after closing its own copy of keep, so that the
 * child's exit makes the last close of keep. */
static int closer_main(void *arg) {
  struct closer *c = arg;
  char byte;
  prctl(15 /* PR_SET_NAME */, (unsigned long)"cbox-closer", 0, 0, 0);
  close_all_but(c->keep, c->wait);
  syscall(SYS_read, c->wait, &byte, 1);
  return 0; /* libc's clone ends the child with exit(2) */
}

static const size_t closer_stack_size = 16384;

/*
 * Closes fd with its last close made by a child, so that whatever the kernel waits for when fd is
 * released, the child waits for. The child shares our memory (no page tables are copied) and gets
 * a copy of our fd table; it closes every other fd at once (a pipe end held there would keep its
 * reader from EOF) and exits after this call has closed fd here. It runs with every signal
 * blocked (it shares our memory: none of our handlers may run in it), is named cbox-closer, and
 * sends no signal when it ends: it stays a zombie until we exit, then init reaps it. Returns the
 * child's pid, fd closed; or -errno, fd still open and nothing else done.
 * Its stack is mapped each time and never unmapped (the child may still be on it); a process does
 * this a few times at most. The child's syscalls here cannot fail, so they never write errno,
 * which is the calling thread's (shared TLS).
 */
int cbox_close_in_child(int fd) {
  unsigned long long all[16], old[16];
  struct closer *c;
  char *mem;
  int wait[2], pid, err, i;
  if (pipe2(wait, O_CLOEXEC) < 0) return -errno;
  mem = mmap(0, closer_stack_size, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
  if (mem == (void *)-1) { err = errno; close(wait[0]); close(wait[1]); return -err; }
  c = (struct closer *)mem;
  c->keep = fd;
  c->wait = wait[0];
  for (i = 0; i < 16; i++) all[i] = ~0ULL;
  sigprocmask(2 /* SIG_SETMASK */, all, old);
  pid = clone(closer_main, mem + closer_stack_size, CLONE_VM, c);
  err = errno;
  sigprocmask(2 /* SIG_SETMASK */, old, 0);
  close(wait[0]);
  if (pid < 0) { close(wait[1]); munmap(mem, closer_stack_size); return -err; }
  close(fd);
  close(wait[1]);
  return pid;
}

int cbox_unix_connect(const char *path) {
  struct unix_address addr;
  int fd, err;
  if ((err = unix_address(&addr, path)) < 0) return err;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, &addr, sizeof addr) < 0) { err = errno; close(fd); return -err; }
  return fd;
}

int cbox_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }
