/*
 * proc.c: child processes on a real libev loop: exit codes and signals,
 * start failures, the exact environment, descriptors and signal state of
 * the child, stdin and stdout streaming with backpressure (the child
 * blocks, our memory stays flat), the stderr tail, termination with a
 * grace period, group kills that reach grandchildren, and frees that
 * leave no zombie.
 *
 * The program is also its own stream generator: "proc.t --gen N" writes N
 * bytes of a position-dependent pattern to stdout, so a reader can check
 * every byte and /proc/<pid>/io shows what the writer itself wrote.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <ev.h>

#include "proc.h"
#include "tap.h"
#include "util.h"

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define STREAM_BYTES ((uint64_t)64 * MiB)
#define CAT_BYTES ((size_t)8 * MiB)
#define COLLECT_MAX (2 * MiB)
/* Upper bounds for waits; a correct run never comes near them. */
#define WAIT_MAX 30.0

static struct ev_loop *loop;
static char self[PATH_MAX];
static const char *const sh_env[] = { "PATH=/usr/bin:/bin", NULL };

static unsigned char
pattern(uint64_t i)
{
	return (unsigned char)((i * 131) ^ (i >> 12));
}

/* ---- the generator (runs as a child) ---- */

static int
gen(uint64_t n)
{
	static unsigned char b[64 * 1024];
	uint64_t off = 0;
	size_t k, len;
	ssize_t w;

	while (off < n) {
		len = n - off < sizeof(b) ? (size_t)(n - off) : sizeof(b);
		for (k = 0; k < len; k++)
			b[k] = pattern(off + k);
		for (k = 0; k < len; k += (size_t)w) {
			w = write(1, b + k, len - k);
			if (w < 0 && errno == EINTR)
				w = 0;
			else if (w < 0)
				return 1;
		}
		off += len;
	}
	return 0;
}

/* ---- loop helpers ---- */

static void
guard_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)revents;
	*(bool *)w->data = true;
}

static void
tick_cb(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l;
	(void)w;
	(void)revents;
}

/*
 * Runs the loop until done(arg) or max seconds; returns done(arg). A tick
 * wakes the loop now and then, for conditions no watcher of ours sees
 * (a grandchild's death in /proc).
 */
static bool
spin(bool (*done)(void *), void *arg, double max)
{
	ev_timer guard, tick;
	bool fired = false;

	ev_timer_init(&guard, guard_cb, max, 0.);
	guard.data = &fired;
	ev_timer_start(loop, &guard);
	ev_timer_init(&tick, tick_cb, 0.01, 0.01);
	ev_timer_start(loop, &tick);
	while (!done(arg) && !fired)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &tick);
	ev_timer_stop(loop, &guard);
	return done(arg);
}

static bool
never(void *arg)
{
	(void)arg;
	return false;
}

/* Lets the loop run for a while (callbacks that should not come). */
static void
idle(double sec)
{
	spin(never, NULL, sec);
}

/* ---- a collecting owner ---- */

struct coll {
	struct proc *p;
	unsigned flags;
	char *out;
	size_t len;
	uint64_t total;
	bool eof;
	int exits;
	struct proc_status st;
	char tail[PROC_ERR_TAIL + 1];
	char desc[PROC_DESC_LEN];
	bool free_on_read;	/* free the proc from inside readable */
	bool free_on_exit;	/* ... from inside exited */
};

static void
coll_readable(struct proc *p, void *arg)
{
	struct coll *c = arg;
	char b[16384];
	ssize_t n;

	for (;;) {
		n = proc_read(p, b, sizeof(b));
		if (n > 0) {
			if (c->len + (size_t)n <= COLLECT_MAX) {
				memcpy(c->out + c->len, b, (size_t)n);
				c->len += (size_t)n;
				c->out[c->len] = '\0';
			}
			c->total += (uint64_t)n;
			if (c->free_on_read) {
				proc_free(p);
				c->p = NULL;
				return;
			}
			continue;
		}
		if (n == 0)
			c->eof = true;
		return;
	}
}

