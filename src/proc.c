/*
 * proc.c - child processes on the libev loop (contract in proc.h).
 *
 * fork() + execve() rather than posix_spawn(): we need a new process group,
 * every signal back at its default, all descriptors above 2 closed and the
 * exec error reported, and the classic shape does all of it in a dozen
 * async-signal-safe calls. The exec error travels through a close-on-exec
 * pipe (an errno written before _exit(127)); the parent does not wait on
 * it: the child's exit is what ev_child reports, and at that point the
 * errno, if any, is already in the pipe.
 *
 * Signals are blocked around fork() so that none of the daemon's handlers
 * (libev's among them) can run in the child before it has reset them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

/* Reads of stderr per wake-up, so a chatty child cannot starve the loop. */
#define ERR_READS_PER_WAKE	16
/* Reads when draining stderr at exit (a descendant may still write). */
#define ERR_READS_AT_EXIT	1024
#define DEFAULT_PATH		"/usr/local/bin:/usr/bin:/bin"

struct proc {
	struct ev_loop *loop;
	pid_t pid;		/* also the process group; -1 if not started */
	int in_fd;		/* our ends; -1 when absent or closed */
	int out_fd;
	int err_fd;
	int exec_fd;		/* exec errno from the child */
	ev_io in_w;
	ev_io out_w;
	ev_io err_w;
	ev_child child_w;
	ev_timer kill_w;	/* SIGKILL after the grace period */
	ev_timer fail_w;	/* reports a start failure on the next turn */
	struct proc_cbs cbs;
	bool reaped;
	bool reported;
	bool out_eof;
	int spawn_errno;
	const char *spawn_why;	/* static text, or NULL for strerror */
	char prog[128];		/* argv[0], for messages */
	/* stderr tail: a ring of PROC_ERR_TAIL bytes, made linear (and
	 * NUL-terminated) once, at exit */
	char ring[PROC_ERR_TAIL + 1];
	size_t ring_len;
	size_t ring_pos;	/* where the next byte goes */
	uint64_t err_total;
	char desc[PROC_DESC_LEN];
	struct proc_status st;
};

/* ---- freed procs whose children are still to be reaped -------------- */

struct orphan {
	ev_child w;
	struct ev_loop *loop;
	struct orphan *prev, *next;
};

/* Process-wide by nature (children belong to the process); a list keeps
 * them reachable until reaped. */
static struct orphan *orphan_list;
static size_t orphan_count;

static void
orphan_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct orphan *o = container_of(w, struct orphan, w);

	(void)revents;
	ev_child_stop(loop, w);
	if (o->prev)
		o->prev->next = o->next;
	else
		orphan_list = o->next;
	if (o->next)
		o->next->prev = o->prev;
	orphan_count--;
	free(o);
}

static void
orphan_add(struct ev_loop *loop, pid_t pid)
{
	struct orphan *o = xcalloc(1, sizeof(*o));

	o->loop = loop;
	ev_child_init(&o->w, orphan_cb, pid, 0);
	ev_child_start(loop, &o->w);
	o->next = orphan_list;
	if (orphan_list)
		orphan_list->prev = o;
	orphan_list = o;
	orphan_count++;
}

size_t
proc_orphans(void)
{
	return orphan_count;
}

/* ---- small helpers ---------------------------------------------------- */

