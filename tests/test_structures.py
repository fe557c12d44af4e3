import numpy as np
import pytest

from aseml_zif import AsemlZifError
from aseml_zif.errors import StructureError
from aseml_zif.neighbors import neighbor_list
from aseml_zif.structures import supercell, zif4_crystal


def _zn_n_bonds(atoms):
    i, j, d = neighbor_list(atoms, 2.5, "ijd")
    zn_n = (atoms.numbers[i] == 30) & (atoms.numbers[j] == 7)
    return i[zn_n], d[zn_n]


def _imidazolates_intact(atoms):
    """Each N has 2 C within 1.45 Å, each C has 1 H within 1.15 Å, C/N counts per ring 3/2."""
    i, j, d = neighbor_list(atoms, 1.6, "ijd")
    z = atoms.numbers
    n_idx = np.where(z == 7)[0]
    c_idx = np.where(z == 6)[0]
    cn_nc = np.bincount(i[(z[i] == 7) & (z[j] == 6) & (d < 1.45)], minlength=len(atoms))
    cn_ch = np.bincount(i[(z[i] == 6) & (z[j] == 1) & (d < 1.15)], minlength=len(atoms))
    return np.all(cn_nc[n_idx] == 2) and np.all(cn_ch[c_idx] == 1)


def test_zif4_crystal_composition_and_bonds():
    atoms = zif4_crystal()
    assert len(atoms) == 272
    assert atoms.get_chemical_formula() == "C96H96N64Zn16"
    centres, d = _zn_n_bonds(atoms)
    assert np.all(np.bincount(centres, minlength=len(atoms))[atoms.numbers == 30] == 4)
    assert d.min() > 1.9 and d.max() < 2.1
    assert _imidazolates_intact(atoms)
    import spglib

    cell = (atoms.cell[:], atoms.get_scaled_positions(), atoms.numbers)
    assert spglib.get_spacegroup(cell, symprec=1e-3) == "Pbca (61)"


def test_zif4_crystal_matches_shared_crystal(crystal_lmp):
    ours = zif4_crystal()
    assert ours.get_chemical_formula() == crystal_lmp.get_chemical_formula()
    np.testing.assert_allclose(ours.cell.cellpar(), crystal_lmp.cell.cellpar(), rtol=0.01)
    # the shared file is a thermal snapshot: same topology, bonds still in range
    centres, d = _zn_n_bonds(crystal_lmp)
    assert np.all(np.bincount(centres, minlength=len(crystal_lmp))[crystal_lmp.numbers == 30] == 4)


def test_supercell():
    atoms = zif4_crystal()
    big = supercell(atoms, (2, 1, 3))
    assert len(big) == 6 * len(atoms)
    np.testing.assert_allclose(big.cell.lengths(), atoms.cell.lengths() * [2, 1, 3])
    with pytest.raises(StructureError):
        supercell(atoms, (0, 1, 1))
    with pytest.raises(AsemlZifError):
        supercell(atoms, (1.5, 1, 1))
