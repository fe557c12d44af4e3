"""Imidazolate integrity, Zn coordination and the Zn–Im periodic net (issue 8, item 6)."""
import numpy as np
import pytest
from ase import Atoms

from aseml_zif.analysis import find_linkers
from aseml_zif.errors import StructureError
from aseml_zif.structures import supercell, zif4_crystal


@pytest.fixture(scope="module")
def crystal():
    return zif4_crystal()


def _whole_centroid(atoms, members):
    """Centroid of a molecule made whole by minimum image around its first atom (Å)."""
    frac = atoms.get_scaled_positions()[members]
    frac = frac - np.round(frac - frac[0])
    return frac.mean(axis=0) @ atoms.cell[:]


def _check_perfect(report, n_linkers, n_zn):
    assert report.n_intact == n_linkers
    assert report.broken == []
    assert np.all(report.coordination == 4)
    assert report.n_metal == n_zn
    assert len(report.dangling_h) == 0 and len(report.uncoordinated_n) == 0
    assert len(report.edges) == 4 * n_zn
    # every imidazolate bridges exactly two Zn
    assert np.all(np.bincount(report.edges[:, 1])[n_zn:] == 2)
    for members in report.linkers:
        assert len(members) == 8


def test_built_crystal_has_32_intact_linkers(crystal):
    _check_perfect(find_linkers(crystal), 32, 16)


def test_published_crystal_has_32_intact_linkers(crystal_lmp):
    _check_perfect(find_linkers(crystal_lmp), 32, 16)


def test_supercell_scales(crystal):
    _check_perfect(find_linkers(supercell(crystal, (2, 1, 2))), 128, 64)


def test_edge_shifts_point_to_the_bonded_image(crystal_lmp):
    """Zn to the imidazolate centroid across each edge's image must be a bond-length
    distance (~3 Å); a wrong image shift would put it at least half a cell (> 7 Å) away."""
    atoms = crystal_lmp
    report = find_linkers(atoms)
    pos = atoms.positions
    cell = atoms.cell[:]
    for (zn_node, im_node), shift in zip(report.edges, report.shifts):
        members = report.linkers[im_node - report.n_metal]
        zn = pos[report.metal_indices[zn_node]]
        # the linker's lowest-index atom stays in the home cell (the report's convention)
        centroid = _whole_centroid(atoms, members) + shift @ cell
        assert 2.6 < np.linalg.norm(centroid - zn) < 3.6


def _skewed(atoms, shear):
    """The same crystal described by the sheared cell (a, b + shear·a, c), atoms wrapped."""
    cell = atoms.cell[:].copy()
    cell[1] += shear * cell[0]
    skewed = atoms.copy()
    skewed.set_cell(cell, scale_atoms=False)
    skewed.wrap()
    return skewed


@pytest.mark.parametrize("shear", [1, 3])
def test_skewed_triclinic_cell_gives_same_net(crystal, shear):
    """A strongly sheared description of the same crystal: same linkers, and the Zn to
    imidazolate-centroid distance across every edge's image shift stays bond-like."""
    atoms = _skewed(crystal, shear)
    report = find_linkers(atoms)
    _check_perfect(report, 32, 16)
    for (zn_node, im_node), shift in zip(report.edges, report.shifts):
        members = report.linkers[im_node - report.n_metal]
        root = members[0]  # the report keeps each linker's lowest-index atom in the home cell
        whole = atoms.positions[root] + atoms.get_distances(root, members, mic=True, vector=True)
        zn = atoms.positions[report.metal_indices[zn_node]]
        assert 2.6 < np.linalg.norm(whole.mean(axis=0) + shift @ atoms.cell[:] - zn) < 3.6


def test_fast_and_tree_images_agree(crystal_lmp):
    from aseml_zif.analysis.linker_bonds import _fragment_images, _tree_images
    from aseml_zif.neighbors import neighbor_list

    report = find_linkers(crystal_lmp)
    organic = crystal_lmp.numbers != 30
    labels = np.arange(len(crystal_lmp))
    for k, members in enumerate(report.linkers):
        labels[members] = -1 - k
    labels = np.unique(labels, return_inverse=True)[1]
    i, j, S = neighbor_list(crystal_lmp, 1.8, "ijS")
    keep = organic[i] & organic[j] & (labels[i] == labels[j])
    args = (organic, i[keep], j[keep], S[keep].astype(np.int64), labels)
    assert np.array_equal(_fragment_images(crystal_lmp, *args),
                          _tree_images(len(crystal_lmp), *args))


