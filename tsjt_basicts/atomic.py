"""Writes that never leave a half-written file behind: a temporary file beside the target, renamed
onto it (``os.replace`` is atomic on one file system), so a reader, or a second suite process
writing the same leaderboard, sees the old file or the new one, never a mix."""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(temporary_path)`` beside ``path`` (one temporary per process), then rename it onto
    ``path``; returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
    return path


def write_text(path: Path, text: str) -> Path:
    """``text`` into ``path``, atomically."""
    return write_atomically(path, lambda partial: partial.write_text(text))
