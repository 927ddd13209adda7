/* Calls cbox makes for itself, outside any container: the idmapped image, its detach, and locks. */

extern int flock(int fd, int op);
extern ssize_t lgetxattr(const char *path, const char *name, void *value, size_t size);

/* A detached idmapped copy of the mount tree at path: its fd (closing it drops the copy), or -errno. */
int cbox_idmapped_clone(const char *path, int userns_fd) {
  int fd = clone_tree(path, 0x00100000 /* MOUNT_ATTR_IDMAP */, userns_fd);
  return fd < 0 ? -errno : fd;
}

/* For cbox itself: an idmapped copy of the mount tree at path, attached on target. 0 or -errno. */
int cbox_idmapped_mount(const char *path, int userns_fd, const char *target) {
  int err, fd = cbox_idmapped_clone(path, userns_fd);
  if (fd < 0) return fd;
  if (attach_tree(fd, target) == 0) return 0;
  err = errno;
  close(fd);
  return -err;
}

int cbox_umount(const char *target, int flags) {
  return umount2(target, flags) < 0 ? -errno : 0;
}

/* Joins the namespace open at fd; for a PID namespace, this thread's next children are born in it. 0 or -errno. */
int cbox_setns(int fd, int type) {
  return setns(fd, type) < 0 ? -errno : 0;
}

/* flock(2), waiting through signals. 0 or -errno. */
int cbox_flock(int fd, int op) {
  int r;
  while ((r = flock(fd, op)) < 0 && errno == EINTR) {}
  return r < 0 ? -errno : 0;
}

/* The value of the extended attribute name of path itself (never through a symlink) into buf: its length, or -errno. */
int cbox_lgetxattr(const char *path, const char *name, char *buf, int size) {
  ssize_t n = lgetxattr(path, name, buf, (size_t)size);
  return n < 0 ? -errno : (int)n;
}
