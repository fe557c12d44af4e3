"""Primitive rings of the periodic Zn–Im net (issue 8, item 7)."""
import json
from collections import Counter

import numpy as np
import pytest

from aseml_zif.analysis import RingStatistics, find_linkers
from aseml_zif.analysis.rings import RingSearchError, _metal_net, primitive_rings
from aseml_zif.errors import StructureError
from aseml_zif.structures import supercell, zif4_crystal

CRYSTAL_RINGS = {8: 4.0, 12: 16.0, 16: 32.0}  # per cell, FIELD-NOTES / ZIF-4 cag topology


def _sizes(rings):
    return dict(Counter(len(r) for r in rings))


@pytest.mark.parametrize(
    "name, n_nodes, edges, shifts, max_size, expected",
    [
        # square net: one 4-ring per cell; a self-bond through an image is no ring
        ("sql", 1, [[0, 0]] * 2, [[1, 0, 0], [0, 1, 0]], 10, {4: 1}),
        # primitive cubic: 3 square faces and 4 skew hexagons (one per body diagonal) per cell;
        # planar 6-rings (1x2 rectangles) have a shortcut and are not primitive
        ("pcu", 1, [[0, 0]] * 3, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], 10, {4: 3, 6: 4}),
        # diamond, 2 nodes per primitive cell, each in 12 six-rings: 2 * 12 / 6 = 4
        ("dia", 2, [[0, 1]] * 4, [[0, 0, 0], [-1, 0, 0], [0, -1, 0], [0, 0, -1]], 12, {6: 4}),
        # a chain closed only through the periodic image has no ring at all
        ("chain", 1, [[0, 0]], [[1, 0, 0]], 10, {}),
    ],
)
def test_analytic_nets(name, n_nodes, edges, shifts, max_size, expected):
    assert _sizes(primitive_rings(n_nodes, edges, shifts, max_size)) == expected


def test_max_size_limits_the_search():
    rings = primitive_rings(1, [[0, 0]] * 3, [[1, 0, 0], [0, 1, 0], [0, 0, 1]], max_size=5)
    assert _sizes(rings) == {4: 3}


@pytest.fixture(scope="module")
def crystal():
    return zif4_crystal()


def test_crystal_rings_exact(crystal):
    stats = RingStatistics(max_depth=32).compute(crystal)
    assert stats.counts == CRYSTAL_RINGS
    assert stats.counts_per_zn == {k: v / 16 for k, v in CRYSTAL_RINGS.items()}
    assert sorted(len(r) for r in stats.rings) == [4] * 4 + [6] * 16 + [8] * 32


def test_published_crystal_rings_exact(crystal_lmp):
    assert RingStatistics().compute(crystal_lmp).counts == CRYSTAL_RINGS


def test_supercell_counts_scale_with_cell(crystal):
    """Per cell of a 2x1x1 supercell: twice the counts; per Zn: unchanged."""
    stats = RingStatistics().compute(supercell(crystal, (2, 1, 1)))
    assert stats.counts == {k: 2 * v for k, v in CRYSTAL_RINGS.items()}
    assert stats.counts_per_zn == {k: v / 16 for k, v in CRYSTAL_RINGS.items()}


def test_reduced_and_full_net_agree_on_glasses(glasses):
    """The Zn-only search (one edge per bridging imidazolate) and the search on the Zn + Im
    net itself are two code paths; they must find the same rings (three glasses with 6- to
    24-membered rings, to keep the test short)."""
    for atoms in (glasses[1], glasses[3], glasses[9]):
        report = find_linkers(atoms)
        full = primitive_rings(report.n_metal + report.n_intact, report.edges, report.shifts, 32)
        edges, shifts = _metal_net(report)
        reduced = primitive_rings(report.n_metal, edges, shifts, 16)
        assert _sizes(full) == {2 * k: v for k, v in _sizes(reduced).items()}


def test_averaging_over_frames_and_json(crystal, glasses):
    stats = RingStatistics().compute([crystal, glasses[1]])
    single = RingStatistics().compute(glasses[1]).counts
    sizes = set(CRYSTAL_RINGS) | set(single)
    expected = {k: (CRYSTAL_RINGS.get(k, 0) + single.get(k, 0)) / 2 for k in sorted(sizes)}
    assert stats.counts == pytest.approx(expected)
    assert stats.n_frames == 2
    data = json.loads(json.dumps(stats.to_dict()))
    assert data["counts_per_cell"]["8"] == pytest.approx(expected[8])


def test_plot(crystal):
    import matplotlib

    matplotlib.use("Agg")
    ax = RingStatistics().compute(crystal).plot()
    heights = sorted(p.get_height() for p in ax.patches)
    assert heights == sorted(CRYSTAL_RINGS.values())


def test_bad_depth():
    with pytest.raises(RingSearchError, match="larger cell"):
        primitive_rings(1, [[0, 0]], [[5, 0, 0]], max_size=32)
    with pytest.raises(RingSearchError, match="max_depth"):
        RingStatistics(max_depth=2)
    with pytest.raises(StructureError, match="no frames"):
        RingStatistics().compute([])


def test_rings_are_closed_cycles_of_bonded_zn(crystal):
    """Each reported Zn ring is a cycle of Zn bridged in turn by an imidazolate."""
    report = find_linkers(crystal)
    bridged = {tuple(sorted(p)) for p in _metal_net(report)[0].tolist()}
    node = {int(a): k for k, a in enumerate(report.metal_indices)}
    for ring in RingStatistics().compute(crystal).rings:
        nodes = [node[int(a)] for a in ring]
        assert len(set(nodes)) == len(nodes)
        for a, b in zip(nodes, np.roll(nodes, -1)):
            assert tuple(sorted((a, b))) in bridged


def test_sheared_cell_gives_the_same_rings(crystal):
    """Same crystal in the sheared cell (a, b + 3a, c): images along rings are tracked in a
    strongly triclinic basis (and the linker images take the bond-tree path)."""
    cell = crystal.cell[:].copy()
    cell[1] += 3 * cell[0]
    sheared = crystal.copy()
    sheared.set_cell(cell, scale_atoms=False)
    sheared.wrap()
    assert RingStatistics().compute(sheared).counts == CRYSTAL_RINGS
