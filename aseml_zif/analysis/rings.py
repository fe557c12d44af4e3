"""Primitive ring statistics of the Zn–Im net, searched on the periodic (infinite) net.

A ring is *primitive* when it cannot be split into two smaller rings, i.e. when no two of its
nodes are joined by a path of the net shorter than the shorter arc of the ring between them
(Marians & Hobbs, J. Non-Cryst. Solids 124, 242 (1990); Yuan & Cormack, Comput. Mater. Sci. 24,
343 (2002)). Ring sizes count Zn and imidazolate nodes, as in Castel et al., Digital Discovery
3, 355 (2024), who used a maximum search depth of 32: ZIF-4 has 4-, 6- and 8-membered Zn rings,
i.e. 8-, 12- and 16-membered Zn + Im rings.

The net is built from bonds by :func:`~aseml_zif.analysis.linkers.find_linkers` (intact
imidazolates and Zn–N bonds ≤ 2.5 Å), never from a Zn–Zn distance cut-off. Each node of the
search is a (node, cell image) pair, so a path closes into a ring only when the image shifts
along it sum to zero: paths that return to the same node of the cell in another image are not
rings, and shortest paths are measured in the infinite net, not through a periodic shortcut.
"""
from collections import Counter

import numpy as np

from .._progress import progress_bar
from ..errors import RingSearchError
from .frames import as_frame_list
from .linker_bonds import ZN_N_CUTOFF
from .linkers import find_linkers

__all__ = ["RingStatistics", "primitive_rings"]


_IMAGE_OFFSET = 64  # image components must stay within ±63 cells of the start
_IMAGE_BASE = 128


def _image_code(shifts):
    shifts = np.asarray(shifts, dtype=np.int64) + _IMAGE_OFFSET
    return (shifts[..., 0] * _IMAGE_BASE + shifts[..., 1]) * _IMAGE_BASE + shifts[..., 2]


class _PeriodicNet:
    """Adjacency of a periodic net on integer state keys ``node + n_nodes * image_code``.

    Moving along an edge adds a fixed integer to the key, so a walk in the infinite net is
    integer arithmetic and a state's node is ``key % n_nodes``.
    """

    def __init__(self, n_nodes, edges, shifts):
        self.n_nodes = n_nodes
        self.home = n_nodes * int(_image_code(np.zeros(3, dtype=np.int64)))
        step = n_nodes * (_image_code(shifts) - _image_code(np.zeros(3, dtype=np.int64)))
        self.delta = [set() for _ in range(n_nodes)]
        for (u, v), s in zip(np.asarray(edges).tolist(), step.tolist()):
            self.delta[u].add(v - u + s)
            self.delta[v].add(u - v - s)
        self.delta = [sorted(d) for d in self.delta]

    def bfs(self, node, max_dist):
        """Distances and shortest-path predecessors from ``node`` (home image) up to
        ``max_dist`` steps, as two dicts keyed by state."""
        start = node + self.home
        dist, preds = {start: 0}, {start: ()}
        frontier = [start]
        n, delta = self.n_nodes, self.delta
        for depth in range(1, max_dist + 1):
            nxt = []
            for key in frontier:
                for step in delta[key % n]:
                    new = key + step
                    d = dist.get(new)
                    if d is None:
                        dist[new] = depth
                        preds[new] = [key]
                        nxt.append(new)
                    elif d == depth:
                        preds[new].append(key)
            if not nxt:
                break
            frontier = nxt
        return dist, preds

    def canonical(self, ring):
        """Translation-invariant key of a ring given as state keys."""
        n = self.n_nodes
        low = min(k % n for k in ring)
        best = None
        for k in ring:
            if k % n == low:
                shift = k - low - self.home
                cand = tuple(sorted(x - shift for x in ring))
                if best is None or cand < best:
                    best = cand
        return best


def _geodesics(preds, target, source_node, n_nodes):
    """All shortest paths from the BFS source to ``target`` (lists of keys, source first)
    whose nodes are not below ``source_node`` (each ring is searched from its lowest node)."""
    paths = [[target]]
    while preds[paths[0][-1]]:
        longer = []
        for path in paths:
            for p in preds[path[-1]]:
                if p % n_nodes >= source_node:
                    longer.append(path + [p])
        if not longer:
            return []
        paths = longer
    return [path[::-1] for path in paths]


def _is_primitive(ring, distances, net):
    """No pair of ring nodes has a path in the net shorter than its shorter ring arc."""
    size = len(ring)
    n = net.n_nodes
    for a in range(1, size):
        key_a = ring[a]
        node_a = key_a % n
        table = distances[node_a]
        to_home = node_a + net.home - key_a
        for b in range(a + 2, size):
            arc = min(b - a, size - b + a)
            if arc < 2:
                continue
            d = table.get(ring[b] + to_home)
            if d is not None and d < arc:
                return False
    return True


