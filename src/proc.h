/*
 * proc.h - child processes on the libev loop (pg_dump, mysqldump, psql,
 * pg_restore, mysql), shaped like tmux's job.c.
 *
 * proc_spawn() forks and execs one program with:
 *   - exactly the environment given (nothing inherited unless
 *     PROC_INHERIT_ENV asks for it);
 *   - stdin, stdout and stderr each either a pipe to us or /dev/null, and
 *     no other descriptor (everything from 3 up is closed in the child);
 *   - every signal at its default disposition and none blocked (the daemon
 *     ignores SIGPIPE; a dump tool should die of it, not see EPIPE);
 *   - its own process group, so proc_kill() reaches whatever it starts
 *     (pg_dump -j workers, a shell's children).
 * The program is looked up in the daemon's PATH (not the child's) when
 * argv[0] has no '/'.
 *
 * Streams. Our ends of the pipes are non-blocking. The owner moves data
 * when it has room: proc_want_read() starts or stops the stdout watcher and
 * the readable callback runs while stdout has data (or is at EOF); the
 * callback calls proc_read() until it returns -1/EAGAIN or it has no room
 * left, and then stops the watcher, otherwise libev calls it again at
 * once. While nobody reads, the pipe fills and the child blocks in write():
 * that is the backpressure, with no buffer of ours in between. stdin is the
 * same in the other direction (proc_want_write(), proc_write(),
 * proc_close_stdin() for EOF). stderr is always drained; only its last
 * PROC_ERR_TAIL bytes are kept, for the error message.
 *
 * Exit. The exited callback runs exactly once, after the child has been
 * reaped (ev_child), with its status and the stderr tail. stderr is drained
 * then and closed. stdout is independent: bytes written before the exit stay
 * readable, and the owner is done when it has seen both the exit and EOF
 * (proc_read() returning 0), as in tmux. A program that cannot be started
 * (not found, not executable, fork or pipe failure) is reported the same
 * way, asynchronously, as exit code 127 with spawn_errno set and a message
 * that says why.
 *
 * Callbacks never run from inside the call that started the work. A
 * callback may call proc_free() on its own proc.
 *
 * Killing. proc_kill() signals the whole group. proc_terminate() sends
 * SIGTERM (and SIGCONT, so that a stopped group acts on it) and SIGKILL
 * after a grace period. proc_free() on a child that has not been reaped
 * SIGKILLs the group and leaves a small reaper behind that collects the
 * status when the kernel delivers it, so no zombie stays; the loop must
 * keep running for that (proc_orphans() counts them).
 *
 * Requirements: the loop is libev's default loop (ev_child works only
 * there, and libev reaps every child of the process through it); SIGPIPE
 * is ignored in the process (main() does this), or a write to a child that
 * has gone would kill the daemon.
 *
 * Secrets: never in argv (visible in /proc/<pid>/cmdline and ps to every
 * user). Pass them in env (only the same user and root read
 * /proc/<pid>/environ) or in a 0600 file (dumpcmd.h builds both).
 */
#ifndef DBP_PROC_H
#define DBP_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <ev.h>

#include "util.h"

struct proc;

/* Bytes of stderr kept (the last ones). */
#define PROC_ERR_TAIL		4096
/* Longest status description (proc_status.desc), with the NUL. */
#define PROC_DESC_LEN		256

/* proc_spawn() flags. Without a PROC_* pipe flag that stream is /dev/null. */
#define PROC_STDIN		0x01	/* pipe to stdin: proc_write() */
#define PROC_STDOUT		0x02	/* pipe from stdout: proc_read() */
#define PROC_STDERR		0x04	/* keep the tail of stderr */
/* Start from the daemon's environment; env entries override (same name)
 * or add to it. */
#define PROC_INHERIT_ENV	0x08

