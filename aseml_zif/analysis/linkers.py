"""Building units of a Zn(Im)2 framework: imidazolate integrity, Zn coordination, Zn–Im net.

Imidazolates (C3N2H3) are identified from covalent bonds, each element pair with its own
distance criterion, not from one cut-off for everything: a linker is intact when its connected
organic fragment has the composition C3N2H3 and the imidazolate topology (a five-membered
N–C–N–C–C ring, each C carrying one H, no N–H, N–N or H–H bond). Zn–N bonds use the paper's
2.5 Å cut-off (Castel et al., Digital Discovery 3, 355 (2024), coordination analysis). This is
the check the paper used to spot linkers broken by the Allegro potential above 1300 K; it is
vectorised so that it can run every few MD steps as a watchdog (a few ms per 272-atom frame).
"""
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, connected_components

from ..errors import StructureError
from ..neighbors import neighbor_list

__all__ = ["find_linkers", "organic_bond_keys", "LinkerReport", "BrokenLinker",
           "DEFAULT_BOND_CUTOFFS"]

#: Covalent bond criteria (Å) between organic elements. In the crystal and the ten ab initio
#: glasses these bonds span C–H 1.02–1.19, C–N 1.29–1.49, C–C 1.33–1.47 Å, and the next
#: distances start at 2.0 Å, so the criteria sit well inside that gap. C–H allows 1.6 Å: in hot MD
#: (1000 K, demo model) an intact C–H was seen oscillating between 0.9 and 1.45 Å, and a live
#: watchdog must not stop a run on a vibration.
DEFAULT_BOND_CUTOFFS = {
    ("C", "C"): 1.8,
    ("C", "N"): 1.8,
    ("N", "N"): 1.8,
    ("C", "H"): 1.6,
    ("H", "N"): 1.35,
    ("H", "H"): 1.0,
}
#: Zn–N bond (coordination) cut-off of the paper, Å.
ZN_N_CUTOFF = 2.5

# element codes used internally
_OTHER, _H, _C, _N, _METAL = 0, 1, 2, 3, 4
_CODES = {"H": _H, "C": _C, "N": _N}


@dataclass(frozen=True)
class BrokenLinker:
    """An organic fragment that is not an intact imidazolate.

    Attributes
    ----------
    atoms : tuple of int
        Indices of the fragment's atoms.
    formula : str
        Its composition (e.g. ``"C3H3N2"`` for an opened ring, ``"C3H2N2"`` for a lost H).
    problem : str
        What is wrong, with atom indices and distances (Å).
    """

    atoms: tuple
    formula: str
    problem: str

    def to_dict(self):
        return {"atoms": list(self.atoms), "formula": self.formula, "problem": self.problem}