static void
coll_exited(struct proc *p, const struct proc_status *st, void *arg)
{
	struct coll *c = arg;

	c->exits++;
	c->st = *st;
	memcpy(c->tail, st->err_tail, st->err_len + 1);
	c->st.err_tail = c->tail;
	strlcpy0(c->desc, st->desc, sizeof(c->desc));
	c->st.desc = c->desc;
	if (c->free_on_exit) {
		proc_free(p);
		c->p = NULL;
	}
}

static bool
coll_done(void *arg)
{
	struct coll *c = arg;

	return c->exits > 0 && (c->eof || !(c->flags & PROC_STDOUT) ||
	    c->p == NULL);
}

static void
coll_start(struct coll *c, const char *const argv[],
    const char *const env[], unsigned flags)
{
	struct proc_cbs cbs = { coll_readable, NULL, coll_exited, c };
	char err[128];

	memset(c, 0, sizeof(*c));
	c->out = xcalloc(1, COLLECT_MAX + 1);
	c->flags = flags;
	c->p = proc_spawn(loop, argv, env, flags, &cbs, err, sizeof(err));
	if (c->p == NULL)
		diag("proc_spawn: %s", err);
	else if (flags & PROC_STDOUT)
		proc_want_read(c->p, true);
}

/* Starts, waits for exit (and EOF); false if that never came. */
static bool
coll_run(struct coll *c, const char *const argv[],
    const char *const env[], unsigned flags)
{
	coll_start(c, argv, env, flags);
	return c->p != NULL && spin(coll_done, c, WAIT_MAX);
}

static void
coll_free(struct coll *c)
{
	proc_free(c->p);
	free(c->out);
	memset(c, 0, sizeof(*c));
}

static bool
sh(struct coll *c, const char *script, unsigned flags)
{
	const char *argv[] = { "/bin/sh", "-c", script, NULL };

	return coll_run(c, argv, sh_env, flags);
}

/* ---- /proc helpers ---- */

/* State letter of a process ('Z' zombie), or 0 when it is gone. */
static char
proc_state(pid_t pid, pid_t *pgrp)
{
	char path[64], buf[512], *rp;
	char st = 0;
	int pg = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), f) != NULL &&
	    (rp = strrchr(buf, ')')) != NULL)
		sscanf(rp + 1, " %c %*d %d", &st, &pg);
	fclose(f);
	if (pgrp != NULL)
		*pgrp = pg;
	return st;
}

static long long
status_field(pid_t pid, const char *file, const char *key)
{
	char path[64], line[256];
	size_t kl = strlen(key);
	long long v = -1;
	FILE *f;

	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	else
		snprintf(path, sizeof(path), "/proc/self/%s", file);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, kl) == 0) {
			v = strtoll(line + kl, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static char *
status_line(pid_t pid, const char *key, char *out, size_t n)
{
	char path[64], line[256];
	FILE *f;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return out;
	while (fgets(line, sizeof(line), f) != NULL)
		if (str_has_prefix(line, key)) {
			line[strcspn(line, "\n")] = '\0';
			strlcpy0(out, line + strlen(key), n);
			break;
		}
	fclose(f);
	return out;
}

/* ---- tests ---- */

static void
test_exit_codes(void)
{
	struct coll c;

	ok(sh(&c, "exit 0", 0), "exit 0: reported");
	ok(c.st.exited && c.st.code == 0 && c.st.signo == 0 &&
	    c.st.spawn_errno == 0, "exit 0: exited, code 0");
	is_str(c.st.desc, "/bin/sh exited with code 0", "exit 0: desc");
	idle(0.05);
	is_int(c.exits, 1, "exit 0: reported exactly once");
	ok(proc_exited(c.p) && proc_status(c.p) != NULL,
	    "proc_exited / proc_status after the report");
	is_int(proc_kill(c.p, SIGTERM), -1, "proc_kill after the exit fails");
	is_int(errno, ESRCH, "... with ESRCH");
	coll_free(&c);

	sh(&c, "exit 42", 0);
	ok(c.st.exited && c.st.code == 42, "exit 42: code 42");
	coll_free(&c);

	sh(&c, "kill -USR1 $$", 0);
	ok(!c.st.exited && c.st.signo == SIGUSR1, "killed by SIGUSR1");
	is_str(c.st.desc, "/bin/sh killed by signal 10 (SIGUSR1)",
	    "signal: desc");
	coll_free(&c);
}

static void
test_many(void)
{
	struct coll c[12];
	char script[32];
	size_t i;
	int good = 0, once = 0;
	bool all;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		const char *argv[] = { "/bin/sh", "-c", script, NULL };

		snprintf(script, sizeof(script), "exit %zu", 10 + i);
		coll_start(&c[i], argv, sh_env, 0);
	}
	for (i = 0; i < ARRAY_SIZE(c); i++)
		spin(coll_done, &c[i], WAIT_MAX);
	idle(0.05);
	all = true;
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		good += c[i].st.exited && c[i].st.code == (int)(10 + i);
		once += c[i].exits == 1;
		all = all && c[i].exits > 0;
		coll_free(&c[i]);
	}
	ok(all, "12 concurrent children: all reported");
	is_int(good, 12, "each with its own exit code");
	is_int(once, 12, "each exactly once");
}

