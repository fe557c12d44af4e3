"""Periodic neighbour lists shared by the calculator and the analysis modules.

Thin wrapper around `vesin <https://github.com/Luthaf/vesin>`_ (full list, both directions,
any triclinic cell, cells smaller than twice the cutoff handled through multiple images).
Convention, as in ASE: the vector from ``i`` to ``j`` is
``positions[j] - positions[i] + S @ cell`` with integer image shifts ``S``. :class:`VerletList`
gives the same pairs from a list reused between MD steps.
"""
import math
from dataclasses import dataclass

import numpy as np
from vesin import NeighborList

from .errors import StructureError

__all__ = ["neighbor_list", "VerletList", "check_finite", "all_finite", "atom_labels"]


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


class VerletList:
    """The full neighbour list of :func:`neighbor_list`, rebuilt only when atoms have moved.

    Pairs within ``cutoff + skin`` are kept as candidates (each pair once); each call returns
    those within ``cutoff``, in both directions. The candidates are rebuilt when the number of
    atoms or the periodicity changes, or once ``2 δ + (cutoff + skin) ε > skin``, with ``δ``
    the largest displacement of an atom since the last rebuild (beyond the affine deformation
    of the cell) and ``ε`` the norm of the strain of the cell since then (0 at constant volume
    and shape): no pair within ``cutoff`` is ever missed. The order of the pairs depends only
    on the current positions and cell, not on when the list was rebuilt (a resumed MD run sees
    the same edge order as an uninterrupted one): first each pair as ``(i, j, S)`` with
    ``i < j`` (or ``i == j`` and the first non-zero component of ``S`` positive), sorted, then
    the same pairs reversed, ``(j, i, -S)``.

    While the cell stays the same, the distances of all candidates are evaluated only every few
    calls: in between, as long as no atom has moved by more than ``δ ≤ shell / 2`` since, only
    the candidates that were within ``2 δ`` of the cut-off are evaluated again; the others
    cannot have crossed it. The pairs found are the same as with all distances evaluated, bit
    for bit (the same operations on the same numbers).

    Parameters
    ----------
    cutoff : float
        Cut-off radius in Å.
    skin : float
        Extra search radius of the candidate list in Å. With 1 Å a 272-atom ZIF-4 cell at a
        4 Å cut-off is rebuilt every ~40 MD steps of 0.5 fs at 300 K, every ~13 at 1500 K.
    shell : float
        Half-width in Å of the band around the cut-off whose candidates may be evaluated again
        between full evaluations of all candidates.

    Attributes
    ----------
    generation : int
        Number of rebuilds so far: the indices given by :meth:`within` refer to the
        :attr:`candidates` of that generation.
    """

    #: slack (Å) for the round-off of distances and displacements in the shell test
    _ROUND_OFF = 1e-6

    def __init__(self, cutoff, skin=1.0, shell=1.0):
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.shell = float(shell)
        self.generation = 0
        self._reference = None  # positions, fractional positions, cell and pbc of the last rebuild
        self._pairs = None  # candidates: [i, j] (int64) and S
        self._shift_vectors = None  # cell and (S @ cell).T (Å) of the last call
        self._full = None  # the last evaluation of all candidates (_FullEvaluation)

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
        self._shift_vectors = self._full = None
        self.generation += 1
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

    @property
    def candidates(self):
        """The candidate pairs ``[i, j]`` (int64, shape ``(2, n)``) and their shifts ``S``."""
        return self._pairs

    def distances(self, atoms, index):
        """Distances (Å) in ``atoms`` of the candidates ``index`` (of the last :meth:`within`)."""
        positions = np.array(atoms.positions.T, dtype=np.float64, order="C")
        return np.sqrt(self._vectors(positions, index)[1])

    def _vectors(self, positions, index=None):
        """Vectors j − i (Å, as x, y, z rows) and squared lengths of the candidates ``index``
        (all when ``None``) for ``positions`` given as x, y, z rows."""
        pairs = self._pairs[0] if index is None else np.take(self._pairs[0], index, axis=1)
        shift_vectors = self._shift_vectors[1]
        vectors = np.take(positions, pairs[1], axis=1)
        vectors -= np.take(positions, pairs[0], axis=1)
        vectors += shift_vectors if index is None else np.take(shift_vectors, index, axis=1)
        squared = vectors[0] * vectors[0]
        squared += vectors[1] * vectors[1]
        squared += vectors[2] * vectors[2]
        return vectors, squared

    def within(self, atoms):
        """Indices of the candidates within ``cutoff`` of each other in ``atoms`` (sorted).

        Rebuilds the candidates first when needed (see :attr:`generation`). While the same
        candidates are within the cut-off, the same array object is returned (do not modify it).

        Raises
        ------
        StructureError
            As :func:`neighbor_list`.
        """
        # positions as x, y, z rows (a copy): the fastest layout for these numpy calls
        positions = np.array(atoms.positions.T, dtype=np.float64, order="C")
        last = self._full
        # the same periodicity and cell, bit for bit (the cell of a full evaluation is finite)
        if (last is not None and positions.shape == last.positions.shape
                and atoms.pbc.tobytes() == last.pbc and atoms.cell.array.tobytes() == last.cell_bytes):
            moved = positions - last.positions
            moved *= moved
            # x² + y² + z² of each atom (the reduction adds the rows in order); NaN stays NaN
            largest = math.sqrt(np.maximum.reduce(np.add.reduce(moved, axis=0), initial=0.0))
            # no pair can have crossed the cut-off band, nor any atom the skin (then not stale)
            if 2 * largest + self._ROUND_OFF <= self.shell and (
                    2 * (largest + last.since_rebuild) + self._ROUND_OFF <= self.skin
                    or not self._stale(atoms)):
                return self._band_test(positions, last, largest)
        if self._stale(atoms):
            self._rebuild(atoms)
        cell = np.array(atoms.cell[:], dtype=np.float64)
        if self._shift_vectors is None or not np.array_equal(self._shift_vectors[0], cell):
            self._shift_vectors = (cell, np.ascontiguousarray((self._pairs[1] @ cell).T))
        return self._full_test(positions, cell)

    def _full_test(self, positions, cell):
        """:meth:`within` from the distances of all candidates; remember the band around the
        cut-off for the next calls, sorted by distance to the cut-off."""
        squared = self._vectors(positions)[1]
        inside = squared < self.cutoff**2
        margin = np.abs(np.sqrt(squared) - self.cutoff)
        band = np.flatnonzero(margin <= self.shell + self._ROUND_OFF)
        band = band[np.argsort(margin[band], kind="stable")]
        rebuilt_at, _, rebuild_cell, _ = self._reference
        since_rebuild = np.inf  # the Cartesian displacements bound the staleness only in its cell
        if np.array_equal(cell, rebuild_cell):
            moved = positions - rebuilt_at.T
            moved *= moved
            since_rebuild = np.sqrt((moved[0] + moved[1] + moved[2]).max(initial=0.0))
        self._full = _FullEvaluation(
            positions=positions, cell_bytes=cell.tobytes(),
            pbc=np.asarray(self._reference[3], dtype=bool).tobytes(),
            since_rebuild=since_rebuild, band=band,
            band_margin=margin[band], band_i=self._pairs[0][0].take(band),
            band_j=self._pairs[0][1].take(band),
            band_shift_vectors=np.take(self._shift_vectors[1], band, axis=1),
            inside=inside, mask=inside.tobytes(), keep=np.flatnonzero(inside))
        return self._full.keep

    def _band_test(self, positions, last, largest):
        """:meth:`within` from the distances of the candidates of the band that may have
        crossed the cut-off since the last full evaluation (atoms moved by ``largest`` Å)."""
        n = int(last.band_margin.searchsorted(2 * largest + self._ROUND_OFF, side="right"))
        vectors = positions.take(last.band_j[:n], axis=1)
        vectors -= positions.take(last.band_i[:n], axis=1)
        vectors += last.band_shift_vectors[:, :n]
        vectors *= vectors
        mask = last.inside.copy()
        # squared distances: the reduction adds the rows x², y², z² in order
        mask[last.band[:n]] = np.add.reduce(vectors, axis=0) < self.cutoff**2
        key = mask.tobytes()
        if key != last.mask:
            last.mask, last.keep = key, mask.nonzero()[0]
        return last.keep

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
        keep = self.within(atoms)
        pairs, shifts = self._pairs
        i, j = np.take(pairs, keep, axis=1)
        values = {"i": np.concatenate((i, j)), "j": np.concatenate((j, i))}
        if "S" in quantities:
            kept = np.take(shifts, keep, axis=0)
            values["S"] = np.concatenate((kept, -kept))
        if "D" in quantities or "d" in quantities:
            positions = np.array(atoms.positions.T, dtype=np.float64, order="C")
            vectors, squared = self._vectors(positions, keep)
            values["D"] = np.concatenate((vectors.T, -vectors.T))
            values["d"] = np.tile(np.sqrt(squared), 2)
        return tuple(values[q] for q in quantities)


@dataclass
class _FullEvaluation:
    """What :meth:`VerletList.within` keeps of its last evaluation of all candidates."""

    positions: np.ndarray  # (3, N), Å
    cell_bytes: bytes  # of the cell (float64, Å)
    pbc: bytes  # of the periodicity (bool)
    since_rebuild: float  # largest displacement (Å) since the rebuild; inf in another cell
    band: np.ndarray  # candidates within ``shell`` of the cut-off, nearest to it first
    band_margin: np.ndarray  # their distance to the cut-off (Å), ascending
    band_i: np.ndarray  # their first atoms
    band_j: np.ndarray  # their second atoms
    band_shift_vectors: np.ndarray  # (3, len(band)), Å
    inside: np.ndarray  # mask of the candidates inside the cut-off
    mask: bytes  # of the mask of the candidates inside the cut-off at the last call
    keep: np.ndarray  # the answer of the last call: mask.nonzero()