class LinkerReport:
    """Result of :func:`find_linkers` for one frame.

    Attributes
    ----------
    linkers : list of numpy.ndarray
        Atom indices of each intact imidazolate (8 atoms each), in order of their lowest index.
    broken : list of BrokenLinker
        One entry per organic fragment containing C or N that is not an intact imidazolate.
        A linker split into two pieces appears as two entries; two linkers fused by a new
        bond appear as one.
    metal_indices : numpy.ndarray
        Atom indices of the Zn nodes.
    coordination : numpy.ndarray
        Number of Zn–N bonds (≤ 2.5 Å) of each Zn, same order as ``metal_indices``.
    undercoordinated, overcoordinated : numpy.ndarray
        Atom indices of Zn with fewer / more than ``expected_coordination`` N neighbours.
    dangling_h : numpy.ndarray
        Atom indices of H atoms bonded to no C or N (alone or as H2).
    uncoordinated_n : numpy.ndarray
        N atoms of intact imidazolates bonded to no Zn (the free ends of a glass's
        under-coordinated sites).
    edges : numpy.ndarray, shape (E, 2)
        Zn–Im graph edges ``(zn_node, im_node)``: Zn nodes are ``0 .. n_metal-1`` (order of
        ``metal_indices``), imidazolate nodes ``n_metal + k`` for ``linkers[k]``.
    shifts : numpy.ndarray of int, shape (E, 3)
        Cell image of the imidazolate node seen from the Zn node in the home cell: walking
        along an edge Zn → Im adds ``shift``, Im → Zn subtracts it. A closed ring of the
        periodic net has shifts summing to zero.
    """

    def __init__(self, linkers, broken, metal_indices, coordination, expected_coordination,
                 dangling_h, uncoordinated_n, edges, shifts):
        self.linkers = linkers
        self.broken = broken
        self.metal_indices = metal_indices
        self.coordination = coordination
        self.expected_coordination = expected_coordination
        self.undercoordinated = metal_indices[coordination < expected_coordination]
        self.overcoordinated = metal_indices[coordination > expected_coordination]
        self.dangling_h = dangling_h
        self.uncoordinated_n = uncoordinated_n
        self.edges = edges
        self.shifts = shifts

    @property
    def n_intact(self):
        """Number of intact imidazolates."""
        return len(self.linkers)

    @property
    def n_metal(self):
        """Number of Zn nodes."""
        return len(self.metal_indices)

    @property
    def intact(self):
        """True when no linker is broken and no H dangles (Zn coordination is not judged:
        under-coordinated Zn are normal in a glass)."""
        return not self.broken and len(self.dangling_h) == 0

    @property
    def mean_coordination(self):
        """Mean number of Zn–N bonds per Zn."""
        return float(self.coordination.mean()) if len(self.coordination) else 0.0

    def summary(self):
        """One human-readable paragraph: counts, then each problem with its atom indices."""
        lines = [
            f"{self.n_intact} intact imidazolates, {len(self.broken)} broken fragments; "
            f"{self.n_metal} Zn, mean Zn-N coordination {self.mean_coordination:.4f}"
        ]
        for b in self.broken:
            lines.append(f"broken linker {b.formula} atoms {list(b.atoms)}: {b.problem}")
        if len(self.undercoordinated):
            lines.append(f"under-coordinated Zn: {self.undercoordinated.tolist()}")
        if len(self.overcoordinated):
            lines.append(f"over-coordinated Zn: {self.overcoordinated.tolist()}")
        if len(self.dangling_h):
            lines.append(f"dangling H: {self.dangling_h.tolist()}")
        return "\n".join(lines)

    def zn_im_graph(self):
        """The Zn–Im net as a ``networkx.MultiGraph``.

        Nodes carry ``kind`` ("Zn" or "Im") and ``atoms`` (atom index of the Zn, or the
        imidazolate's atom indices); each edge carries ``shift`` (tuple of 3 int), the image of
        the Im node seen from the Zn node, and ``zn``/``im`` naming its two ends.
        """
        import networkx as nx

        graph = nx.MultiGraph()
        for k, idx in enumerate(self.metal_indices):
            graph.add_node(k, kind="Zn", atoms=(int(idx),))
        for k, atoms in enumerate(self.linkers):
            graph.add_node(self.n_metal + k, kind="Im", atoms=tuple(int(a) for a in atoms))
        for (zn, im), shift in zip(self.edges.tolist(), self.shifts.tolist()):
            graph.add_edge(zn, im, shift=tuple(shift), zn=zn, im=im)
        return graph

    def to_dict(self):
        """JSON-able summary (counts and every problem with its atom indices)."""
        return {
            "n_intact": self.n_intact,
            "n_broken": len(self.broken),
            "broken": [b.to_dict() for b in self.broken],
            "n_metal": self.n_metal,
            "mean_coordination": self.mean_coordination,
            "undercoordinated_zn": self.undercoordinated.tolist(),
            "overcoordinated_zn": self.overcoordinated.tolist(),
            "dangling_h": self.dangling_h.tolist(),
            "uncoordinated_n": self.uncoordinated_n.tolist(),
            "n_zn_im_bonds": int(len(self.edges)),
        }

    def __repr__(self):
        return (f"LinkerReport(n_intact={self.n_intact}, broken={len(self.broken)}, "
                f"undercoordinated={len(self.undercoordinated)}, "
                f"overcoordinated={len(self.overcoordinated)}, dangling_h={len(self.dangling_h)})")


def _element_codes(atoms, metal):
    """Internal element code of every atom (H, C, N, metal node, anything else)."""
    from ase.data import atomic_numbers

    if metal not in atomic_numbers:
        raise StructureError(f"unknown metal element {metal!r}")
    lookup = np.full(max(int(atoms.numbers.max(initial=0)), atomic_numbers[metal]) + 1, _OTHER)
    for symbol, code in _CODES.items():
        if atomic_numbers[symbol] < len(lookup):
            lookup[atomic_numbers[symbol]] = code
    lookup[atomic_numbers[metal]] = _METAL
    return lookup[atoms.numbers]


