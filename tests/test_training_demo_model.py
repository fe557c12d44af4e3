"""The shipped demo model: loads as "demo", is small, conservative, and close to its teacher."""
import numpy as np
import pytest

import aseml_zif
from aseml_zif._resources import resource_path

DEMO_FILE = "demo_model/zif4_demo.nequip.zip"


@pytest.fixture(scope="module")
def demo():
    return aseml_zif.load_potential("demo", device="cpu")


def test_shipped_file_and_card():
    path = resource_path(DEMO_FILE)
    assert path.stat().st_size < 5e6
    card = resource_path("demo_model/CARD.md").read_text()
    assert "meV/atom" in card and "µs/atom/call" in card


def test_forces_are_minus_energy_gradient(demo, crystal_lmp):
    atoms = crystal_lmp.copy()
    atoms.calc = demo
    forces = atoms.get_forces()
    h = 0.01
    for i in np.argsort(-np.abs(forces).max(axis=1))[:3]:  # atoms with the largest forces
        c = int(np.argmax(np.abs(forces[i])))
        energies = []
        for sign in (1, -1):
            shifted = atoms.copy()
            shifted.calc = demo
            shifted.positions[i, c] += sign * h
            energies.append(shifted.get_potential_energy())
        assert -(energies[0] - energies[1]) / (2 * h) == pytest.approx(forces[i, c], abs=0.03)


def test_stress_is_strain_derivative(demo, crystal_lmp):
    atoms = crystal_lmp.copy()
    atoms.calc = demo
    stress = atoms.get_stress(voigt=False)
    eps, cell = 2e-3, atoms.cell[:].copy()
    energies = []
    for sign in (1, -1):
        strained = atoms.copy()
        strained.calc = demo
        strained.set_cell(cell @ (np.eye(3) + sign * eps * np.diag([1.0, 0, 0])), scale_atoms=True)
        energies.append(strained.get_potential_energy())
    fd = (energies[0] - energies[1]) / (2 * eps) / atoms.get_volume()
    assert fd == pytest.approx(stress[0, 0], abs=2e-4)  # eV/Å³ (~30 MPa)


@pytest.mark.paper_model
def test_close_to_teacher_on_a_glass(demo, glasses, paper_model_path):
    glass = glasses[4]
    student, teacher = glass.copy(), glass.copy()
    student.calc = demo
    teacher.calc = aseml_zif.load_potential(paper_model_path, device="cpu")
    f_s, f_t = student.get_forces().ravel(), teacher.get_forces().ravel()
    assert np.corrcoef(f_s, f_t)[0, 1] > 0.9
    e_s = student.get_potential_energy() / len(glass)
    e_t = teacher.get_potential_energy() / len(glass)
    assert abs(e_s - e_t) < 0.02  # eV/atom