def primitive_rings(n_nodes, edges, shifts, max_size=32, progress=False):
    """Primitive rings of a periodic net, one per translation class (i.e. per cell).

    Parameters
    ----------
    n_nodes : int
        Nodes of one cell, numbered ``0 .. n_nodes-1``.
    edges : array of int, shape (E, 2)
        Node pairs ``(u, v)``.
    shifts : array of int, shape (E, 3)
        Cell image of ``v`` seen from ``u`` in the home cell.
    max_size : int
        Largest ring searched, in nodes.
    progress : bool
        Show a tqdm bar over the source nodes.

    Returns
    -------
    list of list of tuple
        Each ring as its nodes in order, ``(node, (ix, iy, iz))`` with the lowest node's first
        occurrence in the home cell.

    Raises
    ------
    RingSearchError
        If paths could wander further than 63 cells from the start (tiny cell, deep search).
    """
    half = max_size // 2
    reach = half * int(np.abs(np.asarray(shifts)).max(initial=0))
    if reach >= _IMAGE_OFFSET:
        raise RingSearchError(
            f"a ring search {max_size} nodes deep could leave the ±{_IMAGE_OFFSET - 1} cell "
            f"images tracked (edges jump up to {reach // max(half, 1)} cells): use a larger cell")
    net = _PeriodicNet(n_nodes, edges, shifts)
    distances, predecessors = {}, {}
    for node in progress_bar(range(n_nodes), desc="ring search: distances", disable=not progress,
                             leave=False):
        distances[node], predecessors[node] = net.bfs(node, half)
    found = {}
    for s in progress_bar(range(n_nodes), desc="ring search: rings", disable=not progress,
                          leave=False):
        dist, preds = distances[s], predecessors[s]
        count = _count_geodesics(dist, preds, s, n_nodes)
        for target, d in dist.items():
            if d < 1 or target not in count:
                continue
            paths = None
            # even rings: two internally disjoint geodesics s -> target
            if count[target] >= 2:
                paths = _geodesics(preds, target, s, n_nodes)
                inner = [set(p[1:-1]) for p in paths]
                for a in range(len(paths)):
                    for b in range(a + 1, len(paths)):
                        if inner[a].isdisjoint(inner[b]):
                            _keep(paths[a] + paths[b][-2:0:-1], distances, net, found)
            # odd rings: geodesics to target and to a neighbour at the same distance
            if 2 * d + 1 > max_size:
                continue
            for step in net.delta[target % n_nodes]:
                other = target + step
                if other <= target or dist.get(other) != d or other not in count:
                    continue
                if paths is None:
                    paths = _geodesics(preds, target, s, n_nodes)
                for pa in paths:
                    for pb in _geodesics(preds, other, s, n_nodes):
                        if set(pa[1:]).isdisjoint(pb[1:]):
                            _keep(pa + pb[:0:-1], distances, net, found)
    return [_decode(ring, net) for ring in found.values()]


def _count_geodesics(dist, preds, source_node, n_nodes):
    """Number of shortest paths from the BFS source to each state through nodes not below
    ``source_node``; states without such a path are left out."""
    count = {}
    for key in dist:  # insertion order is breadth-first order
        if key % n_nodes < source_node:
            continue
        p = preds[key]
        if not p:
            count[key] = 1
            continue
        c = sum(count.get(q, 0) for q in p)
        if c:
            count[key] = c
    return count


def _keep(ring, distances, net, found):
    # a ring is met again only when it holds its lowest node twice (in two cell images)
    if _is_primitive(ring, distances, net):
        found.setdefault(net.canonical(ring), ring)


