import numpy as np
import pytest
from ase.io import write

from aseml_zif.errors import AsemlZifError, StructureError
from aseml_zif.io import read_structure
from aseml_zif.structures import zif4_crystal


def test_lammps_types_from_masses(crystal_lmp):
    assert crystal_lmp.get_chemical_formula() == "C96H96N64Zn16"
    frac = crystal_lmp.get_scaled_positions(wrap=False)
    assert np.all((frac >= 0) & (frac < 1))


def test_lammps_explicit_species(shared_dir):
    path = shared_dir / "structures" / "zif4_crystal.lmp"
    atoms = read_structure(path, species=["C", "H", "N", "Zn"])
    assert atoms.get_chemical_formula() == "C96H96N64Zn16"
    swapped = read_structure(path, species=["H", "C", "N", "Zn"])
    assert swapped.get_chemical_formula() == "C96H96N64Zn16"
    assert (swapped.numbers[atoms.numbers == 6] == 1).all()
    with pytest.raises(StructureError, match="type 4"):
        read_structure(path, species=["C", "H", "N"])


def test_cif_and_extxyz_roundtrip(tmp_path, glass_paths):
    glass = read_structure(glass_paths[0])
    assert len(glass) == 272 and np.all(glass.pbc)
    atoms = zif4_crystal()
    atoms.positions += 20.0  # outside the cell: reader must wrap
    write(tmp_path / "x.extxyz", atoms)
    back = read_structure(tmp_path / "x.extxyz")
    frac = back.get_scaled_positions(wrap=False)
    assert np.all((frac >= 0) & (frac < 1))
    assert back.get_chemical_formula() == "C96H96N64Zn16"


def test_bad_inputs(tmp_path):
    with pytest.raises(StructureError, match="no such file"):
        read_structure(tmp_path / "missing.cif")
    bad = tmp_path / "bad.lmp"
    bad.write_text("garbage\n\n 3 atoms\n 1 atom types\n\nMasses\n\n 1 500.0\n")
    with pytest.raises(AsemlZifError, match="bad.lmp"):
        read_structure(bad)
    from ase import Atoms

    write(tmp_path / "mol.xyz", Atoms("H2", positions=[[0, 0, 0], [0, 0, 0.74]]))
    with pytest.raises(StructureError, match="periodic"):
        read_structure(tmp_path / "mol.xyz")


def test_p1_cif_fast_path_matches_ase(glass_paths):
    from ase.io import read

    ours = read_structure(glass_paths[3])
    ref = read(str(glass_paths[3]))
    ref.wrap()
    assert (ours.numbers == ref.numbers).all()
    np.testing.assert_allclose(ours.positions, ref.positions, atol=1e-10)
    np.testing.assert_allclose(ours.cell[:], ref.cell[:], atol=1e-10)
    assert ours.pbc.all()


def test_symmetric_cif_is_expanded(tmp_path):
    """A CIF with a space group goes through ASE's expansion (not the P1 shortcut)."""
    (tmp_path / "nacl.cif").write_text(
        "data_NaCl\n_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n"
        "_cell_length_a 5.64\n_cell_length_b 5.64\n_cell_length_c 5.64\n"
        "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
        "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
        "_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n"
    )
    back = read_structure(tmp_path / "nacl.cif")
    assert back.get_chemical_formula() == "Cl4Na4"
