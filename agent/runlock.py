"""One run per folder: an exclusive `flock` on a lock file inside the run folder, held for the run's life.

Two runs writing one folder tear its trajectory.json and mix their screenshots, so the
second one must fail at once, naming the folder and the pid that holds it. The lock is
an advisory ``flock`` on ``DIR/.guiagent.lock`` (it dies with its process, so a killed
run never leaves a folder locked) and the file holds the owner's pid for the message.

A process may take the same folder again on the same thread (the CLI takes it before it
loads a model, so a busy folder fails in a second, and the run then takes it again);
any other taker, in this process or another, gets `RunFolderInUse`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import threading
from pathlib import Path

LOCK_FILE = ".guiagent.lock"


class RunFolderInUse(RuntimeError):
    """Another run holds the folder; the message names the folder and that run's pid."""


class RecordError(OSError):
    """The run folder does not take files (cannot be created, read-only, full, gone); one-line message.

    Built as ``RecordError(errno, message)``; ``str()`` is the message alone.
    """

    def __str__(self) -> str:
        return str(self.strerror)


class RunLock:
    """A held lock on a run folder; `release()` (or leaving the ``with`` block) gives it up."""

    def __init__(self, folder: Path, key: tuple[int, int]) -> None:
        self.folder = folder
        self._key = key
        self._released = False

    def release(self) -> None:
        """Give the lock up (idempotent); the last holder on the thread removes the lock file."""
        if self._released:
            return
        self._released = True
        with _registry_lock:
            held = _held.get(self._key)
            if held is None:
                return
            held.count -= 1
            if held.count > 0:
                return
            del _held[self._key]
        # unlinked while still locked: a taker that opened the old file sees the inode change and retries
        try:
            os.unlink(held.path)
        except OSError:
            pass
        os.close(held.fd)

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class _Held:
    def __init__(self, fd: int, path: Path, thread: int) -> None:
        self.fd, self.path, self.thread, self.count = fd, path, thread, 1


_registry_lock = threading.Lock()
_held: dict[tuple[int, int], _Held] = {}


def lock_run_folder(folder: str | Path) -> RunLock:
    """Create `folder` if needed and take its run lock.

    Raises `RunFolderInUse` when another run holds it and `RecordError` when the folder
    cannot be created or written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        st = os.stat(folder)
    except OSError as exc:
        raise RecordError(exc.errno, f"{folder}: cannot create the run folder ({exc.strerror or exc})") from None
    key = (st.st_dev, st.st_ino)
    with _registry_lock:
        held = _held.get(key)
        if held is not None:
            if held.thread != threading.get_ident():
                raise RunFolderInUse(f"{folder} is in use by another run in this process (pid {os.getpid()}); "
                                     "give each run its own folder")
            held.count += 1
            return RunLock(folder, key)
        path = folder / LOCK_FILE
        fd = _take(folder, path)
        _held[key] = _Held(fd, path, threading.get_ident())
    return RunLock(folder, key)


def _take(folder: Path, path: Path) -> int:
    while True:
        try:
            # read-only: an open write handle would keep the file system from being remounted read-only
            fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise RecordError(exc.errno, f"{folder}: cannot write in the run folder ({exc.strerror or exc})") \
                from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise RecordError(exc.errno, f"{folder}: cannot lock the run folder ({exc.strerror})") from None
            raise RunFolderInUse(f"{folder} is in use by another guiagent run ({_owner(path)}); wait for it to "
                                 "end or choose another folder") from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:  # the previous owner removed the file between our open and our lock
            os.close(fd)
            continue
        try:
            with open(path, "w", encoding="ascii") as fh:  # a short-lived writer; the lock stays on `fd`
                fh.write(f"{os.getpid()}\n")
        except OSError as exc:
            os.close(fd)
            raise RecordError(exc.errno, f"{folder}: cannot write in the run folder ({exc.strerror or exc})") \
                from None
        return fd


def _owner(path: Path) -> str:
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        pid = ""
    return f"pid {pid}" if pid.isdigit() else "pid unknown"