static void
close_fd(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Moves fd above 2 (close-on-exec), so that the child's dup2() onto 0, 1
 * and 2 never meets one of its own sources. A daemon started with a closed
 * stdin would otherwise get fd 0 from pipe(). Returns the new fd or -1.
 */
static int
lift_fd(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -1;
	return 0;
}

/*
 * A close-on-exec pipe with both ends above 2; ours (index `mine`) is made
 * non-blocking, the child's stays blocking (the flag belongs to the open
 * file, which dup2() shares). Returns 0 or -1 with errno.
 */
static int
make_pipe(int fds[2], int mine)
{
	int e;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	fds[0] = lift_fd(fds[0]);
	fds[1] = lift_fd(fds[1]);
	if (fds[0] < 0 || fds[1] < 0 || set_nonblock(fds[mine]) < 0) {
		e = errno;
		close_fd(&fds[0]);
		close_fd(&fds[1]);
		errno = e;
		return -1;
	}
	return 0;
}

/*
 * The program to execute: argv[0] itself when it has a '/', else the first
 * regular executable file of that name in the daemon's PATH (an empty
 * element is the current directory, as in execvp()). Returns a malloc'ed
 * path, or NULL with *why set (ENOENT when found nowhere, EACCES when
 * found but not executable). A few stat() calls: the same work execvp()
 * would do.
 */
static char *
find_program(const char *name, int *why)
{
	const char *path = getenv("PATH");
	const char *dir, *end;
	struct stat sb;
	char *cand;
	bool denied = false;

	if (strchr(name, '/') != NULL)
		return xstrdup(name);
	if (path == NULL || *path == '\0')
		path = DEFAULT_PATH;
	for (dir = path;; dir = end + 1) {
		end = strchr(dir, ':');
		if (end == NULL)
			end = dir + strlen(dir);
		if (end == dir)
			cand = xasprintf("./%s", name);
		else
			cand = xasprintf("%.*s/%s", (int)(end - dir), dir, name);
		if (stat(cand, &sb) == 0 && S_ISREG(sb.st_mode)) {
			if (access(cand, X_OK) == 0)
				return cand;
			denied = true;
		}
		free(cand);
		if (*end == '\0')
			break;
	}
	*why = denied ? EACCES : ENOENT;
	return NULL;
}

/*
 * The child's environment: env, plus (inherit) every entry of ours whose
 * name env does not set. The strings are not copied: the array lives only
 * until execve() has been called.
 */
static char **
build_env(const char *const env[], bool inherit)
{
	size_t n = 0, m = 0, k = 0, i, j, len;
	char **out;
	bool dup;

	while (env != NULL && env[n] != NULL)
		n++;
	while (inherit && environ != NULL && environ[m] != NULL)
		m++;
	out = xcalloc(n + m + 1, sizeof(*out));
	for (i = 0; i < m; i++) {
		len = strcspn(environ[i], "=");
		dup = false;
		for (j = 0; j < n && !dup; j++)
			dup = strncmp(env[j], environ[i], len) == 0 &&
			    (env[j][len] == '=' || env[j][len] == '\0');
		if (!dup)
			out[k++] = environ[i];
	}
	for (j = 0; j < n; j++)
		out[k++] = (char *)env[j];
	out[k] = NULL;
	return out;
}

/*
 * In the child, between fork() and execve(): async-signal-safe calls only.
 * Never returns.
 */
static void
child_exec(const char *path, char *const argv[], char *const envp[],
    const int std[3], int exec_fd, int maxfd)
{
	struct sigaction sa;
	sigset_t none;
	int sig, fd, e;

	setpgid(0, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);
	/* EINVAL for SIGKILL, SIGSTOP and the C library's own: fine. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	for (fd = 0; fd < 3; fd++)
		if (dup2(std[fd], fd) < 0)
			goto fail;
	/* Nothing of the daemon's beyond 0-2 (libraries do not all set
	 * close-on-exec); exec_fd closes itself at exec. */
	e = 0;
	if (exec_fd > 3)
		e = close_range(3, (unsigned)exec_fd - 1, 0);
	if (e == 0)
		e = close_range((unsigned)exec_fd + 1, ~0U, 0);
	if (e != 0) {
		for (fd = 3; fd < maxfd; fd++)
			if (fd != exec_fd)
				close(fd);
	}
	execve(path, argv, envp);
fail:
	e = errno;
	if (write(exec_fd, &e, sizeof(e)) < 0) {
		/* nothing left to tell it with */
	}
	_exit(127);
}

/* ---- the stderr tail ----------------------------------------------------- */

static void
ring_put(struct proc *p, const char *b, size_t n)
{
	size_t first;

	p->err_total += n;
	if (n >= PROC_ERR_TAIL) {
		memcpy(p->ring, b + n - PROC_ERR_TAIL, PROC_ERR_TAIL);
		p->ring_pos = 0;
		p->ring_len = PROC_ERR_TAIL;
		return;
	}
	first = PROC_ERR_TAIL - p->ring_pos;
	if (first > n)
		first = n;
	memcpy(p->ring + p->ring_pos, b, first);
	memcpy(p->ring, b + first, n - first);
	p->ring_pos = (p->ring_pos + n) % PROC_ERR_TAIL;
	p->ring_len += n;
	if (p->ring_len > PROC_ERR_TAIL)
		p->ring_len = PROC_ERR_TAIL;
}

/* Reverses a[i..j], both included. */
static void
reverse(char *a, size_t i, size_t j)
{
	char c;

	while (i < j) {
		c = a[i];
		a[i] = a[j];
		a[j] = c;
		i++;
		j--;
	}
}

/* Puts the ring in order (oldest byte first) and terminates it. */
static void
ring_linearize(struct proc *p)
{
	size_t n = PROC_ERR_TAIL, k = p->ring_pos;

	if (p->ring_len == PROC_ERR_TAIL && k != 0) {
		/* rotate left by k: three reversals, no second buffer */
		reverse(p->ring, 0, k - 1);
		reverse(p->ring, k, n - 1);
		reverse(p->ring, 0, n - 1);
	}
	p->ring_pos = p->ring_len % PROC_ERR_TAIL;
	p->ring[p->ring_len] = '\0';
}

/* Reads stderr at most `reads` times; closes it at EOF or on an error. */
static void
err_drain(struct proc *p, int reads)
{
	char buf[PROC_ERR_TAIL];
	ssize_t n;

	while (p->err_fd >= 0 && reads-- > 0) {
		n = read(p->err_fd, buf, sizeof(buf));
		if (n > 0) {
			ring_put(p, buf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		ev_io_stop(p->loop, &p->err_w);
		close_fd(&p->err_fd);
	}
}

/* ---- watchers ------------------------------------------------------------- */

static void
err_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	err_drain(container_of(w, struct proc, err_w), ERR_READS_PER_WAKE);
}

static void
out_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc *p = container_of(w, struct proc, out_w);

	(void)loop;
	(void)revents;
	if (p->cbs.readable != NULL)
		p->cbs.readable(p, p->cbs.arg);
	else
		ev_io_stop(p->loop, w);	/* nobody to tell: do not spin */
}

static void
in_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct proc *p = container_of(w, struct proc, in_w);

	(void)loop;
	(void)revents;
	if (p->cbs.writable != NULL)
		p->cbs.writable(p, p->cbs.arg);
	else
		ev_io_stop(p->loop, w);
}