static void
test_spawn_failures(void)
{
	static const char *const missing[] = { "/nonexistent/dbprovd-prog",
	    NULL };
	static const char *const unpathed[] = { "dbprovd-no-such-program",
	    NULL };
	static const char *const none[] = { NULL };
	char path[] = "/tmp/proc-test-noexec.XXXXXX";
	const char *noexec[] = { path, NULL };
	struct coll c;
	char err[128];
	struct ev_loop *other;
	int fd;

	ok(coll_run(&c, missing, NULL, PROC_STDOUT | PROC_STDERR),
	    "missing binary: reported");
	ok(c.st.exited && c.st.code == 127 && c.st.spawn_errno == ENOENT,
	    "missing binary: exit 127, ENOENT");
	ok(strstr(c.st.desc, "cannot run /nonexistent/dbprovd-prog: No such "
	    "file or directory") != NULL, "missing binary: clear message");
	diag("%s", c.st.desc);
	ok(proc_pid(c.p) > 0, "missing binary: forked (the error came "
	    "from execve in the child)");
	idle(0.05);
	is_int(c.exits, 1, "missing binary: reported once");
	coll_free(&c);

	coll_run(&c, unpathed, NULL, 0);
	ok(c.st.code == 127 && c.st.spawn_errno == ENOENT &&
	    strstr(c.st.desc, "dbprovd-no-such-program: not found in PATH"),
	    "not in PATH: exit 127 and says so");
	is_int(proc_pid(c.p), -1, "not in PATH: never forked");
	is_int(proc_kill(c.p, SIGTERM), -1, "not in PATH: proc_kill fails");
	proc_terminate(c.p, 1.);
	coll_free(&c);

	fd = mkstemp(path);
	if (fd >= 0) {
		if (write(fd, "#!/bin/sh\n", 10) != 10)
			diag("short write");
		close(fd);
		chmod(path, 0644);
	}
	coll_run(&c, noexec, NULL, 0);
	ok(c.st.code == 127 && c.st.spawn_errno == EACCES &&
	    strstr(c.st.desc, "Permission denied") != NULL,
	    "not executable: exit 127, EACCES (the exec error from the "
	    "child)");
	ok(proc_pid(c.p) > 0, "not executable: it was forked");
	coll_free(&c);
	unlink(path);

	ok(proc_spawn(loop, none, NULL, 0, NULL, err, sizeof(err)) == NULL,
	    "empty argv: NULL");
	is_str(err, "no program given", "empty argv: message");
	other = ev_loop_new(EVFLAG_AUTO);
	ok(proc_spawn(other, missing, NULL, 0, NULL, err, sizeof(err)) ==
	    NULL && strstr(err, "default loop") != NULL,
	    "another loop: refused");
	ev_loop_destroy(other);
}

