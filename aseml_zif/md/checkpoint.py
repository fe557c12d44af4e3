"""Atomic, durable checkpoint files (``.npz`` arrays + JSON metadata) and run settings (JSON).

A checkpoint (or ``run.json``) is written to a temporary file in the same directory, flushed
and fsync'ed, then renamed over the previous one (``os.replace`` is atomic on POSIX), and the
directory entry is fsync'ed: a process killed at any moment leaves the old or the new file, whole.
"""
import json
import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError

__all__ = [
    "write_checkpoint",
    "read_checkpoint",
    "write_json",
    "read_json",
    "fsync_directory",
]

_META = "__meta_json__"


def fsync_directory(directory):
    """Make renames inside ``directory`` durable."""
    fd = os.open(str(directory), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomically(path, write):
    """Fill a temporary file with ``write(fh)``, fsync it and rename it over ``path``."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        write(fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)


def write_checkpoint(path, arrays, meta):
    """Atomically write ``arrays`` (name -> array) and JSON-serialisable ``meta`` to ``path``."""
    payload = {name: np.asarray(value) for name, value in arrays.items()}
    payload[_META] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    _write_atomically(path, lambda fh: np.savez(fh, **payload))


def write_json(path, data):
    """Atomically write ``data`` as indented JSON to ``path`` (the run's ``run.json``)."""
    text = json.dumps(data, indent=1).encode()
    _write_atomically(path, lambda fh: fh.write(text))


def read_json(path):
    """Return the JSON content of ``path``, or ``None`` if there is none."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: unreadable run settings ({type(exc).__name__}: {exc})") from exc


def read_checkpoint(path):
    """Return ``(arrays, meta)`` from a checkpoint file, or ``None`` if there is none."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files if name != _META}
            meta = json.loads(bytes(data[_META]).decode())
    except Exception as exc:
        raise CheckpointError(f"{path}: unreadable checkpoint ({type(exc).__name__}: {exc})") from exc
    return arrays, meta
