/* Mounts: the ops that build the container's filesystem. */

/* glibc's and musl's dev_t encoding. */
static unsigned long makedev(unsigned long major, unsigned long minor) {
  return ((major & 0xfffff000UL) << 32) | ((major & 0xfffUL) << 8) |
         ((minor & 0xffffff00UL) << 12) | (minor & 0xffUL);
}

static const char *nul_if_empty(const char *s) { return s[0] ? s : 0; }

static int touch(const char *path, unsigned int mode) {
  int fd = open(path, O_RDONLY | O_CREAT | O_CLOEXEC, mode); /* existing files need not be ours */
  return fd < 0 ? -1 : close(fd);
}

static int pivot(const char *newroot, const char *putold) {
  if (chdir(newroot) < 0) return -1;
  if (syscall(SYS_pivot_root, ".", putold) < 0) return -1;
  /* pivot_root(".", "."): the old root is stacked on the new one, and goes once detached. */
  if (putold[0] == '.' && !putold[1] && umount2(".", 2 /* MNT_DETACH */) < 0) return -1;
  return chdir("/");
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
