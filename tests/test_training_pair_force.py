"""The pair-force loss term: p = (F_B - F_A)·u/2 over the A–B pairs of a distance window.

On a hand-built periodic cell the field must give exactly the analytic projection (with the
periodic image, negative for a pull, once per pair), nothing for the pairs outside the window
or of other species; a batch without such a pair must add 0 to the loss, not NaN (nequip's own
MSE gives NaN over no values). The configuration without the option is today's; with it,
nequip instantiates the loss, which sees the pair force of a real batch, and ``nequip-train``
logs it (one tiny epoch, about 7 s on an idle core).
"""
import csv
import math

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.neighborlist import neighbor_list

from aseml_zif.training import training_config
from aseml_zif.training.config import TYPE_NAMES, ConfigError
from aseml_zif.training.pair_force import MeanSquaredErrorOrZero, PairForceModifier


def to_data(frames, r_max=4.0):
    """ASE frames -> one batched ``AtomicDataDict`` through nequip's own data pipeline."""
    from nequip.data import AtomicDataDict, from_ase
    from nequip.data.transforms import ChemicalSpeciesToAtomTypeMapper, NeighborListTransform

    types = ChemicalSpeciesToAtomTypeMapper(TYPE_NAMES, {t: t for t in TYPE_NAMES})
    lists = NeighborListTransform(r_max=r_max)
    return AtomicDataDict.batched_from_list([lists(types(from_ase(a))) for a in frames])


def with_forces(data, forces):
    out = dict(data)
    out["forces"] = torch.as_tensor(np.asarray(forces), dtype=data["pos"].dtype)
    return out


def hand_cell(length=10.0):
    """Zn0-N1 2.6 Å apart across x = 0 (in a 10 Å cube), Zn2-N3 2.0 Å, N4-N5 2.6 Å; every
    other distance is above 3.2 Å."""
    positions = [(0.3, 5, 5), (7.7, 5, 5), (5, 0.5, 8), (5, 2.5, 8), (5, 5, 1), (5, 7.6, 1)]
    return Atoms("ZnNZnNNN", positions=positions, cell=[length] * 3, pbc=True)


def test_projection_on_a_hand_built_periodic_cell():
    rng = np.random.default_rng(0)
    f_pred, f_true = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    data = to_data([hand_cell()])
    field = PairForceModifier(TYPE_NAMES)
    p_pred, p_true = field(with_forces(data, f_pred), with_forces(data, f_true))
    # the only Zn-N pair in [2.2, 3.2] Å: Zn0 -> image of N1 at x = -2.3, u = -x
    assert p_pred.shape == p_true.shape == (1,)
    assert p_true.item() == pytest.approx(-(f_true[1, 0] - f_true[0, 0]) / 2, abs=1e-6)
    assert p_pred.item() == pytest.approx(-(f_pred[1, 0] - f_pred[0, 0]) / 2, abs=1e-6)
    # pairs and u come from the target: the model's own edges and positions do not matter
    moved = with_forces(data, f_pred)
    moved["pos"], moved["edge_index"] = moved["pos"] + 0.5, moved["edge_index"][:, :0]
    assert field(moved, with_forces(data, f_true))[0].tolist() == pytest.approx(p_pred.tolist())
    pull = np.zeros((6, 3))
    pull[0], pull[1] = (-1.0, 0, 0), (1.0, 0, 0)  # Zn0 towards N1's image and N1 towards Zn0
    assert field(with_forces(data, pull)).tolist() == pytest.approx([-1.0])
    # N-N: both directions of the one pair are N -> N; it is counted once (p is symmetric)
    nn = PairForceModifier(TYPE_NAMES, pair=("N", "N"))(with_forces(data, f_true))
    assert nn.tolist() == pytest.approx([(f_true[5, 1] - f_true[4, 1]) / 2])
    # the 2.0 Å pair enters a window that includes it
    short = PairForceModifier(TYPE_NAMES, r_min=1.9, r_max=2.1)(with_forces(data, f_true))
    assert short.tolist() == pytest.approx([(f_true[3, 1] - f_true[2, 1]) / 2])
    # batched with a wider cell (Zn0-N1 3.6 Å there): the pairs of each frame with its own cell
    both = to_data([hand_cell(), hand_cell(11.0)])
    assert field(with_forces(both, np.vstack([f_true, f_true]))).tolist() == pytest.approx(
        p_true.tolist())
    with pytest.raises(ValueError, match="'Cl'"):
        PairForceModifier(TYPE_NAMES, pair=("Zn", "Cl"))
    assert str(field) == "ZnN_pair_force" and field.type == "edge"


def manager(pair_weight=1.0, r_min=2.2, r_max=3.2):
    from nequip.train import MeanSquaredError, MetricsManager

    return MetricsManager([
        {"name": "forces_mse", "field": "forces", "coeff": 1.0, "metric": MeanSquaredError()},
        {"name": "ZnN_pair_force_mse", "coeff": pair_weight,
         "field": PairForceModifier(TYPE_NAMES, r_min=r_min, r_max=r_max),
         "metric": MeanSquaredErrorOrZero()}])


