"""Labelled frames on disk: extended XYZ (``.xyz``/``.extxyz``) and ASE databases (``.db``).

Energies, forces and stresses travel as the results of a
:class:`~ase.calculators.singlepoint.SinglePointCalculator` (energy in eV, forces in eV/Å,
stress in eV/Å³ with ASE's sign convention); ``atoms.info`` keys (e.g. ``source``) are kept.
"""
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from ..errors import StructureError
from ..io import check_frames

__all__ = ["read_frames", "write_frames", "append_frame", "frame_labels", "with_labels"]

_XYZ = {".xyz", ".extxyz"}
_DB = {".db"}
LABEL_KEYS = ("energy", "forces", "stress")


def _kind(path):
    suffix = Path(path).suffix.lower()
    if suffix in _XYZ:
        return "extxyz"
    if suffix in _DB:
        return "db"
    raise StructureError(f"{path}: unsupported frame file (use .xyz/.extxyz or .db)")


def with_labels(atoms, energy=None, forces=None, stress=None, info=None):
    """Return a copy of ``atoms`` carrying the given labels as single-point results.

    Parameters
    ----------
    atoms : ase.Atoms
    energy : float, optional
        Total potential energy (eV).
    forces : array_like, shape (N, 3), optional
        Forces (eV/Å).
    stress : array_like, shape (6,) or (3, 3), optional
        Stress (eV/Å³), ASE sign convention.
    info : dict, optional
        Extra ``atoms.info`` entries.
    """
    out = atoms.copy()
    out.calc = None
    if info:
        out.info.update(info)
    results = {}
    if energy is not None:
        results["energy"] = float(energy)
        results["free_energy"] = float(energy)
    if forces is not None:
        results["forces"] = np.asarray(forces, dtype=float).reshape(len(out), 3)
    if stress is not None:
        stress = np.asarray(stress, dtype=float)
        if stress.shape == (3, 3):
            from ase.stress import full_3x3_to_voigt_6_stress

            stress = full_3x3_to_voigt_6_stress(stress)
        results["stress"] = stress.reshape(6)
    out.calc = SinglePointCalculator(out, **results)
    return out


def frame_labels(atoms):
    """Return the labels stored on ``atoms`` as a dict with keys among ``energy``, ``forces``, ``stress``."""
    calc = atoms.calc
    if calc is None:
        return {}
    return {k: calc.results[k] for k in LABEL_KEYS if k in calc.results}


def read_frames(path):
    """Read every frame of an extxyz file or an ASE database.

    Parameters
    ----------
    path : str or path-like
        ``.xyz``/``.extxyz`` or ``.db``.

    Returns
    -------
    list of ase.Atoms
        Labels (if any) are available through ``atoms.get_potential_energy()`` etc.

    Raises
    ------
    StructureError
        Missing, unreadable or unsupported file, or one with non-finite numbers (the message
        names the file and the frame).
    """
    path = Path(path)
    kind = _kind(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such frame file")
    try:
        if kind == "extxyz":
            from ase.io import read

            return check_frames(list(read(str(path), index=":", format="extxyz")), path)
        from ase.db import connect

        frames = []
        with connect(str(path)) as db:
            for row in db.select():
                atoms = row.toatoms()
                atoms.info = dict(row.key_value_pairs)
                frames.append(atoms)
        return check_frames(frames, path)
    except StructureError:
        raise
    except Exception as exc:
        raise StructureError(f"{path}: cannot read frames ({exc})") from exc


def append_frame(atoms, path):
    """Append one (labelled) frame to an extxyz file or ASE database, creating it if needed."""
    if not isinstance(atoms, Atoms):
        raise StructureError(f"{path}: can only store ase.Atoms, got {type(atoms).__name__}")
    kind = _kind(path)
    if kind == "extxyz":
        from ase.io import write

        with open(path, "a") as handle:
            write(handle, atoms, format="extxyz")
            handle.flush()
    else:
        from ase.db import connect

        info = {k: v for k, v in atoms.info.items() if isinstance(v, (int, float, str, bool))}
        with connect(str(path)) as db:
            db.write(atoms, key_value_pairs=info)


def write_frames(frames, path):
    """Write ``frames`` (a list of ``Atoms``) to a new extxyz file or ASE database (overwritten)."""
    path = Path(path)
    _kind(path)
    if path.exists():
        path.unlink()
    for atoms in frames:
        append_frame(atoms, path)
