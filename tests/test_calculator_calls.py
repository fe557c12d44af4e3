"""The calculator's per-call path in MD: a neighbour list reused between steps, model types kept
while the elements stay, ASE's state check answered without its cost — none of which may change
a result (toy legacy model, compared with fresh calculators and with ASE's own check)."""
import numpy as np
import pytest
from ase.calculators.calculator import compare_atoms

from aseml_zif.calculator import load_potential
from aseml_zif.errors import StructureError, UnknownSpeciesError
from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model


@pytest.fixture(scope="module")
def toy_path(tmp_path_factory):
    return write_toy_legacy_model(tmp_path_factory.mktemp("toy") / "toy.pth")


def _results(calc, atoms):
    atoms = atoms.copy()
    atoms.calc = calc
    return atoms.get_potential_energy(), atoms.get_forces(), atoms.get_stress()


def test_small_moves_reuse_the_list_and_give_a_fresh_calculators_results_exactly(toy_path):
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell().repeat(2)
    rng = np.random.default_rng(0)
    for move in [0.0, 0.02, 0.02, 0.6, 0.02]:  # 0.6 Å: beyond the skin, the list is rebuilt
        atoms.positions += rng.normal(scale=move, size=atoms.positions.shape)
        reused = _results(calc, atoms)
        fresh = _results(load_potential(toy_path, device="cpu"), atoms)
        for a, b in zip(reused, fresh):
            np.testing.assert_array_equal(a, b)  # same edges in the same order: same numbers


def test_model_types_follow_changed_elements(toy_path):
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell()
    before = _results(calc, atoms)[0]
    atoms.symbols[3] = "N"  # a C becomes an N, positions kept
    after = _results(calc, atoms)[0]
    assert after != before
    assert after == _results(load_potential(toy_path, device="cpu"), atoms)[0]
    atoms.symbols[0] = "Cu"
    with pytest.raises(UnknownSpeciesError, match="Cu"):
        _results(calc, atoms)


def _variants(atoms):
    """Copies of ``atoms`` changed in each way ASE's check looks at, or not at all."""
    names = ["same", "momenta only", "sub-tolerance move", "tiny move", "nan position", "cell",
             "pbc", "element", "charges", "magmoms"]
    out = {name: atoms.copy() for name in names}
    out["momenta only"].set_momenta(np.ones((len(atoms), 3)))
    smallest = np.unravel_index(np.argmin(np.abs(atoms.positions)), atoms.positions.shape)
    out["sub-tolerance move"].positions[smallest] += 5e-16  # other bits, within ASE's 1e-15 Å
    out["tiny move"].positions[smallest] += 1e-12
    out["nan position"].positions[2, 1] = np.nan
    out["cell"].set_cell(atoms.cell[:] * 1.001)
    out["pbc"].pbc = [True, False, True]
    out["element"].numbers[0] = 1
    out["charges"].set_initial_charges(np.zeros(len(atoms)))
    out["magmoms"].set_initial_magnetic_moments(np.ones(len(atoms)))
    out["one atom fewer"] = atoms[:-1]
    return out


def test_state_check_answers_as_ases(toy_path):
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell()
    _results(calc, atoms)
    for name, variant in _variants(atoms).items():
        assert sorted(calc.check_state(variant)) == sorted(compare_atoms(calc.atoms, variant)), name
    variants = _variants(atoms)
    assert not np.array_equal(variants["sub-tolerance move"].positions, atoms.positions)
    assert calc.check_state(variants["sub-tolerance move"]) == []
    assert calc.check_state(variants["tiny move"]) == ["positions"]


def test_state_check_after_a_failed_calculation_answers_as_ases(toy_path):
    """Equal bytes are no 'unchanged' when they hold a NaN (the copy of a failed calculation)."""
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell()
    _results(calc, atoms)
    broken = atoms.copy()
    broken.positions[2, 1] = np.nan
    with pytest.raises(StructureError):
        calc.calculate(broken, ["forces"])
    assert np.isnan(calc.atoms.positions[2, 1])
    assert calc.check_state(broken) == compare_atoms(calc.atoms, broken) == ["positions"]


