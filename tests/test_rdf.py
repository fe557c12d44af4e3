"""Partial RDF g_ab(r), running coordination n_ab(r) and the potential of mean force."""
import json

import matplotlib
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk

from aseml_zif.analysis import RDF, potential_of_mean_force
from aseml_zif.analysis.rdf import KB_KJ_PER_MOL
from aseml_zif.errors import AsemlZifError, StructureError

matplotlib.use("Agg")

TRICLINIC = np.array([[14.0, 0.0, 0.0], [3.0, 13.0, 0.0], [-2.0, 2.5, 15.0]])


def ideal_gas(rng, n_a=300, n_b=400):
    frac = rng.random((n_a + n_b, 3))
    return Atoms(["Zn"] * n_a + ["N"] * n_b, scaled_positions=frac, cell=TRICLINIC, pbc=True)


def test_ideal_gas_gives_one_within_counting_noise():
    rng = np.random.default_rng(0)
    frames = [ideal_gas(rng) for _ in range(4)]
    rdf = RDF(("Zn", "N"), r_max=9.0, bins=45).compute(frames)
    rho_n = 400 / abs(np.linalg.det(TRICLINIC))
    shell = 4 / 3 * np.pi * np.diff(rdf.bin_edges**3)
    expected_counts = 4 * 300 * rho_n * shell
    sigma = 1 / np.sqrt(expected_counts)
    far = rdf.bin_centers > 1.0
    assert np.all(np.abs(rdf.rdf[far] - 1) < 5 * sigma[far])
    assert abs(np.mean(rdf.rdf[far]) - 1) < 0.01
    # running coordination = rho_b * 4/3 pi r^3 for an ideal gas
    assert rdf.coordination_integral[-1] == pytest.approx(rho_n * 4 / 3 * np.pi * 9.0**3, rel=0.02)


def test_fcc_shells_in_a_one_atom_triclinic_cell():
    """r_max far beyond the 2.55 Å primitive cell: all periodic images are counted."""
    a = 3.6
    atoms = bulk("Cu", "fcc", a=a)  # primitive, triclinic, 1 atom
    rdf = RDF(("Cu", "Cu"), r_max=5.5, bins=550).compute(atoms)
    n = rdf.coordination_integral
    r = rdf.bin_edges[1:]
    for radius, shells in [(a / np.sqrt(2), 12), (a, 18), (a * np.sqrt(1.5), 42), (a * np.sqrt(2), 54)]:
        assert n[np.searchsorted(r, radius + 0.02)] == shells
        assert n[np.searchsorted(r, radius - 0.02)] == shells - {12: 12, 18: 6, 42: 24, 54: 12}[shells]


def test_crystal_zn_n_first_peak_and_four_neighbours(crystal_lmp):
    rdf = RDF(("Zn", "N"), r_max=6.0, bins=300).compute(crystal_lmp)
    assert 1.9 < rdf.bin_centers[np.argmax(rdf.rdf)] < 2.1
    n = rdf.coordination_integral
    assert n[np.searchsorted(rdf.bin_edges[1:], 2.5)] == pytest.approx(4.0)


def test_stride_and_accumulation():
    rng = np.random.default_rng(1)
    a, b = ideal_gas(rng, 50, 50), ideal_gas(rng, 50, 50)
    strided = RDF(("Zn", "N"), r_max=6.0, bins=30, stride=2).compute([a, b, a, b])
    single = RDF(("Zn", "N"), r_max=6.0, bins=30).compute(a)
    np.testing.assert_allclose(strided.rdf, single.rdf)
    assert strided.n_frames == 2
    both = RDF(("Zn", "N"), r_max=6.0, bins=30).compute(a).compute(b)
    separate = RDF(("Zn", "N"), r_max=6.0, bins=30).compute(b)
    np.testing.assert_allclose(both.rdf, 0.5 * (single.rdf + separate.rdf))


def test_pmf_inverts_a_boltzmann_distribution():
    temperature = 300.0
    r = np.linspace(1.0, 3.0, 201)
    energy = 7.0 * (r - 2.0) ** 2  # kJ/mol
    g = 3.2 * np.exp(-energy / (KB_KJ_PER_MOL * temperature))
    np.testing.assert_allclose(potential_of_mean_force(g, temperature), energy, atol=1e-9)
    with_zero = potential_of_mean_force(np.array([0.0, 1.0, 2.0]), temperature)
    assert np.isinf(with_zero[0]) and with_zero[2] == 0.0
    assert with_zero[1] == pytest.approx(KB_KJ_PER_MOL * temperature * np.log(2))
    for bad, t in [([0.0, 0.0], 300), ([-1.0, 1.0], 300), ([1.0], 0.0)]:
        with pytest.raises(AsemlZifError):
            potential_of_mean_force(bad, t)


def test_errors_name_the_problem():
    rng = np.random.default_rng(2)
    zinc_only = Atoms("Zn2", positions=[[0, 0, 0], [1, 1, 1]], cell=TRICLINIC, pbc=True)
    frames = [ideal_gas(rng, 10, 10), zinc_only]
    with pytest.raises(StructureError, match="frame 1.*'N'"):
        RDF(("Zn", "N")).compute(frames)
    with pytest.raises(StructureError, match="not periodic"):
        RDF(("Zn", "Zn")).compute(Atoms("Zn2", positions=[[0, 0, 0], [1, 1, 1]]))
    with pytest.raises(StructureError, match="'Xx' is not an element"):
        RDF(("Zn", "Xx")).compute(frames[0])
    with pytest.raises(AsemlZifError, match="compute"):
        RDF().rdf


def test_plot_and_json():
    rdf = RDF(("Zn", "N"), r_max=5.0, bins=20).compute(ideal_gas(np.random.default_rng(3), 20, 20))
    data = json.loads(json.dumps(rdf.to_dict()))
    assert len(data["g"]) == 20 and data["pair"] == ["Zn", "N"]
    assert rdf.plot().get_xlabel() == "r (Å)"
    assert np.all(np.isfinite(rdf.pmf(300.0)[rdf.rdf > 0]))


def test_running_coordination_matches_the_glass_coordination_numbers(glasses):
    """n_ZnN(2.5 Å) from the RDF counts equals the mean Zn-N CN of the ten glasses (3.93125)."""
    rdf = RDF(("Zn", "N"), r_max=5.0, bins=200).compute(glasses)
    assert rdf.coordination_integral[np.searchsorted(rdf.bin_edges[1:], 2.5)] == pytest.approx(3.93125)
    assert 1.95 < rdf.bin_centers[np.argmax(rdf.rdf)] < 2.05  # aMOF: first peak 1.97-2.04 Å