static const char *
sig_name(int sig)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 32)
	const char *s = sigabbrev_np(sig);

	return s != NULL ? s : "?";
#else
	(void)sig;
	return "?";
#endif
}

/* Fills p->st from a wait status (or the spawn error) and reports it.
 * The callback is the last thing done: it may free p. */
static void
report(struct proc *p, int wstatus)
{
	struct proc_status *st = &p->st;

	memset(st, 0, sizeof(*st));
	ring_linearize(p);
	st->err_tail = p->ring;
	st->err_len = p->ring_len;
	st->err_total = p->err_total;
	st->err_truncated = p->err_total > p->ring_len;
	st->desc = p->desc;
	if (p->spawn_errno != 0) {
		st->exited = true;
		st->code = 127;
		st->spawn_errno = p->spawn_errno;
		snprintf(p->desc, sizeof(p->desc), "cannot run %s: %s",
		    p->prog, p->spawn_why ? p->spawn_why :
		    strerror(p->spawn_errno));
	} else if (WIFEXITED(wstatus)) {
		st->exited = true;
		st->code = WEXITSTATUS(wstatus);
		snprintf(p->desc, sizeof(p->desc), "%s exited with code %d",
		    p->prog, st->code);
	} else if (WIFSIGNALED(wstatus)) {
		st->signo = WTERMSIG(wstatus);
		st->core_dumped = WCOREDUMP(wstatus);
		snprintf(p->desc, sizeof(p->desc),
		    "%s killed by signal %d (SIG%s)%s", p->prog, st->signo,
		    sig_name(st->signo), st->core_dumped ? ", core dumped" : "");
	} else {
		snprintf(p->desc, sizeof(p->desc), "%s ended with status 0x%x",
		    p->prog, (unsigned)wstatus);
	}
	p->reported = true;
	if (p->cbs.exited != NULL)
		p->cbs.exited(p, st, p->cbs.arg);
}