def _cutoff_table(bond_cutoffs, zn_n_cutoff):
    """5×5 table of bond cut-offs (Å) indexed by element code: :data:`DEFAULT_BOND_CUTOFFS`
    with the entries of ``bond_cutoffs`` (or None) overriding them; 0 means never bonded."""
    cutoffs = dict(DEFAULT_BOND_CUTOFFS)
    cutoffs.update({tuple(sorted(k)): v for k, v in (bond_cutoffs or {}).items()})
    table = np.zeros((5, 5))
    for (a, b), cut in cutoffs.items():
        if a not in _CODES or b not in _CODES:
            raise StructureError(f"bond cut-off given for ({a}, {b}): only H, C, N are organic")
        table[_CODES[a], _CODES[b]] = table[_CODES[b], _CODES[a]] = float(cut)
    table[_METAL, _N] = table[_N, _METAL] = float(zn_n_cutoff)
    return table


def _organic_bonds(codes, table, i, j, d):
    """Mask of the pairs ``i, j`` at distance ``d`` (Å) that are bonds between organic atoms."""
    ci, cj = codes[i], codes[j]
    return (d < table[ci, cj]) & (ci != _METAL) & (cj != _METAL)


def organic_bond_keys(atoms, neighbors, bond_cutoffs=None, metal="Zn"):
    """Sorted keys ``i * len(atoms) + j`` of the organic bonds (both directions) of a frame.

    :func:`find_linkers` judges the linkers from these bonds alone: frames with equal atomic
    numbers and equal keys have the same intact and broken linkers.

    Parameters
    ----------
    atoms : ase.Atoms
    neighbors, bond_cutoffs, metal
        As for :func:`find_linkers` (``neighbors`` required; cut-offs in Å).

    Returns
    -------
    numpy.ndarray of int64
    """
    codes = _element_codes(atoms, metal)
    i, j, _, d = neighbors
    bond = _organic_bonds(codes, _cutoff_table(bond_cutoffs, ZN_N_CUTOFF), i, j, d)
    return np.sort(i[bond].astype(np.int64) * len(atoms) + j[bond].astype(np.int64))


def _formula(codes, symbols_other):
    counts = {"C": int(np.sum(codes == _C)), "H": int(np.sum(codes == _H)),
              "N": int(np.sum(codes == _N))}
    text = "".join(f"{el}{n if n > 1 else ''}" for el, n in counts.items() if n)
    return text + "".join(sorted(symbols_other))


def _fragment_images(atoms, organic, i, j, S, labels):
    """Image shift of every organic atom that makes each fragment whole, its lowest-index
    atom (root) staying in the home cell.

    Fast path: the image of each atom nearest to its root in fractional coordinates, accepted
    when every organic bond agrees with it (shift of bond i→j equal to image j − image i);
    otherwise (a fragment spanning half a strongly skewed cell) :func:`_tree_images`.
    """
    n_atoms = len(atoms)
    if not np.any(atoms.pbc) or len(i) == 0:
        return np.zeros((n_atoms, 3), dtype=np.int64)
    roots = np.unique(labels, return_index=True)[1]  # lowest index of each fragment
    frac = np.linalg.solve(atoms.cell[:].T, atoms.positions.T).T
    images = -np.round(frac - frac[roots[labels]]).astype(np.int64)
    images[~organic] = 0
    if np.array_equal(S, images[j] - images[i]):
        return images
    return _tree_images(n_atoms, organic, i, j, S, labels)


def _tree_images(n_atoms, organic, i, j, S, labels):
    """Image shift of every organic atom that makes each fragment whole (root at image 0).

    A spanning tree of each fragment is grown breadth-first from a virtual node linked to
    one root atom per fragment; each atom's image is its parent's plus the bond's shift.
    """
    roots = np.unique(labels[organic], return_index=True)[1]
    roots = np.flatnonzero(organic)[roots]
    virtual = n_atoms
    rows = np.concatenate([i, np.full(len(roots), virtual)])
    cols = np.concatenate([j, roots])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_atoms + 1, n_atoms + 1)).tocsr()
    order, pred = breadth_first_order(graph, virtual, directed=True, return_predecessors=True)
    order = order[1:]  # drop the virtual node
    parent = pred[order]
    # shift of each tree edge parent -> child, looked up among the bonds
    keys = i * n_atoms + j
    sort = np.argsort(keys)
    tree_keys = np.where(parent == virtual, -1, parent * n_atoms + order)
    pos = np.searchsorted(keys, tree_keys, sorter=sort)
    pos = np.clip(pos, 0, len(keys) - 1) if len(keys) else pos
    edge_shift = np.zeros((len(order), 3), dtype=np.int64)
    if len(keys):
        found = tree_keys >= 0
        edge_shift[found] = S[sort[pos[found]]]
    images = np.zeros((n_atoms + 1, 3), dtype=np.int64)
    parent_of = np.full(n_atoms + 1, virtual)
    parent_of[order] = parent
    shift_of = np.zeros((n_atoms + 1, 3), dtype=np.int64)
    shift_of[order] = edge_shift
    for _ in range(n_atoms + 1):  # converges after (tree depth) sweeps
        new = images[parent_of] + shift_of
        new[virtual] = 0
        if np.array_equal(new, images):
            break
        images = new
    return images[:n_atoms]


