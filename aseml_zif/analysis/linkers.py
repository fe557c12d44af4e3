"""Building units of a Zn(Im)2 framework: imidazolate integrity, Zn coordination, Zn–Im net.

Imidazolates (C3N2H3) are identified from covalent bonds, each element pair with its own
distance criterion, not from one cut-off for everything: a linker is intact when its connected
organic fragment has the composition C3N2H3 and the imidazolate topology (a five-membered
N–C–N–C–C ring, each C carrying one H, no N–H, N–N or H–H bond). Zn–N bonds use the paper's
2.5 Å cut-off (Castel et al., Digital Discovery 3, 355 (2024), coordination analysis). This is
the check the paper used to spot linkers broken by the Allegro potential above 1300 K; it is
vectorised so that it can run every few MD steps as a watchdog (a few ms per 272-atom frame).

The bond criteria and the periodic bond graph are in :mod:`.linker_bonds`, the result objects in
:mod:`.linker_report`; both are re-exported here.
"""
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import StructureError
from ..neighbors import neighbor_list
from .linker_bonds import (  # noqa: F401  (re-exported: DEFAULT_BOND_CUTOFFS, organic_bond_keys)
    _C,
    _H,
    _METAL,
    _N,
    _OTHER,
    DEFAULT_BOND_CUTOFFS,
    ZN_N_CUTOFF,
    _cutoff_table,
    _element_codes,
    _fragment_images,
    _organic_bonds,
    organic_bond_keys,
)
from .linker_report import BrokenLinker, LinkerReport, _describe_problem, _formula

__all__ = ["find_linkers"]


def find_linkers(atoms, bond_cutoffs=None, zn_n_cutoff=ZN_N_CUTOFF, metal="Zn",
                 expected_coordination=4, neighbors=None):
    """Identify imidazolates and Zn nodes of one frame and check their integrity.

    Parameters
    ----------
    atoms : ase.Atoms
        A Zn(Im)2 structure (periodic or not).
    bond_cutoffs : dict, optional
        ``{(el1, el2): cutoff_Å}`` for organic covalent bonds, overriding entries of
        :data:`~aseml_zif.analysis.linker_bonds.DEFAULT_BOND_CUTOFFS`.
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
