"""Neighbour lists: non-finite coordinates are a StructureError naming the atoms, not vesin's
RuntimeError."""
import numpy as np
import pytest
from ase.build import bulk, molecule

from aseml_zif.errors import StructureError
from aseml_zif.neighbors import atom_labels, neighbor_list


def test_nan_position_names_the_atom():
    atoms = bulk("NaCl", "rocksalt", a=5.64, cubic=True)
    atoms.positions[3] = [np.nan, 0.0, 1.0]
    with pytest.raises(StructureError, match=r"non-finite position of 1 atom\(s\) \(of 8\): Cl3$"):
        neighbor_list(atoms, 3.0)


def test_infinite_positions_of_a_molecule_are_all_named():
    atoms = molecule("CH4")
    atoms.positions[[0, 2]] = np.inf
    with pytest.raises(StructureError, match=r"2 atom\(s\) \(of 5\): C0, H2$"):
        neighbor_list(atoms, 2.0, "ij")


def test_non_finite_cell_is_refused_only_when_periodic():
    atoms = bulk("Cu", cubic=True)
    atoms.cell[1, 1] = np.nan
    with pytest.raises(StructureError, match="non-finite cell"):
        neighbor_list(atoms, 3.0)
    atoms.pbc = False  # the cell of a molecule is not used
    i, j = neighbor_list(atoms, 3.0, "ij")
    assert len(i) == len(j) == 12  # 4 atoms of a cube face-centred, each with 3 neighbours


def test_atom_labels_count_the_atoms_left_out():
    atoms = bulk("Cu", cubic=True).repeat(3)
    assert atom_labels(atoms, range(10), limit=3) == "Cu0, Cu1, Cu2 and 7 more"