def test_translation_invariance(crystal_lmp):
    moved = crystal_lmp.copy()
    moved.translate([3.7, -5.1, 8.3])
    moved.wrap()
    a, b = find_linkers(crystal_lmp), find_linkers(moved)
    assert a.n_intact == b.n_intact == 32
    assert sorted(map(tuple, a.linkers)) == sorted(map(tuple, b.linkers))


def _stretch_bond(atoms, report, elements, length):
    """Move one atom of the first linker's first ``elements`` bond so that it is ``length`` Å."""
    members = report.linkers[0]
    symbols = np.array(atoms.get_chemical_symbols())
    for a in members:
        for b in members:
            if (symbols[a], symbols[b]) != elements:
                continue
            vec = atoms.get_distance(a, b, mic=True, vector=True)
            if np.linalg.norm(vec) < 1.6:
                stretched = atoms.copy()
                stretched.positions[b] = atoms.positions[a] + vec / np.linalg.norm(vec) * length
                return stretched, members, (int(a), int(b))
    raise AssertionError("no such bond")


def test_stretched_cn_bond_gives_exactly_one_broken_linker(crystal_lmp):
    report = find_linkers(crystal_lmp)
    stretched, members, (a, b) = _stretch_bond(crystal_lmp, report, ("C", "N"), 2.5)
    broken = find_linkers(stretched)
    assert broken.n_intact == 31
    assert len(broken.broken) == 1
    entry = broken.broken[0]
    assert sorted(entry.atoms) == sorted(members.tolist())
    assert entry.formula == "C3H3N2"
    assert f"ring open between atoms {min(a, b)} and {max(a, b)}" in entry.problem
    assert not broken.intact and report.intact
    assert f"atoms {sorted(members.tolist())}" in broken.summary()


def test_lost_hydrogen_is_broken_linker_plus_dangling_h(crystal_lmp):
    report = find_linkers(crystal_lmp)
    stretched, members, (c, h) = _stretch_bond(crystal_lmp, report, ("C", "H"), 3.0)
    result = find_linkers(stretched)
    assert result.n_intact == 31
    assert [b.formula for b in result.broken] == ["C3H2N2"]
    assert "wrong number of H" in result.broken[0].problem
    assert result.dangling_h.tolist() == [h]


def test_zn_coordination_counts(crystal_lmp):
    atoms = crystal_lmp.copy()
    report = find_linkers(atoms)
    zn_node, im_node = report.edges[0]
    zn = report.metal_indices[zn_node]
    # pull one Zn 0.55 Å away from one of its N:
    # that Zn becomes 3-coordinated and the N uncoordinated
    n_atoms = [a for a in report.linkers[im_node - report.n_metal]
               if atoms[a].symbol == "N" and atoms.get_distance(zn, a, mic=True) < 2.5]
    vec = atoms.get_distance(zn, n_atoms[0], mic=True, vector=True)
    atoms.positions[zn] -= vec / np.linalg.norm(vec) * 0.55
    result = find_linkers(atoms)
    assert result.n_intact == 32
    assert result.undercoordinated.tolist() == [zn]
    assert result.uncoordinated_n.tolist() == [n_atoms[0]]
    assert result.mean_coordination == pytest.approx(63 / 16)


def test_glasses_coordination_matches_published_analysis(glasses):
    """aMOF 1.1.0 (FIELD-NOTES): Zn–N CN 4.000, 3.9375 ×7, 3.875 ×2, mean 3.93125."""
    cns = []
    for atoms in glasses:
        report = find_linkers(atoms)
        assert report.n_intact == 32 and report.broken == []
        cns.append(report.mean_coordination)
    assert sorted(cns) == [3.875] * 2 + [3.9375] * 7 + [4.0]
    assert np.mean(cns) == pytest.approx(3.93125)


def test_networkx_graph(crystal):
    graph = find_linkers(crystal).zn_im_graph()
    assert graph.number_of_nodes() == 48 and graph.number_of_edges() == 64
    kinds = [data["kind"] for _, data in graph.nodes(data=True)]
    assert kinds.count("Zn") == 16 and kinds.count("Im") == 32


def test_json_dict(crystal):
    import json

    data = json.loads(json.dumps(find_linkers(crystal).to_dict()))
    assert data["n_intact"] == 32 and data["mean_coordination"] == 4.0


def test_bad_input():
    with pytest.raises(StructureError, match="ase.Atoms"):
        find_linkers([1, 2, 3])
    with pytest.raises(StructureError, match="only H, C, N"):
        find_linkers(Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.7]]), bond_cutoffs={("O", "H"): 1.0})
