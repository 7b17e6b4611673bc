# t/lib/dbptest.py: helpers for the integration tests: where the build
# is, temporary directories, and child processes whose output lines can be
# waited for.
"""Integration-test helpers (processes, paths, waiting)."""

import atexit
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

SRCDIR = os.environ.get('DBPROVD_SRCDIR') or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
BUILDDIR = os.environ.get('DBPROVD_BUILDDIR') or SRCDIR


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def build_path(rel):
    """Absolute path of a built program (src/dbprovd, t/drv/kwatch)."""
    return os.path.join(BUILDDIR, rel)


def src_path(rel):
    return os.path.join(SRCDIR, rel)


class TempDir:
    """A temporary directory removed at exit (kept with DBPROVD_KEEP_TMP=1)."""

    def __init__(self, prefix='dbprovd-test-'):
        self.path = tempfile.mkdtemp(prefix=prefix)

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        if not os.environ.get('DBPROVD_KEEP_TMP'):
            shutil.rmtree(self.path, ignore_errors=True)


_live = set()


@atexit.register
def _kill_leftovers():
    """A test that dies half-way must not leave its children running."""
    for p in list(_live):
        try:
            p.kill()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


class Proc:
    """A child process; stdout lines are collected by a thread and can be
    awaited with expect(); stderr goes to a file (read with stderr_text()).
    Children still running when the test exits are killed."""

    def __init__(self, argv, env=None, stderr_path=None):
        self.argv = argv
        self.stderr_path = stderr_path or tempfile.mktemp(prefix='dbprovd-stderr-')
        self._err = open(self.stderr_path, 'wb')
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self._err,
                                  stdin=subprocess.DEVNULL, env=full_env)
        self.lines = []
        self._q = queue.Queue()
        self._pos = 0
        self._t = threading.Thread(target=self._reader, daemon=True)
        self._t.start()
        _live.add(self)

    def _reader(self):
        for raw in self.p.stdout:
            self._q.put(raw.decode('utf-8', 'replace').rstrip('\n'))
        self._q.put(None)

    def _drain(self, timeout):
        try:
            line = self._q.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is not None:
            self.lines.append(line)
        return line is not None

    def expect(self, pattern, timeout=10.0):
        """Waits for a stdout line (after the previous match) matching the
        regex; returns the match, or None on timeout or exit."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            while self._pos < len(self.lines):
                m = rx.search(self.lines[self._pos])
                self._pos += 1
                if m:
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if not self._drain(min(left, 0.2)) and self.p.poll() is not None and self._q.empty():
                if self._pos >= len(self.lines):
                    return None

    def collect(self, seconds):
        """Reads output for a while; returns every line so far."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._drain(0.05)
        return list(self.lines)

    def matching(self, pattern):
        rx = re.compile(pattern)
        return [line for line in self.lines if rx.search(line)]

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def wait(self, timeout=10.0):
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        self._t.join(timeout=2)
        while self._drain(0.01):
            pass
        return rc

    def stop(self, timeout=10.0):
        """SIGTERM, then SIGKILL after timeout; returns the exit status."""
        self.signal(signal.SIGTERM)
        rc = self.wait(timeout)
        if rc is None:
            self.p.kill()
            rc = self.wait(5)
        return rc

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        return self.wait(5)

    def stderr_text(self):
        self._err.flush()
        with open(self.stderr_path, 'rb') as f:
            return f.read().decode('utf-8', 'replace')

    def close(self):
        if self.p.poll() is None:
            self.kill()
        _live.discard(self)
        self._err.close()
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass


def wait_until(pred, timeout=10.0, interval=0.05):
    """Polls pred() until it is true; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
