"""Result objects of the linker check: intact and broken imidazolates, Zn coordination, Zn–Im net.

:class:`LinkerReport` holds what :func:`~aseml_zif.analysis.linkers.find_linkers` found in
one frame; each organic fragment that is not an intact imidazolate becomes a
:class:`BrokenLinker`, whose formula and problem are worked out here.
"""
from dataclasses import dataclass

import numpy as np

from .linker_bonds import _C, _H, _N

__all__ = ["LinkerReport", "BrokenLinker"]

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
    """Result of :func:`~aseml_zif.analysis.linkers.find_linkers` for one frame.

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


def _formula(codes, symbols_other):
    counts = {"C": int(np.sum(codes == _C)), "H": int(np.sum(codes == _H)),
              "N": int(np.sum(codes == _N))}
    text = "".join(f"{el}{n if n > 1 else ''}" for el, n in counts.items() if n)
    return text + "".join(sorted(symbols_other))


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
