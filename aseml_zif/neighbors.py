"""Periodic neighbour lists shared by the calculator and the analysis modules.

Thin wrapper around `vesin <https://github.com/Luthaf/vesin>`_ (full list, both directions,
any triclinic cell, cells smaller than twice the cutoff handled through multiple images).
Convention, as in ASE: the vector from ``i`` to ``j`` is
``positions[j] - positions[i] + S @ cell`` with integer image shifts ``S``. :class:`VerletList`
gives the same pairs from a list reused between MD steps.
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
    positions = np.asarray(atoms.positions, dtype=float)
    if not np.isfinite(positions).all():
        bad = np.flatnonzero(~np.isfinite(positions).all(axis=1))
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


class VerletList:
    """The full neighbour list of :func:`neighbor_list`, rebuilt only when atoms have moved.

    Pairs within ``cutoff + skin`` are kept as candidates (each pair once); each call
    recomputes their distances and returns those within ``cutoff``, in both directions. The
    candidates are rebuilt when the number of atoms or the periodicity changes, or once
    ``2 δ + (cutoff + skin) ε > skin``, with ``δ`` the largest displacement of an atom since
    the last rebuild (beyond the affine deformation of the cell) and ``ε`` the norm of the
    strain of the cell since then (0 at constant volume and shape): no pair within ``cutoff``
    is ever missed. The order of the pairs depends only on the current positions and cell, not
    on when the list was rebuilt (a resumed MD run sees the same edge order as an uninterrupted
    one): first each pair as ``(i, j, S)`` with ``i < j`` (or ``i == j`` and the first non-zero
    component of ``S`` positive), sorted, then the same pairs reversed, ``(j, i, -S)``.

    Parameters
    ----------
    cutoff : float
        Cut-off radius in Å.
    skin : float
        Extra search radius of the candidate list in Å. With 1 Å a 272-atom ZIF-4 cell at a
        4 Å cut-off is rebuilt every ~40 MD steps of 0.5 fs at 300 K, every ~13 at 1500 K.
    """

    def __init__(self, cutoff, skin=1.0):
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self._reference = None  # positions, fractional positions, cell and pbc of the last rebuild
        self._pairs = None  # candidates: [i, j] (int64) and S
        self._shift_vectors = None  # cell and (S @ cell).T (Å) of the last call

    def _rebuild(self, atoms):
        i, j, shifts = _vesin(atoms, self.cutoff + self.skin, "ijS", full_list=False)
        i, j, shifts = i.astype(np.int64), j.astype(np.int64), shifts.astype(np.int64)
        # one representative per pair, whatever vesin picked: i < j, or i == j and S > -S
        sign = np.zeros(len(i), dtype=np.int64)
        for k in (2, 1, 0):
            sign = np.where(shifts[:, k] != 0, np.sign(shifts[:, k]), sign)
        flip = (i > j) | ((i == j) & (sign < 0))
        i, j = np.where(flip, j, i), np.where(flip, i, j)
        shifts[flip] *= -1
        # sorted by (i, j, S) through one int64 key per pair (several times faster than lexsort)
        offset = shifts - shifts.min(initial=0)
        span = int(offset.max(initial=0)) + 1
        key = i * len(atoms) + j
        for k in range(3):
            key = key * span + offset[:, k]
        order = np.argsort(key)
        pairs = np.stack((i[order], j[order]))
        shifts = np.take(shifts, order, axis=0)
        self._pairs = (pairs, shifts)
        self._shift_vectors = None
        positions = np.array(atoms.positions, dtype=np.float64)
        cell = np.array(atoms.cell[:], dtype=np.float64)
        fractional = np.linalg.solve(cell.T, positions.T).T if atoms.pbc.all() else None
        self._reference = (positions, fractional, cell, atoms.pbc.copy())

    def _stale(self, atoms):
        if self._reference is None:
            return True
        positions, fractional, cell, pbc = self._reference
        if len(atoms) != len(positions) or not np.array_equal(atoms.pbc, pbc):
            return True
        now = atoms.cell[:]
        strain = 0.0
        if fractional is None or np.array_equal(now, cell):
            moved = atoms.positions - positions
        elif not abs(np.linalg.det(now)) > 1e-9:  # also NaN: neighbor_list will raise
            return True
        else:  # a new cell: displacements beyond its affine deformation, and the strain
            moved = (np.linalg.solve(now.T, atoms.positions.T).T - fractional) @ now
            strain = np.linalg.norm(np.linalg.solve(cell, now - cell))  # ≥ its largest stretch
        moved *= moved
        largest = np.sqrt(moved.sum(axis=1).max(initial=0.0))
        # written so that NaN positions also rebuild (and neighbor_list then raises)
        return not 2 * largest + (self.cutoff + self.skin) * strain <= self.skin

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
            One array per requested letter, in the order of the class description (``i``,
            ``j`` and ``S`` int64).

        Raises
        ------
        StructureError
            As :func:`neighbor_list`.
        """
        if self._stale(atoms):
            self._rebuild(atoms)
        pairs, shifts = self._pairs
        cell = np.array(atoms.cell[:], dtype=np.float64)
        if self._shift_vectors is None or not np.array_equal(self._shift_vectors[0], cell):
            self._shift_vectors = (cell, np.ascontiguousarray((shifts @ cell).T))
        shift_vectors = self._shift_vectors[1]
        # pair vectors as x, y, z rows: the fastest layout for these numpy calls
        positions = np.ascontiguousarray(atoms.positions.T)
        vectors = np.take(positions, pairs[1], axis=1)
        vectors -= np.take(positions, pairs[0], axis=1)
        vectors += shift_vectors
        squared = vectors[0] * vectors[0]
        squared += vectors[1] * vectors[1]
        squared += vectors[2] * vectors[2]
        keep = np.flatnonzero(squared < self.cutoff**2)
        i, j = np.take(pairs, keep, axis=1)
        values = {"i": np.concatenate((i, j)), "j": np.concatenate((j, i))}
        for q in quantities:
            if q == "S":
                kept = np.take(shifts, keep, axis=0)
                values[q] = np.concatenate((kept, -kept))
            elif q == "D":
                kept = np.take(vectors, keep, axis=1).T
                values[q] = np.concatenate((kept, -kept))
            elif q == "d":
                values[q] = np.tile(np.sqrt(np.take(squared, keep)), 2)
        return tuple(values[q] for q in quantities)
