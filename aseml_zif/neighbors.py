"""Periodic neighbour lists shared by the calculator and the analysis modules.

Thin wrapper around `vesin <https://github.com/Luthaf/vesin>`_ (full list, both directions,
any triclinic cell, cells smaller than twice the cutoff handled through multiple images).
Convention, as in ASE: the vector from ``i`` to ``j`` is
``positions[j] - positions[i] + S @ cell`` with integer image shifts ``S``.
:class:`aseml_zif.verlet.VerletList` gives the same pairs from a list reused between MD steps.
"""
import math

import numpy as np
from vesin import NeighborList

from .errors import StructureError

__all__ = ["neighbor_list", "check_finite", "all_finite", "atom_labels"]


def atom_labels(atoms, indices, limit=8):
    """Name atoms for a message: ``"Cu3, O7 and 5 more"`` (symbol and 0-based index).

    Parameters
    ----------
    atoms : ase.Atoms
        Structure the indices refer to.
    indices : sequence of int
        Atoms to name.
    limit : int
        Name at most this many; the rest are counted.
    """
    symbols = atoms.get_chemical_symbols()
    indices = [int(i) for i in indices]
    names = ", ".join(f"{symbols[i]}{i}" for i in indices[:limit])
    more = len(indices) - limit
    return names + (f" and {more} more" if more > 0 else "")


def all_finite(values):
    """Whether all ``values`` (array-like) are finite: one sum, and an element-wise check only
    when the sum is not finite (a NaN or infinity, or an overflow)."""
    if isinstance(values, float):
        return math.isfinite(values)
    values = np.asarray(values)
    return math.isfinite(np.add.reduce(values, axis=None)) or bool(np.isfinite(values).all())


def check_finite(atoms):
    """Raise :class:`~aseml_zif.errors.StructureError` on NaN or infinite coordinates.

    Parameters
    ----------
    atoms : ase.Atoms
        Structure whose positions (Å) and, when periodic, cell vectors (Å) are checked.

    Raises
    ------
    StructureError
        Naming the atoms with a non-finite position (symbol and 0-based index), or the cell.
    """
    positions = np.asarray(atoms.positions, dtype=float)
    if not all_finite(positions):
        bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
        raise StructureError(
            f"non-finite position of {bad.size} atom(s) (of {len(atoms)}): {atom_labels(atoms, bad)}"
        )
    if atoms.pbc.any() and not all_finite(atoms.cell.array):
        raise StructureError(f"non-finite cell vectors: {atoms.cell[:].tolist()}")


def neighbor_list(atoms, cutoff, quantities="ijSd"):
    """Full periodic neighbour list of ``atoms`` within ``cutoff``.

    Parameters
    ----------
    atoms : ase.Atoms
        Structure; periodic directions are taken from ``atoms.pbc``.
    cutoff : float
        Cut-off radius in Å.
    quantities : str
        Any of ``i`` (centre index), ``j`` (neighbour index), ``S`` (integer image shift,
        shape ``[n, 3]``), ``D`` (vector j − i in Å, ``[n, 3]``), ``d`` (distance in Å),
        in the order requested, as for :func:`ase.neighborlist.neighbor_list`.

    Returns
    -------
    tuple of numpy.ndarray
        One array per requested letter.

    Raises
    ------
    StructureError
        Mixed periodicity, a zero-volume periodic cell, or non-finite positions or cell
        (the message names the atoms).
    """
    return _vesin(atoms, cutoff, quantities, full_list=True)


def _vesin(atoms, cutoff, quantities, full_list):
    """:func:`neighbor_list`, also as a half list (each pair once) with ``full_list=False``."""
    check_finite(atoms)
    pbc = np.asarray(atoms.pbc, dtype=bool)
    if pbc.any() and not pbc.all():
        raise StructureError("mixed periodicity is not supported: use pbc=True or pbc=False")
    periodic = bool(pbc.all())
    cell = np.asarray(atoms.cell[:], dtype=np.float64)
    if periodic and abs(np.linalg.det(cell)) < 1e-9:
        raise StructureError("periodic structure with a zero-volume cell")
    if not periodic:
        cell = np.zeros((3, 3))
    positions = np.ascontiguousarray(atoms.positions, dtype=np.float64)
    nl = NeighborList(cutoff=float(cutoff), full_list=full_list)
    return tuple(
        nl.compute(points=positions, box=cell, periodic=periodic, quantities=quantities)
    )
