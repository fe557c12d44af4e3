"""evaluate / efficiency / learning curves / results table on analytic cases."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from ase import Atoms, units
from ase.calculators.lj import LennardJones

from aseml_zif.data import label
from aseml_zif.training import (evaluate, plot_learning_curve, plot_parity, predict,
                                read_learning_curve, results_table)
from aseml_zif.errors import AsemlZifError, StructureError


def _lj(epsilon):
    return LennardJones(sigma=1.0, epsilon=epsilon, rc=3.0, smooth=True)


@pytest.fixture(scope="module")
def lj_frames(tmp_path_factory):
    rng = np.random.default_rng(1)
    frames = []
    for k in range(4):
        a = Atoms("Ar8", scaled_positions=[[i / 2, j / 2, l / 2] for i in (0, 1)
                                           for j in (0, 1) for l in (0, 1)],
                  cell=np.eye(3) * (2.2 + 0.05 * k), pbc=True)
        a.positions += rng.normal(0, 0.05, a.positions.shape)
        frames.append(a)
    return label(frames, _lj(0.01), tmp_path_factory.mktemp("lj") / "ref.xyz", progress=False)


def test_perfect_model_has_zero_error(lj_frames):
    result = evaluate(_lj(0.01), lj_frames, progress=False)
    assert result["energy_mae_meV_per_atom"] == pytest.approx(0, abs=1e-9)
    assert result["force_mae_meV_per_A"] == pytest.approx(0, abs=1e-6)
    assert result["stress_mae_MPa"] == pytest.approx(0, abs=1e-6)
    assert result["n_frames"] == 4


def test_errors_of_a_scaled_potential(lj_frames):
    # LJ energies, forces and stresses are linear in epsilon: errors are 10 % of the references
    result = evaluate(_lj(0.011), lj_frames, timing_calls=3, warmup_calls=1, progress=False)
    e = np.array([f.get_potential_energy() / len(f) for f in lj_frames])
    f = np.concatenate([fr.get_forces() for fr in lj_frames])
    s = np.array([fr.get_stress(voigt=False) for fr in lj_frames])
    assert result["energy_mae_meV_per_atom"] == pytest.approx(0.1 * np.abs(e).mean() * 1e3, rel=1e-6)
    assert result["force_mae_meV_per_A"] == pytest.approx(0.1 * np.abs(f).mean() * 1e3, rel=1e-5)
    assert result["stress_mae_MPa"] == pytest.approx(
        0.1 * np.abs(s).mean() / units.GPa * 1e3, rel=1e-5)
    assert result["us_per_atom_per_call"] > 0


def test_force_errors_by_species_weigh_to_the_total(lj_frames):
    """Half the atoms relabelled Kr: each species' MAE over its own rows, and the atom-weighted
    mean of the two is the total MAE."""
    frames = []
    for f in lj_frames:
        g = f.copy()
        g.symbols[:3] = "Kr"  # LJ ignores species: same forces, two species of 3 and 5 atoms
        g.calc = f.calc
        frames.append(g)
    result = evaluate(_lj(0.011), frames, progress=False)
    by = result["force_mae_meV_per_A_by_species"]
    ref = np.array([fr.get_forces() for fr in lj_frames])
    assert set(by) == {"Ar", "Kr"}
    assert by["Kr"] == pytest.approx(0.1 * np.abs(ref[:, :3]).mean() * 1e3, rel=1e-5)
    assert by["Ar"] == pytest.approx(0.1 * np.abs(ref[:, 3:]).mean() * 1e3, rel=1e-5)
    assert (3 * by["Kr"] + 5 * by["Ar"]) / 8 == pytest.approx(result["force_mae_meV_per_A"],
                                                              rel=1e-9)


def test_parity_plot_and_bad_frames(lj_frames):
    p = predict(_lj(0.011), lj_frames, progress=False)
    assert p["forces_pred"].shape == (32, 3) and p["stress_pred"].shape == (4, 3, 3)
    axes = plot_parity(p)
    assert len(axes) == 2 and "eV/atom" in axes[0].get_xlabel()
    with pytest.raises(StructureError, match="frame 0 has no reference"):
        evaluate(_lj(0.01), [Atoms("Ar", cell=np.eye(3) * 3, pbc=True)], progress=False)


def _write_metrics(path):
    """A Lightning CSVLogger file as nequip-train writes it (step rows and epoch rows)."""
    header = ["epoch", "step", "train_metric_epoch/forces_mae", "train_loss_step/forces_mse",
              "val0_epoch/forces_mae", "val0_epoch/per_atom_energy_mae"]
    rows = [[0, 0, "", 0.9, "", ""], [0, 1, 0.5, "", "", ""], [0, 1, "", "", 0.6, 0.02],
            [1, 2, "", 0.4, "", ""], [1, 3, 0.3, "", "", ""], [1, 3, "", "", 0.35, 0.01]]
    path.write_text("\n".join(",".join(map(str, r)) for r in [header] + rows) + "\n")
    return path


def test_learning_curve(tmp_path):
    path = _write_metrics(tmp_path / "metrics.csv")
    curve = read_learning_curve(path)
    assert list(curve["epoch"]) == [0, 1]
    assert np.allclose(curve["val0_epoch/forces_mae"], [0.6, 0.35])
    assert np.allclose(curve["train_metric_epoch/forces_mae"], [0.5, 0.3])
    ax = plot_learning_curve(path, "forces_mae")
    assert len(ax.get_lines()) == 2
    with pytest.raises(AsemlZifError, match="per_atom_energy_mae"):
        plot_learning_curve(path, "stress_mae")
    with pytest.raises(AsemlZifError, match="no such metrics file"):
        read_learning_curve(tmp_path / "missing.csv")


def test_results_table():
    text = results_table([
        {"model": "paper", "energy_mae_meV_per_atom": 0.456, "force_mae_meV_per_A": 81.23,
         "stress_mae_MPa": float("nan"), "us_per_atom_per_call": 12000.0},
        {"model": "demo", "energy_mae_meV_per_atom": 1.5, "force_mae_meV_per_A": 120.0}])
    lines = text.splitlines()
    assert lines[0].startswith("| model | E MAE (meV/atom)")
    assert lines[2] == "| paper | 0.46 | 81.2 | – | 12000.0 |"
    assert lines[3] == "| demo | 1.50 | 120.0 | – | – |"
