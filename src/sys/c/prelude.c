/*
 * cbox shim: the only C in cbox. It executes a plan of setup ops that TypeScript built;
 * it decides nothing. No #include: servers often lack libc headers, so the few prototypes
 * and constants used are declared here (they are Linux ABI and stable, and the same on x86_64 and
 * arm64: test/unit/abi-headers.test.ts checks them against both architectures' headers).
 *
 * Files by concept, joined into one shared library at build time (scripts/shim-lib.ts), prelude.c
 * (declarations and helpers several files use) first; shim.ts loads it and binds what each
 * command needs.
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
extern int lchown(const char *path, unsigned int uid, unsigned int gid);
extern int fcntl(int fd, int cmd, ...);
extern int setsid(void);
extern int socketpair(int domain, int type, int proto, int fds[2]);
extern ssize_t sendmsg(int fd, const void *msg, int flags);
extern ssize_t recvmsg(int fd, void *msg, int flags);
extern ssize_t send(int fd, const void *buf, size_t n, int flags);
extern ssize_t recv(int fd, void *buf, size_t n, int flags);
extern int connect(int fd, const void *addr, unsigned int len);
extern int bind(int fd, const void *addr, unsigned int len);
extern int listen(int fd, int backlog);
extern int accept4(int fd, void *addr, void *len, int flags);
extern int poll(void *fds, unsigned long n, int timeout);
extern unsigned int alarm(unsigned int seconds);
extern int mount(const char *src, const char *dst, const char *type, unsigned long flags, const void *data);
extern int umount2(const char *target, int flags);
extern int mkdir(const char *path, unsigned int mode);
extern int rmdir(const char *path);
extern int unshare(int flags);
extern int setns(int fd, int nstype);
extern int symlink(const char *target, const char *path);
extern int chdir(const char *path);
extern int access(const char *path, int mode);
extern int lsetxattr(const char *path, const char *name, const void *value, size_t size, int flags);
extern int sethostname(const char *name, size_t len);
extern unsigned int umask(unsigned int mask);
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
#define ECHILD 10
#define ETIMEDOUT 110
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
#define SOCK_SEQPACKET 5
#define SOCK_CLOEXEC 02000000
#define MSG_DONTWAIT 0x40
#define MSG_NOSIGNAL 0x4000
#define SOL_SOCKET 1
#define SCM_RIGHTS 1
#define TIOCGWINSZ 0x5413
#define TIOCSWINSZ 0x5414
#define TIOCSCTTY 0x540E
#define TIOCSPTLCK 0x40045431
#define TIOCGPTPEER 0x5441
#define CLOSE_RANGE_CLOEXEC 4
#define POLLIN 1
#define POLLOUT 4
#define EAGAIN 11
#define OPEN_TREE_CLONE 1
#define AT_FDCWD -100
#define AT_EMPTY_PATH 0x1000
#define AT_RECURSIVE 0x8000
#define MOVE_MOUNT_F_EMPTY_PATH 4
/*
 * Calls made by number; scripts/shim-lib.ts defines each SYS_* used here for the target
 * architecture, from src/sys/abi.ts's table. mknodat: glibc exports mknod only since 2.33, and
 * cbox runs on glibc 2.17 and later. The set*id calls: glibc's wrappers in a multi-threaded
 * process (Bun) apply the change to every thread in its thread list, waiting on each; a child
 * cloned from Bun has one thread but inherits that list, and waits forever for a thread that was
 * being created at the clone (seen: cbox exec hung in __nptl_setxid). The raw calls change the
 * calling thread only, which is the whole child.
 */

enum {
  OP_MOUNT = 1, OP_UMOUNT, OP_MKDIR, OP_MKNOD, OP_SYMLINK, OP_TOUCH, OP_PIVOT_ROOT, OP_RMDIR,
  OP_SETHOSTNAME, OP_CHDIR, OP_LOOPBACK_UP, OP_UMASK, OP_SETGROUPS, OP_SETGID, OP_SETUID,
  OP_OPEN_DUP, OP_CLOSE_FROM, OP_EXEC, OP_PDEATHSIG, OP_EXIT, OP_INIT, OP_SETSID, OP_DUP2, OP_CONSOLE,
  OP_CLONE_TREE, OP_ATTACH_TREE, OP_UNSHARE, OP_SETNS, OP_DROP_BOUNDING, OP_CAPSET, OP_NO_NEW_PRIVS,
  OP_SECCOMP, OP_DUMPABLE, OP_SETXATTR, OP_WRITE, OP_PRCTL, OP_RLIMIT, OP_READY, OP_CHOWN, OP_FIND_EXEC, OP_HOOK, OP_FORK_REPORT
};

/* The most ints an op carries: a seccomp filter's instructions (BPF_MAXINSNS). */
#define MAX_INTS 4096
#define MAX_STRS 4096

struct op {
  unsigned int code, nints, nstrs, size;
  const long long *ints;
  char *strs[MAX_STRS];
};

struct pollfd { int fd; short events, revents; };

/* Writes all of buf; gives up when the reader is gone (the output is dropped, the container runs on). */
static void write_all(int fd, const char *buf, ssize_t n) {
  ssize_t w;
  while (n > 0) {
    w = write(fd, buf, (size_t)n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    buf += w;
    n -= w;
  }
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

/* Sends one byte on sock with fd attached (SCM_RIGHTS), or alone when fd < 0. 0, or -1 and errno. */
static int send_fd(int sock, int fd) {
  struct fd_message m;
  fd_message_init(&m, fd);
  if (fd < 0) { m.hdr.control = 0; m.hdr.controllen = 0; }
  while (sendmsg(sock, &m.hdr, MSG_NOSIGNAL) < 0) if (errno != EINTR) return -1;
  return 0;
}

/* Receives a message of send_fd's: *fd is the fd it carried (close-on-exec here), or -1. The bytes
 * read (0: the peer is gone), or -1 and errno. */
static int recv_fd(int sock, int *fd) {
  struct fd_message m;
  ssize_t n;
  fd_message_init(&m, -1);
  while ((n = recvmsg(sock, &m.hdr, 0x40000000 /* MSG_CMSG_CLOEXEC */)) < 0 && errno == EINTR) {}
  *fd = n > 0 && m.cmsg.level == SOL_SOCKET && m.cmsg.type == SCM_RIGHTS ? m.cmsg.fd : -1;
  return (int)n;
}

/* struct sockaddr_un. */
struct unix_address { unsigned short family; char path[108]; };

/* addr for path: 0, or -ENAMETOOLONG. */
static int unix_address(struct unix_address *addr, const char *path) {
  int i;
  for (i = 0; path[i] && i < (int)sizeof addr->path - 1; i++) addr->path[i] = path[i];
  if (path[i]) return -36; /* ENAMETOOLONG */
  addr->path[i] = 0;
  addr->family = AF_UNIX;
  return 0;
}
