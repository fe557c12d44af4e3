"""The conformance mixin (aseml_zif.testing) on EMT, on deliberately wrong calculators, and on
the paper's NequIP model (float64) on the crystal, one ab initio glass and a small triclinic cell.

The paper's model costs seconds per call on 272 atoms: the default run checks forces and stress
by finite differences on the crystal and forces on one glass (8 calls); the invariance,
extensivity and NVE checks on those structures are ``slow``. Every check runs by default on the
small triclinic cell (8 atoms, cheap) and on EMT.
"""
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import all_changes
from ase.calculators.emt import EMT

from aseml_zif.testing import CalculatorConformance
from aseml_zif.testing import conformance as cf
from aseml_zif.testing.toy_model import toy_zif_cell


def _sheared_copper():
    """32-atom rattled, sheared (triclinic) Cu cell."""
    atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((2, 2, 2))
    shear = np.eye(3)
    shear[0, 1], shear[1, 2] = 0.04, -0.03
    atoms.set_cell(atoms.cell[:] @ shear, scale_atoms=True)
    atoms.rattle(0.05, seed=3)
    return atoms


class _TamperedEMT(EMT):
    """EMT with one deliberate violation of physics (to prove the checks can fail)."""

    def __init__(self, tamper):
        super().__init__()
        self.tamper = tamper

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        r = self.results
        positions = self.atoms.positions
        if self.tamper == "flipped forces":
            r["forces"] = -r["forces"]
        elif self.tamper == "flipped stress":
            r["stress"] = -r["stress"]
        elif self.tamper == "external field":  # consistent E and F, but not translation invariant
            field = np.array([0.3, -0.2, 0.1])
            r["energy"] = r["free_energy"] = r["energy"] - float(np.sum(positions @ field))
            r["forces"] = r["forces"] + field
        elif self.tamper == "index-weighted":  # translation/rotation invariant, not permutation
            weights = np.linspace(0.0, 1.0, len(positions))[:, None]
            centred = positions - positions.mean(axis=0)
            r["energy"] = r["free_energy"] = r["energy"] + 0.5 * float(np.sum(weights * centred**2))
            pull = weights * centred
            r["forces"] = r["forces"] - (pull - pull.mean(axis=0))
        elif self.tamper == "energy offset":  # not extensive
            r["energy"] = r["free_energy"] = r["energy"] + 1.0


@pytest.fixture(scope="module")
def copper():
    return _sheared_copper()


class TestEMTConformance(CalculatorConformance):
    """The mixin applied to ASE's EMT: every check, including 200 NVE steps, must pass."""

    nve_max_frequency = 250.0  # Cu: highest phonon ≈ 7.5 THz

    @pytest.fixture
    def calculator(self):
        return EMT()

    @pytest.fixture
    def structure(self, copper):
        return copper


@pytest.mark.parametrize(
    "tamper, check",
    [
        ("flipped forces", "test_forces_are_energy_gradient"),
        ("flipped stress", "test_stress_is_strain_derivative"),
        ("external field", "test_translation_invariance"),
        ("external field", "test_rotation_covariance"),
        ("index-weighted", "test_permutation_invariance"),
        ("energy offset", "test_extensivity"),
        ("flipped forces", "test_nve_energy_conservation"),
    ],
)
def test_mixin_catches_wrong_calculator(copper, tamper, check):
    mixin = TestEMTConformance()
    mixin.nve_steps = 50  # flipped forces heat the system within a few steps
    with pytest.raises(AssertionError):
        getattr(mixin, check)(_TamperedEMT(tamper), copper)


def test_mixed_strain_direction_catches_flipped_stress(copper):
    cf.check_stress_is_strain_derivative(EMT(), copper, split=False)
    with pytest.raises(AssertionError, match="mixed strain"):
        cf.check_stress_is_strain_derivative(_TamperedEMT("flipped stress"), copper, split=False)


@pytest.mark.parametrize("tamper", ["external field", "index-weighted", "energy offset"])
def test_consistent_tampering_still_passes_derivative_checks(copper, tamper):
    """The tampered calculators that keep F = −∇E pass the force check: the failures above
    come from the property each check tests, not from a broken calculator."""
    cf.check_forces_are_energy_gradient(_TamperedEMT(tamper), copper, atol=1e-3)


def test_nve_bound_scales_with_timestep_squared():
    from ase import units

    small = cf.nve_energy_error_bound(300, 0.5 * units.fs, 3100)
    large = cf.nve_energy_error_bound(300, 1.0 * units.fs, 3100)
    assert large / small == pytest.approx(4.0)
    # (ω dt)²/4 of (3/2) kT at 3100 cm⁻¹ and 0.5 fs: 2.1 % of 38.8 meV
    assert small == pytest.approx(0.0213 * 1.5 * units.kB * 300, rel=0.02)


def test_random_rotation_is_proper():
    r = cf.random_rotation(np.random.default_rng(1))
    assert np.allclose(r @ r.T, np.eye(3)) and np.linalg.det(r) == pytest.approx(1.0)


# --- the paper's model, float64 ---------------------------------------------------------------


@pytest.fixture(scope="session")
def paper_calc32(paper_model_path):
    from aseml_zif.calculator import load_potential

    return load_potential(paper_model_path, device="cpu")


class _PaperModel(CalculatorConformance):
    force_components = 0  # the directional derivative covers all 3N components in 2 calls
    stress_split_directions = False  # one mixed strain direction: 2 calls
    force_atol = 1e-3
    stress_atol = 2e-6
    energy_atol_per_atom = 1e-8

    @pytest.fixture
    def calculator(self, paper_calc64):
        return paper_calc64


@pytest.mark.paper_model
class TestPaperModelCrystal(_PaperModel):
    @pytest.fixture
    def structure(self, crystal_lmp):
        return crystal_lmp

    @pytest.mark.slow
    def test_extensivity(self, paper_calc32, structure):
        """2176 atoms (8–11 GB): in float32, the precision of production runs."""
        super().test_extensivity(paper_calc32, structure)

    @pytest.mark.slow
    def test_nve_energy_conservation(self, paper_calc32, structure):
        """200 steps of 0.5 fs on 272 atoms in float32 (about 10–20 min here)."""
        super().test_nve_energy_conservation(paper_calc32, structure)


@pytest.mark.paper_model
class TestPaperModelGlass(_PaperModel):
    test_extensivity = None  # covered on the crystal and the small cell
    test_nve_energy_conservation = None

    @pytest.fixture
    def structure(self, glasses):
        return glasses[0]

    @pytest.mark.slow
    def test_stress_is_strain_derivative(self, calculator, structure):
        super().test_stress_is_strain_derivative(calculator, structure)


@pytest.mark.paper_model
class TestPaperModelSmallTriclinicCell(_PaperModel):
    """Every check but NVE on an 8-atom triclinic cell far smaller than 2·r_max (12 Å)."""

    test_nve_energy_conservation = None  # a random 8-atom cell is no system to run MD on
    force_components = 3

    @pytest.fixture
    def structure(self):
        return toy_zif_cell()