static void
child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct proc *p = container_of(w, struct proc, child_w);
	int e = 0;
	ssize_t n;

	(void)revents;
	ev_child_stop(loop, w);
	p->reaped = true;
	/* Everything the child wrote before exiting is in the pipe now. */
	err_drain(p, ERR_READS_AT_EXIT);
	ev_io_stop(loop, &p->err_w);
	close_fd(&p->err_fd);
	if (p->exec_fd >= 0) {
		do
			n = read(p->exec_fd, &e, sizeof(e));
		while (n < 0 && errno == EINTR);
		if (n == (ssize_t)sizeof(e) && e != 0)
			p->spawn_errno = e;
		close_fd(&p->exec_fd);
	}
	report(p, w->rstatus);
}

static void
fail_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)revents;
	ev_timer_stop(loop, w);
	report(container_of(w, struct proc, fail_w), 0);
}

static void
kill_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct proc *p = container_of(w, struct proc, kill_w);

	(void)revents;
	ev_timer_stop(loop, w);
	kill(-p->pid, SIGKILL);
}

/* ---- public ----------------------------------------------------------- */

/* A start failure: reported as exit 127 on the next loop turn. */
static void
spawn_failed(struct proc *p, int e, const char *why)
{
	p->spawn_errno = e != 0 ? e : EIO;
	p->spawn_why = why;
	ev_timer_set(&p->fail_w, 0., 0.);
	ev_timer_start(p->loop, &p->fail_w);
}

struct proc *
proc_spawn(struct ev_loop *loop, const char *const argv[],
    const char *const env[], unsigned flags, const struct proc_cbs *cbs,
    char *err, size_t errlen)
{
	struct proc *p;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
	int ex[2] = { -1, -1 }, null_fd = -1, std[3], why = 0, e, maxfd;
	char *path = NULL, **envp = NULL;
	sigset_t all, old;
	pid_t pid;

	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0') {
		snprintf(err, errlen, "no program given");
		return NULL;
	}
	if (!ev_is_default_loop(loop)) {
		snprintf(err, errlen, "child processes need the default loop");
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->loop = loop;
	p->pid = -1;
	p->in_fd = p->out_fd = p->err_fd = p->exec_fd = -1;
	if (cbs != NULL)
		p->cbs = *cbs;
	strlcpy0(p->prog, argv[0], sizeof(p->prog));
	ev_io_init(&p->in_w, in_cb, 0, EV_WRITE);
	ev_io_init(&p->out_w, out_cb, 0, EV_READ);
	ev_io_init(&p->err_w, err_cb, 0, EV_READ);
	ev_child_init(&p->child_w, child_cb, 0, 0);
	ev_timer_init(&p->kill_w, kill_cb, 0., 0.);
	ev_timer_init(&p->fail_w, fail_cb, 0., 0.);

	path = find_program(argv[0], &why);
	if (path == NULL) {
		spawn_failed(p, why, why == ENOENT ? "not found in PATH" :
		    NULL);
		return p;
	}
	if (((flags & PROC_STDIN) && make_pipe(in, 1) < 0) ||
	    ((flags & PROC_STDOUT) && make_pipe(out, 0) < 0) ||
	    ((flags & PROC_STDERR) && make_pipe(errp, 0) < 0) ||
	    make_pipe(ex, 0) < 0)
		goto fail;
	if ((flags & (PROC_STDIN | PROC_STDOUT | PROC_STDERR)) !=
	    (PROC_STDIN | PROC_STDOUT | PROC_STDERR)) {
		null_fd = lift_fd(open("/dev/null", O_RDWR | O_CLOEXEC));
		if (null_fd < 0)
			goto fail;
	}
	std[0] = (flags & PROC_STDIN) ? in[0] : null_fd;
	std[1] = (flags & PROC_STDOUT) ? out[1] : null_fd;
	std[2] = (flags & PROC_STDERR) ? errp[1] : null_fd;
	envp = build_env(env, (flags & PROC_INHERIT_ENV) != 0);
	maxfd = (int)sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		child_exec(path, (char *const *)argv, envp, std, ex[1], maxfd);
	e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		errno = e;
		goto fail;
	}
	/* Also here, so the group exists before we could signal it. Fails
	 * harmlessly once the child has exec'd (it did it itself). */
	setpgid(pid, pid);
	p->pid = pid;
	ev_child_set(&p->child_w, pid, 0);
	ev_child_start(loop, &p->child_w);

	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&ex[1]);
	close_fd(&null_fd);
	p->in_fd = in[1];
	p->out_fd = out[0];
	p->err_fd = errp[0];
	p->exec_fd = ex[0];
	if (p->in_fd >= 0)
		ev_io_set(&p->in_w, p->in_fd, EV_WRITE);
	if (p->out_fd >= 0)
		ev_io_set(&p->out_w, p->out_fd, EV_READ);
	if (p->err_fd >= 0) {
		ev_io_set(&p->err_w, p->err_fd, EV_READ);
		ev_io_start(loop, &p->err_w);
	}
	free(envp);
	free(path);
	return p;