def test_zero_for_equal_forces_and_for_no_pair():
    from nequip.train import MeanSquaredError

    rng = np.random.default_rng(1)
    data = to_data([hand_cell()])
    f_true, f_pred = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    same = manager()(with_forces(data, f_true), with_forces(data, f_true))
    assert same["ZnN_pair_force_mse"].item() == 0.0 and same["weighted_sum"].item() == 0.0
    # no pair in the window: nequip's MSE is NaN over no values; this term gives 0
    empty = torch.zeros(0)
    assert math.isnan(MeanSquaredError()(empty, empty).item())
    losses = manager(r_min=3.3, r_max=3.9)
    none = losses(with_forces(data, f_pred), with_forces(data, f_true))
    assert none["ZnN_pair_force_mse"].item() == 0.0
    forces_only = ((f_pred - f_true) ** 2).mean()
    assert none["weighted_sum"].item() == pytest.approx(forces_only / 2, rel=1e-5)
    assert losses.compute()["ZnN_pair_force_mse"].item() == 0.0  # an epoch of such batches
    window = manager()(with_forces(data, f_pred), with_forces(data, f_true))
    dp = (-(f_pred[1, 0] - f_pred[0, 0]) + (f_true[1, 0] - f_true[0, 0])) / 2
    assert window["ZnN_pair_force_mse"].item() == pytest.approx(dp ** 2, rel=1e-5)


def test_configuration_off_is_unchanged():
    plain = training_config("a.xyz", "b.xyz", "c.xyz")
    assert training_config("a.xyz", "b.xyz", "c.xyz", pair_force_weight=None) == plain
    module = plain["training_module"]
    assert module["loss"] == {"_target_": "nequip.train.EnergyForceStressLoss",
                              "per_atom_energy": True,
                              "coeffs": {"total_energy": 1.0, "forces": 1.0, "stress": 0.0}}
    assert module["val_metrics"] == {
        "_target_": "nequip.train.EnergyForceStressMetrics",
        "coeffs": {"per_atom_energy_mae": 1.0, "forces_mae": 1.0, "stress_mae": None}}
    assert "pair_force" not in repr(plain)


def test_configuration_errors():
    for kwargs, match in (({"pair_force_weight": 0.0}, "pair_force_weight"),
                          ({"pair_force_weight": 1.0, "pair_force_pair": ("Zn", "O")}, "'O'"),
                          ({"pair_force_weight": 1.0, "pair_force_window": (3.2, 2.2)}, "window"),
                          ({"pair_force_weight": 1.0, "r_max": 3.0}, "cut-off 3 Å"),
                          ({"pair_force_weight": 1.0, "r_max": 4.0, "pair_cutoffs": {"N-Zn": 3.0}},
                           "Zn-N neighbour-list cut-off 3 Å")):
        with pytest.raises(ConfigError, match=match):
            training_config("a.xyz", "b.xyz", **kwargs)


def stretched_crystal(seed, distance=2.6):
    """The ZIF-4 crystal, rattled, with one N moved away from its Zn to ``distance`` Å; random
    labels. Returns the frame and the (Zn, N) indices."""
    from aseml_zif.structures import zif4_crystal

    rng = np.random.default_rng(seed)
    atoms = zif4_crystal()
    atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
    i, j, vec = neighbor_list("ijD", atoms, 2.3)
    zn, n = next((a, b) for a, b in zip(i, j) if atoms[a].symbol == "Zn" and atoms[b].symbol == "N")
    bond = vec[(i == zn) & (j == n)][0]
    atoms.positions[n] += bond * (distance / np.linalg.norm(bond) - 1)
    atoms.calc = SinglePointCalculator(atoms, energy=rng.normal(), stress=rng.normal(size=6) * 1e-3,
                                       forces=rng.normal(size=(len(atoms), 3)))
    return atoms, (zn, n)


def ase_pair_forces(atoms, forces, lo=2.2, hi=3.2):
    """p of every Zn-N pair in [lo, hi] Å from ASE's own neighbour list (independent check)."""
    i, j, d, vec = neighbor_list("ijdD", atoms, hi + 0.01)
    sym = np.array(atoms.get_chemical_symbols())
    keep = (sym[i] == "Zn") & (sym[j] == "N") & (d >= lo) & (d <= hi)
    u = vec[keep] / d[keep, None]
    return np.sort(((forces[j[keep]] - forces[i[keep]]) * u).sum(1) / 2)