def _decode(ring, net):
    n = net.n_nodes
    low = min(k % n for k in ring)
    start = next(i for i, k in enumerate(ring) if k % n == low)
    ring = ring[start:] + ring[:start]
    origin = ring[0] - low
    out = []
    for k in ring:
        code = (k - k % n - origin) // n + int(_image_code(np.zeros(3, dtype=np.int64)))
        iz = code % _IMAGE_BASE - _IMAGE_OFFSET
        iy = (code // _IMAGE_BASE) % _IMAGE_BASE - _IMAGE_OFFSET
        ix = code // _IMAGE_BASE ** 2 - _IMAGE_OFFSET
        out.append((k % n, (ix, iy, iz)))
    return out


def _metal_net(report):
    """Zn–Zn net with one edge per imidazolate that bridges two Zn, or None when that
    reduction would lose rings (an imidazolate bonded to three Zn, or two imidazolates
    bridging the same Zn pair in the same image).

    Every imidazolate on a ring has exactly two Zn neighbours, so a Zn ring of ``m`` nodes is a
    Zn + Im ring of ``2 m`` nodes, and it is primitive in one net exactly when it is in the
    other (an Im node's distances are one plus the nearer of its two Zn's distances).
    """
    zn, im = report.edges[:, 0], report.edges[:, 1]
    order = np.argsort(im, kind="stable")
    zn, im, shifts = zn[order], im[order], report.shifts[order]
    degree = np.bincount(im, minlength=report.n_metal + report.n_intact)
    if np.any(degree > 2):
        return None
    first = np.flatnonzero((degree[im] == 2) & np.r_[True, im[1:] != im[:-1]])
    u, v = zn[first], zn[first + 1]
    shift = shifts[first] - shifts[first + 1]  # image of v seen from u (home cell)
    if np.any((u == v) & np.all(shift == 0, axis=1)):
        return None
    # a second bridge between the same two Zn in the same image would be a parallel edge
    seen = set()
    for x, y, t in zip(u.tolist(), v.tolist(), shift.tolist()):
        t = tuple(t)
        back = tuple(-c for c in t)
        key = (x, y, t) if (x, t) < (y, back) else (y, x, back)
        if key in seen:
            return None
        seen.add(key)
    return np.column_stack([u, v]), shift


class RingStatistics:
    """Primitive ring-size statistics of the Zn–Im net, averaged over frames.

    Parameters
    ----------
    max_depth : int
        Largest ring searched, in Zn + Im nodes (paper: 32).
    zn_n_cutoff : float
        Zn–N bond cut-off, Å.
    bond_cutoffs : dict, optional
        Organic bond criteria passed to :func:`find_linkers`.

    Attributes (after ``compute``)
    ------------------------------
    counts : dict
        ``{ring size: mean number of rings per cell}``, sizes in Zn + Im nodes.
    counts_per_zn : dict
        ``{ring size: mean number of rings per Zn}``.
    rings : list of numpy.ndarray
        Rings of the last frame, each as the atom indices of its Zn in ring order (a ring has
        twice as many Zn + Im nodes).
    """

    def __init__(self, max_depth=32, zn_n_cutoff=ZN_N_CUTOFF, bond_cutoffs=None):
        if max_depth < 4:
            raise RingSearchError(f"max_depth must be at least 4, got {max_depth}")
        self.max_depth = int(max_depth)
        self.zn_n_cutoff = zn_n_cutoff
        self.bond_cutoffs = bond_cutoffs
        self.reset()

    def reset(self):
        """Forget accumulated frames."""
        self._totals = Counter()
        self._per_zn = Counter()
        self.n_frames = 0
        self.rings = []

    def compute(self, frames, stride=1, progress=True):
        """Add the rings of ``frames`` (one ``Atoms``, a list or a trajectory path).

        Returns
        -------
        RingStatistics
            ``self``, for chaining.
        """
        frames = as_frame_list(frames, stride)
        bar = progress_bar(frames, desc="primitive rings", disable=not progress or len(frames) < 2)
        for atoms in bar:
            report = find_linkers(atoms, bond_cutoffs=self.bond_cutoffs,
                                  zn_n_cutoff=self.zn_n_cutoff)
            reduced = _metal_net(report) if len(report.edges) else None
            if reduced is None:  # search the Zn + Im net itself
                n_nodes, (edges, shifts), factor = (report.n_metal + report.n_intact,
                                                    (report.edges, report.shifts), 1)
            else:  # Zn net, each edge one bridging imidazolate: half the path length
                n_nodes, (edges, shifts), factor = report.n_metal, reduced, 2
            rings = primitive_rings(n_nodes, edges, shifts, self.max_depth // factor,
                                    progress=progress and len(frames) == 1)
            sizes = Counter(factor * len(r) for r in rings)
            self._totals.update(sizes)
            n_zn = max(report.n_metal, 1)
            self._per_zn.update({k: v / n_zn for k, v in sizes.items()})
            self.n_frames += 1
            self.rings = [report.metal_indices[[node for node, _ in ring if node < report.n_metal]]
                          for ring in rings]
        return self

    @property
    def counts(self):
        return {k: self._totals[k] / self.n_frames for k in sorted(self._totals)}

    @property
    def counts_per_zn(self):
        return {k: self._per_zn[k] / self.n_frames for k in sorted(self._per_zn)}

    def to_dict(self):
        """JSON-able results (ring sizes as strings, as JSON keys must be)."""
        return {
            "max_depth": self.max_depth,
            "n_frames": self.n_frames,
            "counts_per_cell": {str(k): v for k, v in self.counts.items()},
            "counts_per_zn": {str(k): v for k, v in self.counts_per_zn.items()},
        }

    def plot(self, ax=None, per_zn=False):
        """Bar chart of ring sizes (Zn + Im nodes): mean count per cell (or per Zn)."""
        import matplotlib.pyplot as plt

        if ax is None:
            ax = plt.subplots()[1]
        data = self.counts_per_zn if per_zn else self.counts
        ax.bar(list(data), list(data.values()), width=1.6, color="tab:blue")
        ax.set_xlabel("ring size (Zn + Im nodes)")
        ax.set_ylabel("rings per Zn" if per_zn else "rings per cell")
        return ax
