"""Periodic neighbour lists shared by the calculator and the analysis modules.

Thin wrapper around `vesin <https://github.com/Luthaf/vesin>`_ (full list, both directions,
any triclinic cell, cells smaller than twice the cutoff handled through multiple images).
Convention, as in ASE: the vector from ``i`` to ``j`` is
``positions[j] - positions[i] + S @ cell`` with integer image shifts ``S``.
"""
import numpy as np
from vesin import NeighborList

from .errors import StructureError

__all__ = ["neighbor_list", "VerletList", "check_finite", "atom_labels"]


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
    bad = np.flatnonzero(~np.isfinite(np.asarray(atoms.positions, dtype=float)).all(axis=1))
    if bad.size:
        raise StructureError(
            f"non-finite position of {bad.size} atom(s) (of {len(atoms)}): {atom_labels(atoms, bad)}"
        )
    if np.any(atoms.pbc) and not np.isfinite(atoms.cell[:]).all():
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
    nl = NeighborList(cutoff=float(cutoff), full_list=True)
    return tuple(
        nl.compute(points=positions, box=cell, periodic=periodic, quantities=quantities)
    )


class VerletList:
    """The full neighbour list of :func:`neighbor_list`, rebuilt only when atoms have moved.

    Pairs within ``cutoff + skin`` are kept as candidates; each call recomputes their distances
    and returns those within ``cutoff``. The candidates are rebuilt when the number of atoms,
    the periodicity or the cell changes (any change: constant-pressure runs rebuild at every
    call), or when an atom has moved more than ``skin / 2`` since the last rebuild, so no pair
    within ``cutoff`` is ever missed. The pairs are returned sorted by ``(i, j, S)``: the
    result depends only on the current positions and cell, not on when the list was rebuilt
    (a resumed MD run sees the same edge order as an uninterrupted one).

    Parameters
    ----------
    cutoff : float
        Cut-off radius in Å.
    skin : float
        Extra search radius of the candidate list in Å.
    """

    def __init__(self, cutoff, skin=0.5):
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self._reference = None  # positions, cell and pbc of the last rebuild
        self._pairs = None  # candidates: [i, j] (int64), S, and S @ cell (Å)

    def _rebuild(self, atoms):
        i, j, shifts = neighbor_list(atoms, self.cutoff + self.skin, "ijS")
        order = np.lexsort((shifts[:, 2], shifts[:, 1], shifts[:, 0], j, i))
        pairs = np.stack((i, j)).astype(np.int64)[:, order]
        shifts = shifts[order]
        cell = np.array(atoms.cell[:], dtype=np.float64)
        self._pairs = (pairs, shifts, shifts @ cell)
        self._reference = (np.array(atoms.positions, dtype=np.float64), cell, atoms.pbc.copy())

    def _stale(self, atoms):
        if self._reference is None:
            return True
        positions, cell, pbc = self._reference
        if len(atoms) != len(positions) or not np.array_equal(atoms.pbc, pbc):
            return True
        if not np.array_equal(atoms.cell[:], cell):
            return True
        moved = atoms.positions - positions
        # written so that NaN positions also rebuild (and neighbor_list then raises)
        return not np.einsum("ij,ij->i", moved, moved).max(initial=0.0) <= (self.skin / 2) ** 2

    def compute(self, atoms, quantities="ijSd"):
        """Pairs of ``atoms`` within ``cutoff``, as :func:`neighbor_list` returns them.

        Parameters
        ----------
        atoms : ase.Atoms
            Structure; periodic directions are taken from ``atoms.pbc``.
        quantities : str
            Any of ``i``, ``j``, ``S``, ``D`` (vector j − i in Å), ``d`` (distance in Å).

        Returns
        -------
        tuple of numpy.ndarray
            One array per requested letter, pairs sorted by ``(i, j, S)`` (``i``, ``j`` int64).

        Raises
        ------
        StructureError
            As :func:`neighbor_list`.
        """
        if self._stale(atoms):
            self._rebuild(atoms)
        pairs, shifts, shift_vectors = self._pairs
        positions = atoms.positions
        vectors = np.take(positions, pairs[1], axis=0)  # np.take: 3x faster than indexing
        vectors -= np.take(positions, pairs[0], axis=0)
        vectors += shift_vectors
        squared = np.einsum("ij,ij->i", vectors, vectors)
        keep = np.flatnonzero(squared < self.cutoff**2)
        i, j = np.take(pairs, keep, axis=1)
        values = {"i": i, "j": j}
        for q in quantities:
            if q == "S":
                values[q] = np.take(shifts, keep, axis=0)
            elif q == "D":
                values[q] = np.take(vectors, keep, axis=0)
            elif q == "d":
                values[q] = np.sqrt(np.take(squared, keep))
        return tuple(values[q] for q in quantities)