static void
test_env(void)
{
	static const char *const argv[] = { "env", NULL };
	static const char *const env[] = { "A=1", "B=two words", "EMPTY=",
	    NULL };
	static const char *const over[] = { "DBP_PROC_T=inner", "X=y", NULL };
	struct coll c;

	ok(coll_run(&c, argv, env, PROC_STDOUT), "env: ran");
	is_str(c.out, "A=1\nB=two words\nEMPTY=\n",
	    "the environment is exactly what was given");
	ok(c.eof && c.st.code == 0, "env: EOF and exit 0");
	coll_free(&c);

	coll_run(&c, argv, NULL, PROC_STDOUT);
	is_str(c.out, "", "no env: empty environment");
	coll_free(&c);

	setenv("DBP_PROC_T", "outer", 1);
	coll_run(&c, argv, over, PROC_STDOUT | PROC_INHERIT_ENV);
	ok(strstr(c.out, "DBP_PROC_T=inner\n") != NULL &&
	    strstr(c.out, "DBP_PROC_T=outer") == NULL,
	    "inherit: a given entry overrides ours");
	ok(strstr(c.out, "X=y\n") != NULL, "inherit: a given entry is added");
	ok(getenv("PATH") == NULL || strstr(c.out, "PATH=") != NULL,
	    "inherit: ours are passed on");
	coll_free(&c);
	coll_run(&c, argv, over, PROC_STDOUT);
	ok(strstr(c.out, "DBP_PROC_T=inner\n") != NULL &&
	    strstr(c.out, "PATH=") == NULL,
	    "without inherit: none of ours");
	coll_free(&c);
	unsetenv("DBP_PROC_T");
}

static bool
got5(void *arg)
{
	struct coll *c = arg;

	return c->total >= 5 || c->exits > 0;
}

/* cat: what it has open and how its signals are set, then an echo. */
static void
test_child_state(void)
{
	static const char *const argv[] = { "cat", NULL };
	struct coll c;
	char path[64], fds[128] = "", sigign[64], sigblk[64];
	struct dirent *de;
	DIR *d;
	int leak, fd, others = 0;
	unsigned mask = 0;
	ssize_t n;
	size_t k = 0;

	/* A descriptor without close-on-exec must not reach the child. */
	leak = open("/dev/null", O_RDONLY);
	coll_start(&c, argv, NULL, PROC_STDIN | PROC_STDOUT | PROC_STDERR);
	n = proc_write(c.p, "ping\n", 5);
	is_int(n, 5, "cat: write to stdin");
	/* cat has exec'd once it echoes */
	ok(spin(got5, &c, WAIT_MAX), "cat: echo arrived");
	is_str(c.out, "ping\n", "cat: echoed through the pipes");

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)proc_pid(c.p));
	d = opendir(path);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd >= 0 && fd < 3)
			mask |= 1u << fd;
		else
			others++;
		k += (size_t)snprintf(fds + k, k < sizeof(fds) ?
		    sizeof(fds) - k : 0, " %s", de->d_name);
		if (k >= sizeof(fds))
			k = sizeof(fds) - 1;
	}
	if (d != NULL)
		closedir(d);
	ok(mask == 7 && others == 0,
	    "the child has fds 0, 1, 2 and nothing else");
	diag("child fds:%s", fds);
	/* The status file is read again if a read comes back empty. */
	for (k = 0; k < 50; k++) {
		status_line(proc_pid(c.p), "SigIgn:", sigign, sizeof(sigign));
		status_line(proc_pid(c.p), "SigBlk:", sigblk, sizeof(sigblk));
		if (*sigign && *sigblk)
			break;
		usleep(10000);
	}
	/*
	 * Signals 32 and 33 are glibc's own (thread cancellation, setxid):
	 * sigaction() refuses to touch them, so when our parent ignores them
	 * (GNU make's children do) the child inherits that, and its libc
	 * installs its own handlers when it needs them. Every other signal
	 * must be back to its default.
	 */
	if (!ok(*sigign && (strtoull(sigign, NULL, 16) &
	    ~((1ULL << 31) | (1ULL << 32))) == 0,
	    "no signal ignored in the child (we ignore SIGPIPE)"))
		diag("SigIgn: '%s' (pid %d, state %c)", sigign,
		    (int)proc_pid(c.p), proc_state(proc_pid(c.p), NULL));
	ok(strspn(sigblk, "\t 0") == strlen(sigblk) && *sigblk,
	    "no signal blocked in the child");
	{
		pid_t pg = 0;

		proc_state(proc_pid(c.p), &pg);
		is_int(pg, proc_pid(c.p), "the child leads its own group");
	}
	proc_close_stdin(c.p);
	proc_close_stdin(c.p);
	ok(spin(coll_done, &c, WAIT_MAX) && c.st.code == 0,
	    "cat: EOF on stdin, exit 0");
	is_int(proc_write(c.p, "x", 1), -1, "write after close_stdin fails");
	is_int(errno, EBADF, "... with EBADF");
	coll_free(&c);
	if (leak >= 0)
		close(leak);
}

