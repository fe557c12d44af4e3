"""Normalise the ``frames`` argument of every analysis (one ``Atoms``, a sequence, or a file) and
pick evenly spread frames for the costly ones."""
from pathlib import Path

import numpy as np
from ase import Atoms

from ..errors import StructureError
from ..io import check_frames

__all__ = ["as_frame_list"]


def as_frame_list(frames, stride=1):
    """Return ``frames`` as a list of ``Atoms``, keeping every ``stride``-th frame.

    Parameters
    ----------
    frames : ase.Atoms, sequence of ase.Atoms, or str / path-like
        A single structure, a list (or ASE ``Trajectory``) of structures, or a file ASE reads
        with all its frames (``.traj``, extxyz, CIF, LAMMPS dump, ...).
    stride : int
        Keep frames ``0, stride, 2*stride, ...``.

    Raises
    ------
    StructureError
        Unreadable file (or one with non-finite numbers; the message names it), empty input,
        or an element that is not an ``Atoms``.
    """
    if stride < 1:
        raise StructureError(f"stride must be >= 1, got {stride}")
    if isinstance(frames, Atoms):
        frames = [frames]
    elif isinstance(frames, (str, Path)):
        from ase.io import read

        path = Path(frames)
        if not path.is_file():
            raise StructureError(f"{path}: no such trajectory file")
        try:
            frames = read(str(path), index=f"::{stride}")
        except Exception as exc:
            raise StructureError(f"{path}: cannot read frames ({exc})") from exc
        frames = check_frames(list(frames), path)
        if not frames:
            raise StructureError(f"{path}: no frames")
        stride = 1
    frames = list(frames)[::stride]
    if not frames:
        raise StructureError("no frames to analyse")
    for k, atoms in enumerate(frames):
        if not isinstance(atoms, Atoms):
            raise StructureError(f"frame {k} is a {type(atoms).__name__}, not an ase.Atoms")
    return frames


def _evenly_spaced(n, n_max):
    """Sorted indices of at most ``n_max`` of ``n`` frames, evenly spread from first to last."""
    return sorted(set(np.linspace(0, n - 1, min(n, n_max)).round().astype(int).tolist()))