def test_per_edge_type_cut_offs_prune_the_graph_as_a_fresh_list_does():
    """Asymmetric per-edge-type cut-offs (centre type, neighbour type), over MD-like moves."""
    import torch

    from aseml_zif.calculator.formats import ModelMetadata
    from aseml_zif.calculator.inputs import ModelInputs
    from aseml_zif.verlet import VerletList
    from aseml_zif.structures import zif4_crystal

    names = ("H", "C", "N", "Zn")
    cutoffs = np.array([[2.5, 3.0, 3.2, 3.5], [3.1, 4.0, 3.6, 3.9],
                        [3.3, 3.7, 3.8, 4.0], [3.4, 3.8, 2.9, 4.0]])
    metadata = ModelMetadata(path=None, format="nequip-package", architecture="nequip",
                             nequip_version="0.7", r_max=4.0, type_names=names, dtype="float64",
                             per_edge_type_cutoff=tuple(map(tuple, cutoffs)), outputs=("forces",),
                             converted_from=None)
    inputs = ModelInputs(metadata, torch.device("cpu"), torch.float64)
    atoms = zif4_crystal()
    types = np.array([names.index(s) for s in atoms.get_chemical_symbols()])
    velocities = np.random.default_rng(4).normal(scale=0.003, size=atoms.positions.shape)
    for _ in range(8):
        atoms.positions += velocities
        i, j, shifts, d = VerletList(4.0).compute(atoms, "ijSd")
        kept = d < cutoffs[types[i], types[j]]
        assert not np.array_equal(kept, d < cutoffs[types[j], types[i]])  # asymmetric indeed
        got = inputs(atoms)
        np.testing.assert_array_equal(got["edge_index"].numpy(), np.stack((i[kept], j[kept])))
        np.testing.assert_array_equal(got["edge_cell_shift"].numpy(), shifts[kept])


def test_model_calls_and_their_wall_time_are_counted(toy_path):
    """``model_calls``/``model_time_s``: one per model evaluation (not per property asked for),
    within the wall time of the calls; the outputs come back detached (graph freed in the call)."""
    import time

    calc = load_potential(toy_path, device="cpu")
    assert (calc.model_calls, calc.model_time_s) == (0, 0.0)
    atoms = toy_zif_cell()
    start = time.perf_counter()
    _results(calc, atoms)  # energy, forces and stress: one evaluation
    atoms.positions[0, 0] += 0.01
    _results(calc, atoms)
    wall = time.perf_counter() - start
    assert calc.model_calls == 2 and 0 < calc.model_time_s < wall
    out = calc.evaluate(calc.build_inputs(atoms))
    assert calc.model_calls == 3 and not any(v.requires_grad for v in out.values())


def test_edges_of_every_md_step_are_a_fresh_lists_across_rebuilds_and_cell_changes(toy_path, tmp_path):
    """A hot NVT run, then NPT (a new cell at every step): at every model call the edges are
    those of a fresh vesin list (same pairs and shifts) in the order of a fresh calculator."""
    from aseml_zif.md import Stage, run
    from aseml_zif.neighbors import neighbor_list

    calc = load_potential(toy_path, device="cpu")
    build, checked = calc.build_inputs, []

    def checked_inputs(atoms):
        got = build(atoms)
        i, j, shifts = neighbor_list(atoms, calc.r_max, "ijS")
        edges = np.concatenate((got["edge_index"].numpy().T, got["edge_cell_shift"].numpy()), axis=1)
        assert sorted(map(tuple, edges.tolist())) == sorted(
            map(tuple, np.column_stack((i, j, shifts)).astype(float).tolist()))
        fresh = load_potential(toy_path, device="cpu").build_inputs(atoms)
        for key in ("edge_index", "edge_cell_shift"):
            assert got[key].numpy().tobytes() == fresh[key].numpy().tobytes()
        checked.append(calc.inputs.neighbors.generation)
        return got

    calc.build_inputs = checked_inputs
    stages = [Stage("nvt", 0.06, 2500.0, tdamp_fs=10),
              Stage("npt", 0.03, 2500.0, pressure_GPa=5.0, tdamp_fs=10, pdamp_fs=20)]
    with pytest.warns(UserWarning, match="fs"):  # a long step for 2500 K: moves fast
        run(toy_zif_cell().repeat(2), calc, stages, tmp_path, timestep_fs=2.0, watchdog=False,
            seed=0, progress=False)
    assert len(checked) == 1 + 30 + 15  # every call
    assert checked[30] >= 3 and checked[-1] >= checked[30] + 2  # rebuilds in NVT and in NPT


def test_checked_state_is_proven_only_for_the_state_and_results_of_the_last_success(toy_path):
    calc = load_potential(toy_path, device="cpu")
    atoms = toy_zif_cell()
    assert not calc.holds_checked_state(atoms)  # nothing calculated yet
    atoms.calc = calc
    atoms.get_forces()
    assert calc.holds_checked_state(atoms) and calc.holds_checked_state(atoms.copy())
    moved, strained = atoms.copy(), atoms.copy()
    moved.positions[3, 0] += 1e-12
    strained.set_cell(atoms.cell[:] * 1.001, scale_atoms=False)
    assert not calc.holds_checked_state(moved) and not calc.holds_checked_state(strained)
    calc.results = dict(calc.results)  # results that are no longer the calculation's own
    assert not calc.holds_checked_state(atoms)
    atoms.get_forces()
    calc.results["energy"] = float("inf")  # per-atom energies finite, their sum overflowing
    assert not calc.holds_checked_state(atoms)
    broken = atoms.copy()
    broken.positions[2, 1] = np.nan
    with pytest.raises(StructureError):
        calc.get_forces(broken)
    assert not calc.holds_checked_state(broken) and not calc.holds_checked_state(atoms)