fail:
	e = errno;
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&ex[0]);
	close_fd(&ex[1]);
	close_fd(&null_fd);
	free(envp);
	free(path);
	spawn_failed(p, e, NULL);
	return p;
}

ssize_t
proc_read(struct proc *p, void *buf, size_t cap)
{
	ssize_t n;

	if (p->out_fd < 0) {
		if (p->out_eof)
			return 0;
		errno = EBADF;
		return -1;
	}
	if (cap == 0) {		/* read() would say 0, which means EOF */
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		n = read(p->out_fd, buf, cap);
		if (n > 0)
			return n;
		if (n == 0) {
			p->out_eof = true;
			ev_io_stop(p->loop, &p->out_w);
			close_fd(&p->out_fd);
			return 0;
		}
		if (errno != EINTR)
			return -1;
	}
}

ssize_t
proc_write(struct proc *p, const void *buf, size_t len)
{
	ssize_t n;

	if (p->in_fd < 0) {
		errno = EBADF;
		return -1;
	}
	if (len == 0)
		return 0;
	do
		n = write(p->in_fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n;
}

void
proc_want_read(struct proc *p, bool on)
{
	if (p->out_fd < 0)
		return;
	if (on)
		ev_io_start(p->loop, &p->out_w);
	else
		ev_io_stop(p->loop, &p->out_w);
}

void
proc_want_write(struct proc *p, bool on)
{
	if (p->in_fd < 0)
		return;
	if (on)
		ev_io_start(p->loop, &p->in_w);
	else
		ev_io_stop(p->loop, &p->in_w);
}

void
proc_close_stdin(struct proc *p)
{
	ev_io_stop(p->loop, &p->in_w);
	close_fd(&p->in_fd);
}

int
proc_kill(struct proc *p, int sig)
{
	if (p->pid <= 0 || p->reaped) {
		errno = ESRCH;
		return -1;
	}
	return kill(-p->pid, sig);
}

void
proc_terminate(struct proc *p, double grace)
{
	if (p->pid <= 0 || (p->reaped && !ev_is_active(&p->kill_w)))
		return;
	if (grace <= 0) {
		ev_timer_stop(p->loop, &p->kill_w);
		kill(-p->pid, SIGKILL);
		return;
	}
	kill(-p->pid, SIGTERM);
	kill(-p->pid, SIGCONT);
	if (!ev_is_active(&p->kill_w)) {
		ev_timer_set(&p->kill_w, grace, 0.);
		ev_timer_start(p->loop, &p->kill_w);
	}
}

void
proc_free(struct proc *p)
{
	int status;
	pid_t r;

	if (p == NULL)
		return;
	ev_io_stop(p->loop, &p->in_w);
	ev_io_stop(p->loop, &p->out_w);
	ev_io_stop(p->loop, &p->err_w);
	ev_timer_stop(p->loop, &p->fail_w);
	close_fd(&p->in_fd);
	close_fd(&p->out_fd);
	close_fd(&p->err_fd);
	close_fd(&p->exec_fd);
	if (p->pid > 0 && (!p->reaped || ev_is_active(&p->kill_w)))
		kill(-p->pid, SIGKILL);
	ev_timer_stop(p->loop, &p->kill_w);
	/* libev may have reaped it already, its event still pending (rpid). */
	if (p->pid > 0 && !p->reaped && p->child_w.rpid == 0) {
		ev_child_stop(p->loop, &p->child_w);
		do
			r = waitpid(p->pid, &status, WNOHANG);
		while (r < 0 && errno == EINTR);
		if (r == 0)
			orphan_add(p->loop, p->pid);
	}
	ev_child_stop(p->loop, &p->child_w);
	free(p);
}

pid_t
proc_pid(const struct proc *p)
{
	return p->pid;
}

bool
proc_exited(const struct proc *p)
{
	return p->reported;
}

const struct proc_status *
proc_status(const struct proc *p)
{
	return p->reported ? &p->st : NULL;
}