def test_instantiated_loss_sees_the_pair_force_of_a_real_batch():
    from hydra.utils import instantiate
    from nequip.train import MetricsManager
    from omegaconf import OmegaConf

    config = training_config("a.xyz", "b.xyz", pair_force_weight=2.0, r_max=4.0, energy_weight=10.0)
    section = OmegaConf.to_container(OmegaConf.create(config).training_module.loss, resolve=True)
    loss = instantiate(section, _convert_="all", type_names=TYPE_NAMES)  # as nequip does
    assert isinstance(loss, MetricsManager)
    assert list(loss.entries) == ["per_atom_energy_mse", "forces_mse", "stress_mse",
                                  "ZnN_pair_force_mse"]
    coeffs = {k: e.coeff for k, e in loss.entries.items()}  # normalised by nequip
    assert coeffs["ZnN_pair_force_mse"] / coeffs["forces_mse"] == pytest.approx(2.0)
    assert coeffs["per_atom_energy_mse"] / coeffs["forces_mse"] == pytest.approx(10.0)
    metrics = instantiate(OmegaConf.to_container(
        OmegaConf.create(config).training_module.val_metrics, resolve=True), _convert_="all")
    assert metrics.entries["ZnN_pair_force_mae"].coeff is None

    plain, _ = stretched_crystal(1, distance=2.0)  # no Zn-N pair in the window
    frame, (zn, n) = stretched_crystal(2)
    assert len(ase_pair_forces(plain, plain.get_forces())) == 0
    target = to_data([plain, frame])
    offset = len(plain)
    rng = np.random.default_rng(3)
    f_pred = target["forces"].numpy() + rng.normal(0.0, 0.1, target["forces"].shape)
    field = loss.entries["ZnN_pair_force_mse"].field
    p_pred, p_true = field(with_forces(target, f_pred), target)
    assert np.sort(p_true.numpy()) == pytest.approx(ase_pair_forces(frame, frame.get_forces()))
    assert np.sort(p_pred.numpy()) == pytest.approx(ase_pair_forces(frame, f_pred[offset:]))
    assert len(p_true) >= 1

    def evaluate(forces):
        loss.reset()
        preds = with_forces(target, forces)
        preds["forces"].requires_grad_(True)
        out = loss(preds, target)
        return out, preds["forces"]

    base, _ = evaluate(f_pred)
    assert math.isfinite(base["weighted_sum"].item()) and base["ZnN_pair_force_mse"].item() > 0
    zn_n = frame.get_distance(zn, n, mic=True, vector=True)
    u = zn_n / np.linalg.norm(zn_n)
    along, across = f_pred.copy(), f_pred.copy()
    along[offset + n] += 0.3 * u
    side = np.cross(u, [0.0, 0.0, 1.0])
    across[offset + n] += 0.3 * side / np.linalg.norm(side)
    moved, grad_forces = evaluate(along)
    assert moved["ZnN_pair_force_mse"].item() != pytest.approx(base["ZnN_pair_force_mse"].item())
    assert moved["weighted_sum"].item() != pytest.approx(base["weighted_sum"].item())
    sideways, _ = evaluate(across)  # perpendicular to the pair: p unchanged
    assert sideways["ZnN_pair_force_mse"].item() == pytest.approx(base["ZnN_pair_force_mse"].item())
    moved["weighted_sum"].backward()
    assert torch.isfinite(grad_forces.grad).all()


def test_nequip_train_logs_the_pair_force(tmp_path):
    """One epoch of a tiny student on crystal frames (one of the three training frames and the
    validation frame with a Zn-N pair at 2.6 Å): the pair-force terms reach the CSV log and
    the loss stays finite on the frames without such a pair."""
    import aseml_zif
    from aseml_zif.data import label, write_frames
    from aseml_zif.training import train

    demo = aseml_zif.load_potential("demo", device="cpu")
    frames = [stretched_crystal(4)[0], stretched_crystal(5, 2.0)[0], stretched_crystal(6, 2.0)[0],
              stretched_crystal(7)[0]]
    frames = label(frames, demo, tmp_path / "all.xyz", progress=False)
    write_frames(frames[:3], tmp_path / "train.xyz")
    write_frames(frames[3:], tmp_path / "val.xyz")
    tiny = dict(r_max=3.5, l_max=1, parity=True, num_layers=2, num_features=4,
                radial_mlp_depth=1, radial_mlp_width=8, learning_rate=0.01, patience=50,
                max_epochs=1, pair_force_weight=1.0)
    run = train(training_config(tmp_path / "train.xyz", tmp_path / "val.xyz", seed=3, **tiny),
                tmp_path / "run", env={"OMP_NUM_THREADS": "1"})
    rows = list(csv.DictReader(open(run.metrics_csv)))
    steps = [float(r["train_loss_step/ZnN_pair_force_mse"]) for r in rows
             if r.get("train_loss_step/ZnN_pair_force_mse")]
    sums = [float(r["train_loss_step/weighted_sum"]) for r in rows
            if r.get("train_loss_step/weighted_sum")]
    assert len(steps) == len(sums) == 3 and all(math.isfinite(s) for s in sums)
    assert sorted(s > 0 for s in steps) == [False, False, True]  # two frames without the pair
    val = [float(r["val0_epoch/ZnN_pair_force_mae"]) for r in rows
           if r.get("val0_epoch/ZnN_pair_force_mae")]
    assert len(val) == 1 and val[0] > 0 and math.isfinite(val[0])
