"""The neighbour list of :func:`aseml_zif.neighbors.neighbor_list`, reused between MD steps."""
import math
from dataclasses import dataclass

import numpy as np

from .neighbors import _vesin

__all__ = ["VerletList", "squared_limit"]


def squared_limit(cutoff, largest):
    """The smallest float64 ``s`` that fails ``sqrt(s) < cutoff and s < largest**2``: for
    squared distances ``d²``, ``d² < s`` is that test of the distance ``d = sqrt(d²)``, bit for
    bit (``sqrt`` is correctly rounded and increasing, so the test holds below some ``s``).

    Parameters
    ----------
    cutoff, largest : float
        Cut-off radii in Å.
    """
    largest_squared = largest**2

    def passes(s):
        return s < largest_squared and math.sqrt(s) < cutoff

    if not (cutoff > 0 and largest > 0):  # no distance passes (also for NaN)
        return 0.0
    s = min(cutoff * cutoff, largest_squared)  # a few ulps from the answer
    while passes(s):
        s = math.nextafter(s, math.inf)
    while not passes(math.nextafter(s, -math.inf)):
        s = math.nextafter(s, -math.inf)
    return s


class VerletList:
    """The full neighbour list of :func:`~aseml_zif.neighbors.neighbor_list`, rebuilt only
    when atoms have moved.

    Pairs within ``cutoff + skin`` are kept as candidates (each pair once); each call returns
    those within ``cutoff``, in both directions. The candidates are rebuilt when the number of
    atoms or the periodicity changes, or once ``2 δ + (cutoff + skin) ε > skin``, with ``δ``
    the largest displacement of an atom since the last rebuild (beyond the affine deformation
    of the cell) and ``ε`` the norm of the strain of the cell since then (0 at constant volume
    and shape): no pair within ``cutoff`` is ever missed. With ``pair_cutoffs`` the test is
    made for each pair of types ``a, b``: ``δ_a + δ_b + (cutoff + skin) ε > cutoff + skin −
    c_ab``, with ``δ_a`` the largest displacement of an atom of type ``a`` and ``c_ab`` the
    longer cut-off of the two directions (at most ``cutoff``): pairs with short cut-offs
    leave their atoms more room (H pairs at 3 Å in a 5 Å list with a 1.5 Å skin: 1.75 Å per
    H instead of 0.75 Å), so that fast light atoms rebuild the list less often. The order of
    the pairs depends only on the current positions and cell, not on when the list was
    rebuilt (a resumed MD run sees the same edge order as an uninterrupted one): first each
    pair as ``(i, j, S)`` with ``i < j`` (or ``i == j`` and the first non-zero component of
    ``S`` positive), sorted, then the same pairs reversed, ``(j, i, -S)``.

    With ``pair_cutoffs`` (a model's per-edge-type cut-offs), :meth:`edges` gives the
    candidates within the cut-off of each direction instead: the edge ``i → j`` is kept when
    ``d < pair_cutoffs[type_i, type_j]`` and ``d² < cutoff²``, each pair tested against one
    limit on ``d²`` (:func:`squared_limit`) for each direction (one for a symmetric table).

    While the cell stays the same, the distances of all candidates are evaluated only every few
    calls: in between, as long as no atom has moved by more than ``δ ≤ shell / 2`` since, only
    the candidates that were within ``2 δ`` of a cut-off are evaluated again; the others
    cannot have crossed it. The pairs found are the same as with all distances evaluated, bit
    for bit (the same operations on the same numbers).

    Parameters
    ----------
    cutoff : float
        Cut-off radius in Å.
    skin : float
        Extra search radius of the candidate list in Å. With 1 Å a 272-atom ZIF-4 cell at a
        4 Å cut-off for all pairs is rebuilt every ~40 MD steps of 0.5 fs at 300 K, every ~13
        at 1500 K.
    shell : float
        Half-width in Å of the band around the cut-off whose candidates may be evaluated again
        between full evaluations of all candidates.
    pair_cutoffs : array_like, optional
        Cut-off (Å) of the edge ``i → j`` by the types of ``i`` and ``j`` (square table).

    Attributes
    ----------
    generation : int
        Number of rebuilds so far: the indices given by :meth:`within` refer to the
        :attr:`candidates` of that generation.
    """

    #: slack (Å) for the round-off of distances and displacements in the shell test
    _ROUND_OFF = 1e-6

    def __init__(self, cutoff, skin=1.0, shell=1.0, pair_cutoffs=None):
        self.cutoff = float(cutoff)
        self.skin = float(skin)
        self.shell = float(shell)
        self.generation = 0
        # the limits of d² and cut-offs of the directions: of every pair, or by pair of types
        uniform = ((self.cutoff**2, self.cutoff),)
        self._limits = (None, None, uniform)  # generation and types (bytes) they are made for
        self._table = self._allowances = None
        if pair_cutoffs is not None:
            table = np.array(pair_cutoffs, dtype=np.float64)
            limits = np.vectorize(lambda c: squared_limit(c, self.cutoff))(table)
            table = np.minimum(table, self.cutoff)  # the cut-offs that bound the band
            self._table = ((limits, table),) if np.array_equal(limits, limits.T) else (
                (limits, table), (limits.T, table.T))
            # how far the two atoms of a pair of types may move towards each other between
            # rebuilds (Å), not counting the strain: cutoff + skin − the longer cut-off (a NaN
            # cut-off keeps no edge: the full cutoff + skin)
            longer = np.nan_to_num(np.maximum(table, table.T), nan=0.0)
            self._allowances = self.cutoff + self.skin - longer
        self._groups = (None, ())  # types (bytes) and the atoms of each type
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

    def _stale(self, atoms, types, type_bytes):
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
        squared = moved.sum(axis=1)
        stretch = (self.cutoff + self.skin) * strain
        # written so that NaN positions also rebuild (and neighbor_list then raises)
        if self._allowances is None:
            return not 2 * np.sqrt(squared.max(initial=0.0)) + stretch <= self.skin
        largest = np.sqrt([squared.take(group).max(initial=0.0)
                           for group in self._atoms_by_type(types, type_bytes)])
        return not np.all(largest[:, None] + largest[None, :] + stretch <= self._allowances)

    def _atoms_by_type(self, types, type_bytes):
        """Indices of the atoms of each type of ``pair_cutoffs`` (cached for the last types).

        Raises
        ------
        ValueError
            A type outside the rows of ``pair_cutoffs`` (its atoms would be in no group).
        """
        if self._groups[0] != type_bytes:
            count = len(self._allowances)
            if types.size and not (types.min() >= 0 and types.max() < count):
                raise ValueError(f"atom types must lie in 0..{count - 1}, the rows of "
                                 f"pair_cutoffs (got {types.min()}..{types.max()})")
            self._groups = (type_bytes, tuple(np.flatnonzero(types == t) for t in range(count)))
        return self._groups[1]

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
        A list with ``pair_cutoffs`` answers :meth:`edges` instead.

        Raises
        ------
        StructureError
            As :func:`~aseml_zif.neighbors.neighbor_list`.
        """
        if self._table is not None:
            raise ValueError("a VerletList with pair_cutoffs answers edges(atoms, types)")
        return self._inside(atoms, None)[0]

    def edges(self, atoms, types=None):
        """Indices of the candidates ``i, j`` within the cut-off of the edge ``i → j``, and of
        those within the cut-off of ``j → i`` (both sorted; the same array for a symmetric
        ``pair_cutoffs`` table, or without one: :meth:`within`).

        Parameters
        ----------
        atoms : ase.Atoms
            Structure.
        types : numpy.ndarray, optional
            Index of every atom in ``pair_cutoffs`` (needed with it).

        Raises
        ------
        StructureError
            As :func:`~aseml_zif.neighbors.neighbor_list`.
        """
        if self._table is not None and types is None:
            raise ValueError("a VerletList with pair_cutoffs needs the types of the atoms")
        keep = self._inside(atoms, None if self._table is None else np.asarray(types))
        return keep[0], keep[-1]

    def _inside(self, atoms, types):
        """Sorted indices of the candidates within the cut-off of each direction."""
        # positions as x, y, z rows (a copy): the fastest layout for these numpy calls
        positions = np.array(atoms.positions.T, dtype=np.float64, order="C")
        last = self._full
        type_bytes = None if types is None else types.tobytes()
        stale = None  # not yet known
        # the same periodicity, cell (bit for bit; that of a full evaluation is finite) and types
        if (last is not None and positions.shape == last.positions.shape
                and atoms.pbc.tobytes() == last.pbc and type_bytes == last.types
                and atoms.cell.array.tobytes() == last.cell_bytes):
            moved = positions - last.positions
            moved *= moved
            # x² + y² + z² of each atom (the reduction adds the rows in order); NaN stays NaN
            largest = math.sqrt(np.maximum.reduce(np.add.reduce(moved, axis=0), initial=0.0))
            # no pair can have crossed the cut-off band, nor any atom the skin (then not stale)
            if 2 * largest + self._ROUND_OFF <= self.shell:
                stale = (2 * (largest + last.since_rebuild) + self._ROUND_OFF > self.skin
                         and self._stale(atoms, types, type_bytes))
                if not stale:
                    return self._band_test(positions, last, largest)
        if stale is None:
            stale = self._stale(atoms, types, type_bytes)
        if stale:
            self._rebuild(atoms)
        cell = np.array(atoms.cell[:], dtype=np.float64)
        if self._shift_vectors is None or not np.array_equal(self._shift_vectors[0], cell):
            self._shift_vectors = (cell, np.ascontiguousarray((self._pairs[1] @ cell).T))
        return self._full_test(positions, cell, self._limits_of(types, type_bytes), type_bytes)

    def _limits_of(self, types, type_bytes):
        """The limit of d² and the cut-off (Å) of each direction: numbers, or arrays over the
        candidates made from ``pair_cutoffs`` and ``types`` once per rebuild or new types."""
        generation, made_for, limits = self._limits
        if self._table is not None and (generation != self.generation or made_for != type_bytes):
            i, j = self._pairs[0]
            ti, tj = types[i], types[j]
            limits = tuple((squared[ti, tj], cutoffs[ti, tj]) for squared, cutoffs in self._table)
            self._limits = (self.generation, type_bytes, limits)
        return limits

    def _full_test(self, positions, cell, limits, type_bytes):
        """:meth:`_inside` from the distances of all candidates; remember the band around the
        cut-offs for the next calls, sorted by distance to the nearest cut-off."""
        squared = self._vectors(positions)[1]
        inside = tuple(squared < limit for limit, _ in limits)
        distance = np.sqrt(squared)
        margin = np.abs(distance - limits[0][1])
        for _, cutoff in limits[1:]:
            np.minimum(margin, np.abs(distance - cutoff), out=margin)
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
            pbc=np.asarray(self._reference[3], dtype=bool).tobytes(), types=type_bytes,
            since_rebuild=since_rebuild, band=band,
            band_margin=margin[band], band_i=self._pairs[0][0].take(band),
            band_j=self._pairs[0][1].take(band),
            band_shift_vectors=np.take(self._shift_vectors[1], band, axis=1),
            band_limits=tuple(limit.take(band) if isinstance(limit, np.ndarray) else limit
                              for limit, _ in limits),
            inside=inside, masks=[mask.tobytes() for mask in inside],
            keep=[np.flatnonzero(mask) for mask in inside])
        return self._full.keep

    def _band_test(self, positions, last, largest):
        """:meth:`_inside` from the distances of the candidates of the band that may have
        crossed a cut-off since the last full evaluation (atoms moved by ``largest`` Å)."""
        n = int(last.band_margin.searchsorted(2 * largest + self._ROUND_OFF, side="right"))
        vectors = positions.take(last.band_j[:n], axis=1)
        vectors -= positions.take(last.band_i[:n], axis=1)
        vectors += last.band_shift_vectors[:, :n]
        vectors *= vectors
        # squared distances: the reduction adds the rows x², y², z² in order
        squared = np.add.reduce(vectors, axis=0)
        tested = last.band[:n]
        for k, limit in enumerate(last.band_limits):
            mask = last.inside[k].copy()
            mask[tested] = squared < (limit[:n] if isinstance(limit, np.ndarray) else limit)
            key = mask.tobytes()
            if key != last.masks[k]:
                last.masks[k], last.keep[k] = key, mask.nonzero()[0]
        return last.keep

    def compute(self, atoms, quantities="ijSd"):
        """Pairs of ``atoms`` within ``cutoff``, as :func:`~aseml_zif.neighbors.neighbor_list`
        returns them.

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
            As :func:`~aseml_zif.neighbors.neighbor_list`.
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
    types: bytes  # of the types of the atoms (None without pair cut-offs)
    since_rebuild: float  # largest displacement (Å) since the rebuild; inf in another cell
    band: np.ndarray  # candidates within ``shell`` of a cut-off, nearest to one first
    band_margin: np.ndarray  # their distance to the nearest cut-off (Å), ascending
    band_i: np.ndarray  # their first atoms
    band_j: np.ndarray  # their second atoms
    band_shift_vectors: np.ndarray  # (3, len(band)), Å
    band_limits: tuple  # per direction, the limit of their d² (Å²): a number or per candidate
    inside: tuple  # per direction, mask of the candidates inside its cut-off
    masks: list  # per direction, bytes of that mask at the last call
    keep: list  # per direction, the answer of the last call: mask.nonzero()