/* Writing 8 MiB through cat and reading them back, both non-blocking. */
struct echo {
	struct proc *p;
	size_t sent, got;
	bool bad, eof;
	int exits, code;
	size_t eagain_w;
};

static void
echo_writable(struct proc *p, void *arg)
{
	struct echo *e = arg;
	unsigned char b[32768];
	size_t len, k;
	ssize_t n;

	for (;;) {
		len = CAT_BYTES - e->sent;
		if (len == 0) {
			proc_close_stdin(p);
			return;
		}
		if (len > sizeof(b))
			len = sizeof(b);
		for (k = 0; k < len; k++)
			b[k] = pattern(e->sent + k);
		n = proc_write(p, b, len);
		if (n < 0) {
			if (errno == EAGAIN)
				e->eagain_w++;
			return;
		}
		e->sent += (size_t)n;
	}
}

static void
echo_readable(struct proc *p, void *arg)
{
	struct echo *e = arg;
	unsigned char b[32768];
	ssize_t n, k;

	while ((n = proc_read(p, b, sizeof(b))) > 0) {
		for (k = 0; k < n; k++)
			if (b[k] != pattern(e->got + (size_t)k))
				e->bad = true;
		e->got += (size_t)n;
	}
	if (n == 0)
		e->eof = true;
}

static void
echo_exited(struct proc *p, const struct proc_status *st, void *arg)
{
	struct echo *e = arg;

	(void)p;
	e->exits++;
	e->code = st->exited ? st->code : -st->signo;
}

static bool
echo_done(void *arg)
{
	struct echo *e = arg;

	return e->eof && e->exits > 0;
}

static void
test_stdin_cat(void)
{
	static const char *const argv[] = { "cat", NULL };
	struct proc_cbs cbs = { echo_readable, echo_writable, echo_exited,
	    NULL };
	struct echo e;
	char err[128];

	memset(&e, 0, sizeof(e));
	cbs.arg = &e;
	e.p = proc_spawn(loop, argv, NULL, PROC_STDIN | PROC_STDOUT, &cbs,
	    err, sizeof(err));
	proc_want_write(e.p, true);
	proc_want_read(e.p, true);
	ok(spin(echo_done, &e, WAIT_MAX), "cat: 8 MiB in, EOF and exit");
	is_int(e.sent, CAT_BYTES, "cat: all 8 MiB written");
	is_int(e.got, CAT_BYTES, "cat: all 8 MiB read back");
	ok(!e.bad, "cat: every byte as written");
	ok(e.eagain_w > 0, "cat: the stdin pipe filled up (EAGAIN), so the "
	    "writes were paced by the child");
	is_int(e.code, 0, "cat: exit 0");
	proc_free(e.p);
}

/* The 64 MiB stream with a slow, pausing reader. */
struct slow {
	struct proc *p;
	pid_t pid;
	uint64_t got;
	bool bad, eof;
	int exits;
	struct proc_status st;
	ev_timer resume;
	int npause;
	bool paused;
	long long wchar0, growth[2];
	long long rss_max;
	size_t reads;
};

static const uint64_t pause_at[2] = { 16 * MiB, 40 * MiB };

static void
slow_readable(struct proc *p, void *arg)
{
	struct slow *s = arg;
	unsigned char b[16384];
	ssize_t n, k;
	long long rss;

	/* one read per wake-up: a slow consumer */
	n = proc_read(p, b, sizeof(b));
	if (n == 0) {
		s->eof = true;
		return;
	}
	if (n < 0)
		return;
	s->reads++;
	for (k = 0; k < n; k++)
		if (b[k] != pattern(s->got + (uint64_t)k))
			s->bad = true;
	s->got += (uint64_t)n;
	if ((s->reads & 255) == 0) {
		rss = status_field(0, "status", "VmRSS:");
		if (rss > s->rss_max)
			s->rss_max = rss;
	}
	if (s->npause < 2 && s->got >= pause_at[s->npause]) {
		/* stop reading: the child must block within one pipe */
		proc_want_read(p, false);
		s->paused = true;
		s->wchar0 = status_field(s->pid, "io", "wchar:");
		ev_timer_set(&s->resume, 0.3, 0.);
		ev_timer_start(loop, &s->resume);
	}
}

