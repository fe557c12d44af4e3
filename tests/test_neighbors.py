"""Neighbour lists: non-finite coordinates are a StructureError naming the atoms, not vesin's
RuntimeError; the reused (Verlet) list of MD gives the pairs of a fresh one."""
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.geometry import cellpar_to_cell

from aseml_zif.errors import StructureError
from aseml_zif.neighbors import VerletList, atom_labels, neighbor_list
from aseml_zif.structures import zif4_crystal


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


# --- VerletList: the same pairs as a fresh list, reused while atoms move little -------------


def _assert_same_pairs(found, expected):
    """Same pairs ``(i, j, S)`` (in any order) at the same distances (Å)."""
    pairs = [{(a, b, tuple(s)): r for a, b, s, r in zip(i.tolist(), j.tolist(), S.tolist(), d)}
             for i, j, S, d in (found, expected)]
    assert pairs[0].keys() == pairs[1].keys()
    keys = list(pairs[1])
    np.testing.assert_allclose([pairs[0][k] for k in keys], [pairs[1][k] for k in keys], atol=1e-12)


@pytest.mark.parametrize(
    "atoms",
    [
        zif4_crystal(),
        Atoms("ZnN2C2H", cell=cellpar_to_cell([2.9, 3.1, 3.3, 70.0, 110.0, 95.0]), pbc=True,
              scaled_positions=np.random.default_rng(3).uniform(size=(6, 3))),  # many images
        molecule("CH3CH2OH"),
    ],
    ids=["zif4", "small-triclinic", "molecule"],
)
def test_verlet_list_gives_a_fresh_lists_pairs_and_rebuilds_only_after_moves(atoms, monkeypatch):
    import aseml_zif.neighbors as neighbors

    builds = []
    vesin = neighbors._vesin
    monkeypatch.setattr(neighbors, "_vesin", lambda *a, **k: builds.append(1) or vesin(*a, **k))
    atoms = atoms.copy()
    verlet = VerletList(3.0, skin=0.6)
    rng = np.random.default_rng(0)
    for step in range(12):
        if step == 5:
            atoms.positions[0] += 0.31  # one atom beyond skin / 2: rebuild
        elif step in (8, 10) and atoms.pbc.all():
            strain = 0.01 if step == 8 else 0.1  # 0.6 Å skin: 10 % at 3 Å needs a rebuild
            atoms.set_cell(atoms.cell[:] * (1 + strain), scale_atoms=True)
        else:
            atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
        expected = neighbors.neighbor_list(atoms, 3.0)  # counted in builds too
        _assert_same_pairs(verlet.compute(atoms, "ijSd"), expected)
    fresh_lists = 12
    assert len(builds) - fresh_lists == (3 if atoms.pbc.all() else 2)


def test_verlet_list_order_does_not_depend_on_when_it_was_rebuilt():
    atoms = zif4_crystal()
    used = VerletList(4.0)
    used.compute(atoms)
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    for reused, fresh in zip(used.compute(atoms, "ijSdD"), VerletList(4.0).compute(atoms, "ijSdD")):
        np.testing.assert_array_equal(reused, fresh)


def test_verlet_list_refuses_a_nan_position_after_a_reuse():
    atoms = bulk("Cu", cubic=True).repeat(2)
    verlet = VerletList(3.0)
    verlet.compute(atoms)
    atoms.positions[5, 0] = np.nan
    with pytest.raises(StructureError, match=r"non-finite position of 1 atom\(s\) \(of 32\): Cu5$"):
        verlet.compute(atoms)


def test_verlet_list_between_full_evaluations_gives_a_fresh_lists_pairs_bit_for_bit():
    """MD-like moves: only the candidates near the cut-off are evaluated again, same answer."""
    atoms = zif4_crystal()
    verlet = VerletList(4.0)
    full_evaluations = []
    evaluate_all = verlet._full_test
    verlet._full_test = lambda *args: full_evaluations.append(1) or evaluate_all(*args)
    velocities = np.random.default_rng(2).normal(scale=0.003, size=atoms.positions.shape)
    changes, last = 0, None
    for _ in range(30):
        atoms.positions += velocities  # Å per step
        found = verlet.compute(atoms, "ijSdD")
        for reused, fresh in zip(found, VerletList(4.0).compute(atoms, "ijSdD")):
            np.testing.assert_array_equal(reused, fresh)
        changes += last is not None and not np.array_equal(found[0], last)
        last = found[0]
    assert changes >= 10  # pairs crossed the cut-off between calls
    assert verlet.generation == 1 and len(full_evaluations) <= 3
