/* cbox's side: cloning the container's first process, forwarding signals, waiting. */

/*
 * Signal forwarding while the child lives. The container has its own session, so signals a
 * terminal sends to cbox's process group reach only cbox: each one is passed on. A signal in
 * stop_mask also starts the stop timer: if the child still lives stop_after seconds later, it
 * gets SIGKILL (docker stop's rule, so a PID 1 that ignores SIGTERM cannot keep cbox waiting).
 */
static volatile int forward_to;
static unsigned long stop_mask;
static unsigned int stop_after;
static volatile int stop_armed;

static void forward(int sig) {
  if (forward_to <= 0) return;
  kill(forward_to, sig);
  if (stop_after && (stop_mask >> sig & 1) && !stop_armed) { stop_armed = 1; alarm(stop_after); }
}
static void stop_timer_fired(int sig) { if (forward_to > 0) kill(forward_to, 9); }

static void forward_signals(int pid, const int *signals, int nsignals) {
  int i;
  forward_to = pid;
  stop_armed = 0;
  for (i = 0; i < nsignals; i++) set_handler(signals[i], forward);
  if (stop_after) set_handler(14 /* SIGALRM */, stop_timer_fired);
}

/*
 * The child usually shares our memory (CLONE_VM in flags, as posix_spawn does): copying the page
 * tables of a Bun process costs ~5 ms a container. So everything the child reads lives here, not in memory
 * JavaScript owns, and the child touches nothing else until execve gives it its own memory.
 * One child at a time may be between clone and execve. The child's errno is the calling
 * thread's (shared TLS): that thread only blocks in read(2) on the error pipe meanwhile, which
 * looks at errno only when it fails, and SA_RESTART keeps signals from failing it.
 * The large buffers are mapped at the first spawn, not static, so that only a start pays for
 * them (and the monitor can keep exactly them when it gives Bun's memory back).
 */
static struct spawn spawn_args;

/* Copies the plan into the child's memory, mapping it at the first call. 0 or -errno. */
static int load_plan(const unsigned char *plan, int len) {
  int i;
  if (len < 0 || len > MAX_PLAN) return -7; /* E2BIG */
  if (!mem) {
    void *m = mmap(0, sizeof *mem, 3 /* PROT_READ|PROT_WRITE */, 0x22 /* MAP_PRIVATE|MAP_ANONYMOUS */, -1, 0);
    if (m == (void *)-1) return -errno;
    mem = m;
  }
  for (i = 0; i < len; i++) mem->plan[i] = plan[i];
  return 0;
}

/* out: [pid, release_w, error_r]. From the moment the child exists, the given signals sent to
 * us are forwarded to it, so none is lost between its start and cbox_wait; stop: [mask of the
 * signals that start the stop timer, its seconds (0: none)]. Returns 0 or -errno. */
int cbox_spawn(const unsigned char *plan, int len, int flags, const int *signals, int nsignals, const int *stop, int *out) {
  struct spawn *sp = &spawn_args;
  int release[2], error[2], pid, err;
  if ((err = load_plan(plan, len)) < 0) return err;
  if (pipe2(release, O_CLOEXEC) < 0) return -errno;
  if (pipe2(error, O_CLOEXEC) < 0) { err = errno; close(release[0]); close(release[1]); return -err; }
  sp->plan = mem->plan; sp->len = (unsigned int)len;
  sp->release_r = release[0]; sp->release_w = release[1];
  sp->error_r = error[0]; sp->error_w = error[1];
  pid = clone(child_main, mem->stack + sizeof mem->stack, flags | SIGCHLD, sp);
  err = errno;
  close(release[0]);
  close(error[1]);
  if (pid < 0) { close(release[1]); close(error[0]); return -err; }
  stop_mask = (unsigned int)stop[0];
  stop_after = (unsigned int)stop[1];
  if (nsignals > 0) forward_signals(pid, signals, nsignals);
  out[0] = pid; out[1] = release[1]; out[2] = error[0];
  return 0;
}

/* Waits for pid (signals are forwarded to it since cbox_spawn); the raw wait status or -errno. */
int cbox_wait(int pid) {
  int status, r, err;
  while ((r = waitpid(pid, &status, 0x40000000 /* __WALL */)) < 0 && errno == EINTR) {}
  err = errno;
  if (forward_to == pid) { forward_to = 0; alarm(0); }
  return r < 0 ? -err : status;
}