static void
slow_resume(struct ev_loop *l, ev_timer *w, int revents)
{
	struct slow *s = w->data;
	long long w1 = status_field(s->pid, "io", "wchar:");

	(void)l;
	(void)revents;
	ev_timer_stop(loop, w);
	s->growth[s->npause] = w1 >= 0 && s->wchar0 >= 0 ? w1 - s->wchar0 :
	    -1;
	s->npause++;
	s->paused = false;
	proc_want_read(s->p, true);
}

static void
slow_exited(struct proc *p, const struct proc_status *st, void *arg)
{
	struct slow *s = arg;

	(void)p;
	s->exits++;
	s->st = *st;
}

static bool
slow_done(void *arg)
{
	struct slow *s = arg;

	return s->eof && s->exits > 0;
}

static void
test_stream(void)
{
	char n[32];
	const char *argv[] = { self, "--gen", n, NULL };
	struct proc_cbs cbs = { slow_readable, NULL, slow_exited, NULL };
	struct slow s;
	char err[128];
	long long rss0;
	int i;

	memset(&s, 0, sizeof(s));
	snprintf(n, sizeof(n), "%llu", (unsigned long long)STREAM_BYTES);
	ev_timer_init(&s.resume, slow_resume, 0., 0.);
	s.resume.data = &s;
	cbs.arg = &s;
	rss0 = status_field(0, "status", "VmRSS:");
	s.rss_max = rss0;
	s.p = proc_spawn(loop, argv, NULL, PROC_STDOUT | PROC_STDERR, &cbs,
	    err, sizeof(err));
	s.pid = proc_pid(s.p);
	proc_want_read(s.p, true);
	ok(spin(slow_done, &s, 300.), "64 MiB stream: EOF and exit");
	is_int(s.got, STREAM_BYTES, "64 MiB stream: every byte arrived");
	ok(!s.bad, "64 MiB stream: every byte in order");
	ok(s.st.exited && s.st.code == 0, "64 MiB stream: generator exit 0");
	is_int(s.npause, 2, "64 MiB stream: paused twice");
	for (i = 0; i < 2; i++) {
		diag("pause %d: the child wrote %lld bytes while nobody read",
		    i + 1, s.growth[i]);
		ok(s.growth[i] >= 0 &&
		    s.growth[i] <= (long long)(1 * MiB + 64 * KiB),
		    "paused reader: the child wrote at most one pipe's worth "
		    "(it blocked)");
	}
	diag("RSS %lld kB before, %lld kB at most during the stream", rss0,
	    s.rss_max);
	ok(s.rss_max - rss0 < 16 * 1024,
	    "64 MiB stream: our RSS grew by less than 16 MiB");
	ev_timer_stop(loop, &s.resume);
	proc_free(s.p);
}

