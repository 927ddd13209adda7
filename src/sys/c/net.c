/*
 * Sockets for the network: netlink (rtnetlink, nfnetlink; the bytes are TypeScript's, netlink.ts)
 * and a unix stream (slirp4netns's API socket). These only make the calls; each returns n or fd,
 * or -errno.
 */

extern int setsockopt(int fd, int level, int name, const void *val, unsigned int len);
extern ssize_t send(int fd, const void *buf, size_t n, int flags);
extern ssize_t recv(int fd, void *buf, size_t n, int flags);
extern int connect(int fd, const void *addr, unsigned int len);
extern int shutdown(int fd, int how);
extern void abort(void);

#define AF_NETLINK 16
#define SOCK_RAW 3
#define SOCK_CLOEXEC 02000000
#define SOL_NETLINK 270
#define NETLINK_CAP_ACK 10
#define NETLINK_EXT_ACK 11
#define CLONE_NEWNET 0x40000000
#define SHUT_WR 1
#define MSG_DONTWAIT 0x40

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

int cbox_unix_connect(const char *path) {
  struct { unsigned short family; char path[108]; } addr;
  int fd, i, err;
  for (i = 0; path[i] && i < (int)sizeof addr.path - 1; i++) addr.path[i] = path[i];
  if (path[i]) return -36; /* ENAMETOOLONG */
  addr.path[i] = 0;
  addr.family = AF_UNIX;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  if (connect(fd, &addr, sizeof addr) < 0) { err = errno; close(fd); return -err; }
  return fd;
}

int cbox_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }
