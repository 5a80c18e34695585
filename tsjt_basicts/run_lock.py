"""One run at a time in a run folder: an exclusive lock file holding the running process's id.

    with run_lock(folder):      # raises RunLocked naming the lock file and the running pid
        train(...)

The lock is ``<folder>/run.lock``, created with ``O_CREAT | O_EXCL`` (atomic on local file
systems) and removed when the block ends. A lock left by a process that no longer runs on this
machine (killed, out of memory) is taken over; one written on another host is respected.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from typing import Iterator

from tsjt_basicts.errors import UserError

LOCK_FILE = "run.lock"
WRITE_GRACE_S = 10.0  # an empty lock file this young is being written, not stale


class RunLocked(UserError):
    """Another process is running in the same run folder."""


def process_is_running(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine (one of another user counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_owner(path: str) -> tuple[int, str] | None:
    """``(pid, host)`` written in lock file ``path``; None when it is gone, empty or garbled."""
    try:
        with open(path) as f:
            pid, host = f.read().split()
        return int(pid), host
    except (FileNotFoundError, ValueError):
        return None


def live_holder(path: str) -> str | None:
    """Who holds lock file ``path`` ("process 12 on host"), or None when the lock is stale.

    A lock of another host cannot be checked and counts as live; an unreadable one counts as live
    while it is young (its writer may be between creating and writing it).
    """
    owner = read_owner(path)
    if owner is None:
        try:
            young = time.time() - os.path.getmtime(path) < WRITE_GRACE_S
        except FileNotFoundError:
            return None
        return "a process that is just starting" if young else None
    pid, host = owner
    if host != socket.gethostname() or process_is_running(pid):
        return f"process {pid} on {host}"
    return None


def try_create(path: str) -> bool:
    """Create lock file ``path`` holding this process's id and host; False if it already exists."""
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as f:
        f.write(f"{os.getpid()} {socket.gethostname()}\n")
    return True


def remove_stale(path: str) -> None:
    """Move a dead process's lock aside and delete it; a lock that turns out to be live is put back."""
    aside = f"{path}.stale.{os.getpid()}"
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another process took it over first
        return
    if live_holder(aside):  # a live lock was made between our check and the rename
        try:
            os.link(aside, path)
        except FileExistsError:
            pass
    os.unlink(aside)


def acquire(folder: str, attempts: int = 3) -> str:
    """Take the lock of ``folder`` (created if absent); returns its path or raises :class:`RunLocked`."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, LOCK_FILE)
    for _ in range(attempts):
        if try_create(path):
            return path
        holder = live_holder(path)
        if holder:
            raise RunLocked(
                f"{path} says {holder} is running this config; wait for it to finish (or stop it), "
                f"or delete the lock file if no run of this config is going on"
            )
        remove_stale(path)
    raise RunLocked(f"could not take {path}: other processes keep taking it; run this config once at a time")


def release(path: str) -> None:
    """Remove the lock file ``path`` if this process holds it."""
    owner = read_owner(path)
    if owner is not None and owner[0] == os.getpid():
        os.unlink(path)


@contextmanager
def run_lock(folder: str) -> Iterator[str]:
    """Hold the lock of run folder ``folder`` for the block; yields the lock file's path."""
    path = acquire(folder)
    try:
        yield path
    finally:
        release(path)