static void
test_stderr_tail(void)
{
	struct coll c;
	char *want;
	size_t i, n = 0, k;
	bool all_a = true;

	ok(sh(&c, "echo oops >&2; exit 1", PROC_STDERR), "small stderr: ran");
	is_str(c.st.err_tail, "oops\n", "small stderr: kept whole");
	ok(!c.st.err_truncated && c.st.err_total == 5,
	    "small stderr: not truncated");
	coll_free(&c);

	sh(&c, "head -c 1048576 /dev/zero | tr '\\0' a >&2; "
	    "printf %s -the-end >&2; exit 3", PROC_STDERR);
	is_int(c.st.code, 3, "1 MiB stderr: exit 3");
	is_int(c.st.err_len, PROC_ERR_TAIL, "1 MiB stderr: 4 KiB kept");
	is_int(c.st.err_total, 1048576 + 8, "1 MiB stderr: all counted");
	ok(c.st.err_truncated, "1 MiB stderr: marked truncated");
	ok(c.st.err_len >= 8 &&
	    memcmp(c.st.err_tail + c.st.err_len - 8, "-the-end", 8) == 0,
	    "1 MiB stderr: the tail ends with the last bytes");
	for (i = 0; i + 8 < c.st.err_len; i++)
		all_a = all_a && c.st.err_tail[i] == 'a';
	ok(all_a, "1 MiB stderr: the rest of the tail is what came before");
	coll_free(&c);

	/* Numbered lines: the tail must be exactly the last 4 KiB, in order,
	 * across every wrap of the ring. */
	sh(&c, "seq -f 'line %06g' 1 100000 >&2", PROC_STDERR);
	want = xmalloc(100000 * 12 + 1);
	for (i = 1; i <= 100000; i++)
		n += (size_t)snprintf(want + n, 13, "line %06zu\n", i);
	k = n - PROC_ERR_TAIL;
	ok(c.st.err_len == PROC_ERR_TAIL &&
	    memcmp(c.st.err_tail, want + k, PROC_ERR_TAIL) == 0,
	    "numbered stderr: the tail is exactly the last 4 KiB, in order");
	is_int(c.st.err_total, n, "numbered stderr: total");
	free(want);
	coll_free(&c);

	sh(&c, "echo not-kept >&2", 0);
	ok(c.st.err_len == 0 && c.st.err_total == 0 &&
	    streq(c.st.err_tail, ""), "stderr not captured: empty tail");
	coll_free(&c);
}

static bool
has_line(void *arg)
{
	struct coll *c = arg;

	return strchr(c->out, '\n') != NULL || c->exits > 0;
}

static void
test_terminate(void)
{
	static const char *const sleeper[] = { "sleep", "1000", NULL };
	struct coll c;

	/* A child that ignores SIGTERM (and so do its sleeps). */
	coll_start(&c, (const char *const[]){ "/bin/sh", "-c",
	    "trap '' TERM; echo ready; while :; do sleep 1; done", NULL },
	    sh_env, PROC_STDOUT);
	ok(spin(has_line, &c, WAIT_MAX) && streq(c.out, "ready\n"),
	    "TERM-trapping child: ready");
	proc_terminate(c.p, 0.3);
	ok(spin(coll_done, &c, WAIT_MAX), "TERM-trapping child: ended");
	ok(!c.st.exited && c.st.signo == SIGKILL,
	    "TERM-trapping child: SIGKILL after the grace period");
	diag("%s", c.st.desc);
	coll_free(&c);

	/* A child that obeys: SIGTERM is enough. (Sent once it runs, so
	 * that under valgrind it hits the program, not the forked copy.) */
	coll_start(&c, (const char *const[]){ "/bin/sh", "-c",
	    "echo ready; exec sleep 1000", NULL }, sh_env, PROC_STDOUT);
	ok(spin(has_line, &c, WAIT_MAX), "cooperative child: ready");
	proc_terminate(c.p, 30.);
	ok(spin(coll_done, &c, WAIT_MAX) && c.st.signo == SIGTERM,
	    "cooperative child: ended by SIGTERM");
	coll_free(&c);

	/* grace 0: SIGKILL at once */
	coll_start(&c, sleeper, sh_env, 0);
	proc_terminate(c.p, 0);
	ok(spin(coll_done, &c, WAIT_MAX) && c.st.signo == SIGKILL,
	    "grace 0: SIGKILL");
	coll_free(&c);
}

static bool
gone(void *arg)
{
	char st = proc_state(*(pid_t *)arg, NULL);

	return st == 0 || st == 'Z' || st == 'X';
}

static void
test_group_kill(void)
{
	struct coll c;
	pid_t gpid = 0, pg = 0;

	coll_start(&c, (const char *const[]){ "/bin/sh", "-c",
	    "sleep 1000 & echo $!; wait", NULL }, sh_env, PROC_STDOUT);
	ok(spin(has_line, &c, WAIT_MAX), "grandchild: started");
	gpid = (pid_t)atoi(c.out);
	ok(gpid > 0 && gpid != proc_pid(c.p), "grandchild: has its own pid");
	proc_state(gpid, &pg);
	is_int(pg, proc_pid(c.p), "grandchild: in the child's group");
	is_int(proc_kill(c.p, SIGTERM), 0, "proc_kill(SIGTERM)");
	ok(spin(coll_done, &c, WAIT_MAX) && c.st.signo == SIGTERM,
	    "grandchild: the leader died of SIGTERM");
	ok(gpid > 0 && spin(gone, &gpid, WAIT_MAX),
	    "grandchild: killed too (gone or a zombie of its new parent)");
	coll_free(&c);
}