def _describe_problem(members, codes, i, j, d, heavy_degree, h_degree, bond_count):
    """Explain why a fragment is not an imidazolate (runs only for broken fragments)."""
    n_c, n_n, n_h = (int(np.sum(codes[members] == c)) for c in (_C, _N, _H))
    issues = []
    if (n_c, n_n, n_h) != (3, 2, 3):
        issues.append(f"composition C{n_c}N{n_n}H{n_h} instead of C3N2H3")
    ends = [int(a) for a in members if codes[a] in (_C, _N) and heavy_degree[a] < 2]
    if len(ends) == 2:
        a, b = ends
        # distance between the open ends, from the full-cutoff neighbour list when available
        sel = (i == a) & (j == b)
        dist = f"{d[sel].min():.2f} Å" if sel.any() else "beyond the search radius"
        issues.append(f"ring open between atoms {a} and {b} ({dist})")
    elif ends:
        issues.append(f"heavy atoms with fewer than two ring bonds: {ends}")
    crowded = [int(a) for a in members if codes[a] in (_C, _N) and heavy_degree[a] > 2]
    if crowded:
        issues.append(f"heavy atoms with extra bonds: {crowded}")
    bad_h = [int(a) for a in members if (codes[a] == _C and h_degree[a] != 1)
             or (codes[a] == _N and h_degree[a] != 0)]
    if bad_h:
        issues.append(f"wrong number of H on atoms {bad_h}")
    if not issues:
        issues.append(f"not an imidazolate topology ({bond_count} bonds)")
    return "; ".join(issues)