struct proc_status {
	bool exited;		/* normal exit (also a spawn failure: 127) */
	int code;		/* exit code when exited */
	int signo;		/* > 0: killed by this signal */
	bool core_dumped;
	int spawn_errno;	/* != 0: the program was never run */
	/* The last PROC_ERR_TAIL bytes of stderr, NUL-terminated ("" when
	 * nothing was written or stderr was not captured); err_len bytes,
	 * which may include NULs. Valid until proc_free(). */
	const char *err_tail;
	size_t err_len;
	uint64_t err_total;	/* bytes written to stderr in all */
	bool err_truncated;	/* err_total > err_len */
	/* One line, e.g. "exited with code 1", "killed by signal 9
	 * (Killed)", "cannot run pg_dump: not found in PATH". Never holds
	 * argv beyond the program name, nor env. */
	const char *desc;
};

struct proc_cbs {
	/* stdout has data or is at EOF (while proc_want_read() is on). */
	void (*readable)(struct proc *p, void *arg);
	/* stdin can take data (while proc_want_write() is on). */
	void (*writable)(struct proc *p, void *arg);
	/* Once: the child is gone. st is valid until proc_free(). */
	void (*exited)(struct proc *p, const struct proc_status *st,
	    void *arg);
	void *arg;
};

/*
 * Starts argv[0] with argv (NULL-terminated, argv[0] non-empty) and env
 * (NULL-terminated "NAME=value" strings; NULL = empty). Both are copied.
 * flags: PROC_* above. loop must be the default loop. Returns the proc,
 * which the caller frees with proc_free(); failures to start are reported
 * through the exited callback (see above). Returns NULL only for a usage
 * error (no argv[0], not the default loop), with a message in err.
 */
struct proc *proc_spawn(struct ev_loop *loop, const char *const argv[],
    const char *const env[], unsigned flags, const struct proc_cbs *cbs,
    char *err, size_t errlen) DBP_MUSTCHECK;

/*
 * Reads stdout: returns > 0 bytes, 0 at EOF (and every call after it), or
 * -1 with errno EAGAIN (nothing now) or another errno (stdout not piped:
 * EBADF). Never blocks.
 */
ssize_t proc_read(struct proc *p, void *buf, size_t cap) DBP_MUSTCHECK;
/*
 * Writes to stdin: returns the bytes taken (> 0), or -1 with errno EAGAIN
 * (pipe full), EPIPE (the child closed its stdin or exited) or EBADF
 * (not piped, or closed). Never blocks.
 */
ssize_t proc_write(struct proc *p, const void *buf, size_t len)
    DBP_MUSTCHECK;
/* Starts (on) or stops the stdout / stdin watcher. No-ops once that pipe
 * is closed. */
void proc_want_read(struct proc *p, bool on);
void proc_want_write(struct proc *p, bool on);
/* Closes stdin: the child sees EOF. Idempotent. */
void proc_close_stdin(struct proc *p);

/*
 * Sends sig to the child's process group. Returns 0, or -1 with errno
 * (ESRCH: never started or already reaped).
 */
int proc_kill(struct proc *p, int sig);
/*
 * SIGTERM (and SIGCONT) to the group now, SIGKILL to the group after grace
 * seconds (<= 0: SIGKILL at once) unless proc_free() comes first. The
 * SIGKILL goes to the group even if the leader has exited by then, so a
 * descendant that ignores SIGTERM dies too. No-op once reaped unless the
 * group is already being terminated.
 */
void proc_terminate(struct proc *p, double grace);

/*
 * Stops every watcher, closes the pipes and frees p. A child not yet
 * reaped is killed (SIGKILL to its group) and reaped later by the loop.
 * NULL is a no-op. Legal inside p's own callbacks.
 */
void proc_free(struct proc *p);

/* The child's pid (also its process group), -1 if it never started. */
pid_t proc_pid(const struct proc *p);
/* True once the exited callback has run. */
bool proc_exited(const struct proc *p);
/* The status once exited, else NULL. */
const struct proc_status *proc_status(const struct proc *p);
/* Freed procs whose children have not been reaped yet (tests). */
size_t proc_orphans(void);

#endif