static bool
freed(void *arg)
{
	return ((struct coll *)arg)->p == NULL;
}

static bool
no_orphans(void *arg)
{
	(void)arg;
	return proc_orphans() == 0;
}

static bool
really_gone(void *arg)
{
	return proc_state(*(pid_t *)arg, NULL) == 0;
}

static void
test_free_running(void)
{
	static const char *const sleeper[] = { "sleep", "1000", NULL };
	struct coll c;
	pid_t pid;

	coll_start(&c, sleeper, sh_env, PROC_STDIN | PROC_STDOUT |
	    PROC_STDERR);
	pid = proc_pid(c.p);
	ok(pid > 0 && proc_state(pid, NULL) != 0, "sleeper: running");
	proc_free(c.p);
	c.p = NULL;
	ok(spin(no_orphans, NULL, WAIT_MAX), "free: the orphan was reaped");
	ok(spin(really_gone, &pid, WAIT_MAX),
	    "free: no process and no zombie left (/proc)");
	is_int(c.exits, 0, "free: no callback after free");
	coll_free(&c);

	/* Freed from inside its own callbacks. */
	coll_start(&c, (const char *const[]){ "/bin/sh", "-c",
	    "echo hi; exec sleep 1000", NULL }, sh_env, PROC_STDOUT);
	c.free_on_read = true;
	pid = proc_pid(c.p);
	ok(spin(freed, &c, WAIT_MAX) && c.total > 0,
	    "free inside readable: freed after the first bytes");
	ok(spin(no_orphans, NULL, WAIT_MAX) && spin(really_gone, &pid,
	    WAIT_MAX), "free inside readable: child reaped");
	coll_free(&c);

	coll_start(&c, (const char *const[]){ "/bin/sh", "-c", "exit 7",
	    NULL }, sh_env, 0);
	c.free_on_exit = true;
	ok(spin(coll_done, &c, WAIT_MAX) && c.p == NULL && c.st.code == 7,
	    "free inside exited: fine");
	coll_free(&c);
}

static void
test_misc(void)
{
	struct coll c;
	char b[16];

	sh(&c, "echo hi", 0);
	ok(c.st.code == 0, "stdout not piped: runs (into /dev/null)");
	is_int(proc_read(c.p, b, sizeof(b)), -1, "proc_read without a pipe");
	is_int(errno, EBADF, "... EBADF");
	coll_free(&c);

	sh(&c, "exit 0", PROC_STDIN);
	is_int(proc_write(c.p, "x", 1), -1, "write to a child that is gone");
	is_int(errno, EPIPE, "... EPIPE (SIGPIPE ignored)");
	coll_free(&c);

	sh(&c, "printf abc", PROC_STDOUT);
	is_str(c.out, "abc", "short stdout");
	is_int(proc_read(c.p, b, sizeof(b)), 0, "proc_read after EOF: 0");
	is_int(proc_read(c.p, b, 0), 0, "proc_read after EOF, cap 0: 0");
	coll_free(&c);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && streq(argv[1], "--gen"))
		return gen(strtoull(argv[2], NULL, 10));
	if (realpath(argv[0], self) == NULL) {
		printf("1..0 # skip cannot resolve %s\n", argv[0]);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	loop = ev_default_loop(EVFLAG_AUTO);
	/* Children must not inherit our unflushed TAP output. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_exit_codes();
	test_many();
	test_spawn_failures();
	test_env();
	test_child_state();
	test_stdin_cat();
	test_stream();
	test_stderr_tail();
	test_terminate();
	test_group_kill();
	test_free_running();
	test_misc();

	ok(spin(no_orphans, NULL, WAIT_MAX), "no orphan left at the end");
	ev_loop_destroy(loop);
	return done_testing();
}