def find_linkers(atoms, bond_cutoffs=None, zn_n_cutoff=ZN_N_CUTOFF, metal="Zn",
                 expected_coordination=4, neighbors=None):
    """Identify imidazolates and Zn nodes of one frame and check their integrity.

    Parameters
    ----------
    atoms : ase.Atoms
        A Zn(Im)2 structure (periodic or not).
    bond_cutoffs : dict, optional
        ``{(el1, el2): cutoff_Å}`` for organic covalent bonds, overriding entries of
        :data:`DEFAULT_BOND_CUTOFFS`.
    zn_n_cutoff : float
        Zn–N bond cut-off in Å (paper: 2.5 Å).
    metal : str
        Element of the tetrahedral nodes.
    expected_coordination : int
        Zn–N bonds of a regular node.
    neighbors : tuple of numpy.ndarray, optional
        ``(i, j, S, d)``: the full neighbour list of ``atoms`` (as from
        :func:`aseml_zif.neighbors.neighbor_list`) out to at least the largest cut-off (Å), when
        the caller has built it already; pairs beyond the cut-offs are ignored.

    Returns
    -------
    LinkerReport
        Intact imidazolates, broken fragments with what is wrong, Zn coordination, dangling H
        and the Zn–Im periodic graph (edges with integer image shifts).

    Raises
    ------
    StructureError
        Not an ``Atoms``, a degenerate cell, or a bad cut-off table.
    """
    from ase import Atoms

    if not isinstance(atoms, Atoms):
        raise StructureError(f"find_linkers needs an ase.Atoms, got {type(atoms).__name__}")
    table = _cutoff_table(bond_cutoffs, zn_n_cutoff)
    codes = _element_codes(atoms, metal)
    n_atoms = len(atoms)

    if neighbors is None:
        neighbors = neighbor_list(atoms, float(table.max()), "ijSd")
    i, j, S, d = neighbors
    S = S.astype(np.int64)
    bonded = d < table[codes[i], codes[j]]
    bi, bj, bS = i[bonded], j[bonded], S[bonded]
    organic_bond = _organic_bonds(codes, table, i, j, d)
    oi, oj, oS = i[organic_bond], j[organic_bond], S[organic_bond]  # organic bonds, both ways
    organic = codes != _METAL

    graph = coo_matrix((np.ones(len(oi)), (oi, oj)), shape=(n_atoms, n_atoms))
    n_frag, labels = connected_components(graph, directed=False)

    ci, cj = codes[oi], codes[oj]
    heavy_degree = np.bincount(oi[(ci >= _C) & (cj >= _C)], minlength=n_atoms)
    h_degree = np.bincount(oi[cj == _H], minlength=n_atoms)
    degree = np.bincount(oi, minlength=n_atoms)
    heavy = (codes == _C) | (codes == _N)
    bad_atom = ((heavy & (heavy_degree != 2)) | ((codes == _C) & (h_degree != 1))
                | ((codes == _N) & (h_degree != 0)) | ((codes == _H) & (degree != 1))
                | (codes == _OTHER))
    n_bad = np.bincount(labels[organic], weights=bad_atom[organic], minlength=n_frag)
    comp = {c: np.bincount(labels[organic], weights=codes[organic] == c, minlength=n_frag)
            for c in (_H, _C, _N, _OTHER)}
    # bonds per fragment by pair type (each bond counted from both ends)
    pair = ci * 5 + cj
    frag_of_bond = labels[oi]
    n_cn = np.bincount(frag_of_bond, weights=(pair == _C * 5 + _N), minlength=n_frag)
    n_cc = np.bincount(frag_of_bond, weights=(pair == _C * 5 + _C), minlength=n_frag) / 2
    n_nn = np.bincount(frag_of_bond, weights=(pair == _N * 5 + _N), minlength=n_frag) / 2
    is_organic_frag = np.zeros(n_frag, dtype=bool)
    is_organic_frag[labels[organic]] = True
    intact = (is_organic_frag & (comp[_C] == 3) & (comp[_N] == 2) & (comp[_H] == 3)
              & (comp[_OTHER] == 0) & (n_bad == 0) & (n_cn == 4) & (n_cc == 1) & (n_nn == 0))

    # fragments sorted by their lowest atom index
    atom_order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[atom_order], np.arange(n_frag + 1))
    members_of = [atom_order[starts[f]:starts[f + 1]] for f in range(n_frag)]

    intact_frags = np.flatnonzero(intact)
    linkers = [members_of[f] for f in intact_frags]
    broken, dangling = [], []
    for f in np.flatnonzero(is_organic_frag & ~intact):
        members = members_of[f]
        if comp[_C][f] + comp[_N][f] == 0:
            dangling.extend(int(a) for a in members if codes[a] == _H)
            continue
        others = [atoms[int(a)].symbol for a in members if codes[a] == _OTHER]
        broken.append(BrokenLinker(
            atoms=tuple(int(a) for a in members),
            formula=_formula(codes[members], others),
            problem=_describe_problem(members, codes, i, j, d, heavy_degree, h_degree,
                                      int(np.sum(frag_of_bond == f)) // 2),
        ))

    # Zn coordination and the Zn–Im net
    metal_indices = np.flatnonzero(codes == _METAL)
    zn_side = codes[bi] == _METAL
    zi, zn_n, zS = bi[zn_side], bj[zn_side], bS[zn_side]
    coordination = np.bincount(zi, minlength=n_atoms)[metal_indices]
    node_of_metal = np.full(n_atoms, -1)
    node_of_metal[metal_indices] = np.arange(len(metal_indices))
    im_node = np.full(n_frag, -1)
    im_node[intact_frags] = len(metal_indices) + np.arange(len(intact_frags))
    in_im = im_node[labels[zn_n]] >= 0
    images = _fragment_images(atoms, organic, oi, oj, oS, labels)
    edges = np.stack([node_of_metal[zi[in_im]], im_node[labels[zn_n[in_im]]]], axis=1)
    shifts = zS[in_im] - images[zn_n[in_im]]
    intact_n = np.zeros(n_atoms, dtype=bool)
    intact_n[np.concatenate(linkers) if linkers else []] = True
    intact_n &= codes == _N
    bound_n = np.zeros(n_atoms, dtype=bool)
    bound_n[zn_n] = True
    uncoordinated_n = np.flatnonzero(intact_n & ~bound_n)

    return LinkerReport(
        linkers=linkers, broken=broken, metal_indices=metal_indices,
        coordination=coordination, expected_coordination=expected_coordination,
        dangling_h=np.array(sorted(dangling), dtype=np.int64), uncoordinated_n=uncoordinated_n,
        edges=edges.reshape(-1, 2), shifts=shifts.reshape(-1, 3),
    )
