"""Bond-angle distributions: analytic polyhedra, periodic images, the ZIF-4 N–Zn–N anchors."""
import json

import matplotlib
import numpy as np
import pytest
from ase import Atoms

from aseml_zif.analysis import BondAngles
from aseml_zif.errors import AsemlZifError

matplotlib.use("Agg")

TETRAHEDRAL = np.degrees(np.arccos(-1.0 / 3.0))  # 109.4712°
TRICLINIC = np.array([[11.0, 0.0, 0.0], [2.0, 10.0, 0.0], [1.0, -1.5, 12.0]])


def tetrahedron(center, bond=2.0):
    arms = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / np.sqrt(3) * bond
    return Atoms("ZnN4", positions=np.vstack([center, center + arms]), cell=TRICLINIC, pbc=True)


@pytest.mark.parametrize("center", [[5.0, 5.0, 6.0], [0.1, 0.2, 0.1]])
def test_perfect_tetrahedron_peaks_at_109_47(center):
    """Also with the Zn at a cell corner, where three arms cross periodic boundaries."""
    atoms = tetrahedron(np.array(center))
    atoms.wrap()
    angles = BondAngles(bins=360).compute(atoms)
    assert angles.n_angles == 6
    assert angles.mean == pytest.approx(TETRAHEDRAL, abs=1e-9)
    assert abs(angles.most_probable - TETRAHEDRAL) <= 0.25


def test_square_planar_has_two_thirds_at_90_and_one_third_at_180():
    pos = [[5, 5, 5], [7, 5, 5], [3, 5, 5], [5, 7, 5], [5, 3, 5]]
    atoms = Atoms("ZnN4", positions=pos, cell=np.eye(3) * 10, pbc=True)
    angles = BondAngles(bins=180).compute(atoms)
    mass = angles.distribution * np.diff(angles.bin_edges)
    assert mass.sum() == pytest.approx(1.0)
    assert mass[90] == pytest.approx(2 / 3)  # bin [90, 91)
    assert mass[-1] == pytest.approx(1 / 3)  # bin [179, 180], 180° included
    assert angles.mean == pytest.approx(120.0)


def test_pmf_zero_at_most_probable_and_sine_correction():
    atoms = tetrahedron(np.array([5.0, 5.0, 6.0]))
    twisted = atoms.copy()
    twisted.positions[1] += [0.3, -0.2, 0.1]
    angles = BondAngles(bins=90).compute([atoms, twisted])
    pmf = angles.pmf(300.0)
    assert pmf.min() == 0.0
    assert angles.bin_centers[np.argmin(pmf)] == angles.most_probable
    assert np.isinf(pmf[0])
    corrected = angles.pmf(300.0, solid_angle=True)
    finite = np.isfinite(pmf)
    # dividing by sin(theta) changes the PMF by k_B T ln(sin) up to a constant
    shift = corrected[finite] - pmf[finite]
    expected = 8.314462618e-3 * 300 * np.log(np.sin(np.radians(angles.bin_centers[finite])))
    np.testing.assert_allclose(shift - shift[0], expected - expected[0], atol=1e-6)


def test_zif4_crystal_and_glasses(crystal_lmp, glasses):
    crystal = BondAngles().compute(crystal_lmp)
    assert crystal.n_angles == 16 * 6
    glass = BondAngles().compute(glasses)
    # aMOF on the same glasses: mean 109.5°, most probable ~107.8° (bin width dependent)
    assert glass.mean == pytest.approx(109.5, abs=0.3)
    assert 104.0 < glass.most_probable < 110.0
    assert glass.n_angles < 10 * crystal.n_angles  # under-coordinated Zn have fewer angles
    data = json.loads(json.dumps(glass.to_dict()))
    assert data["n_angles"] == glass.n_angles
    assert "angle" in glass.plot().get_xlabel()


def test_no_bonds_is_a_clear_error():
    atoms = Atoms("ZnN", positions=[[0, 0, 0], [4, 0, 0]], cell=np.eye(3) * 10, pbc=True)
    with pytest.raises(AsemlZifError, match="no N-Zn-N angle"):
        BondAngles().compute(atoms).mean
