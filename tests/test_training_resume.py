"""An interrupted ``nequip-train`` run continues from its last checkpoint; plateau schedules.

A tiny student is trained on a few crystal frames labelled by the shipped demo model (cheap;
the labels only need to be consistent). Two epochs, then ``resume=True`` up to four: the second
run must continue from the first run's last epoch and weights, not start from scratch. About a minute.
"""
import csv
import math

import pytest
import torch

from aseml_zif.data import write_frames
from aseml_zif.training import train, training_config
from aseml_zif.training.config import ConfigError
from demo_frames import demo_labelled_crystals

TINY = dict(r_max=3.5, l_max=1, parity=True, num_layers=2, num_features=4, radial_mlp_depth=1,
            radial_mlp_width=8, learning_rate=0.01, patience=50)


@pytest.fixture(scope="module")
def frame_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume_frames")
    labelled = demo_labelled_crystals([0.05] * 4, folder / "all.xyz", seed=1)
    write_frames(labelled[:3], folder / "train.xyz")
    write_frames(labelled[3:], folder / "val.xyz")
    return folder / "train.xyz", folder / "val.xyz"


def _epochs(run):
    """Epoch numbers with a validation row, per CSV log version, in order."""
    versions = sorted(run.directory.glob("csv/version_*/metrics.csv"))
    return [sorted({int(r["epoch"]) for r in csv.DictReader(open(v)) if r["val0_epoch/forces_mae"]})
            for v in versions]


def _weights(checkpoint):
    state = torch.load(checkpoint, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v.clone() for k, v in state.items() if torch.is_tensor(v)}


def test_resume_continues_interrupted_run(frame_files, tmp_path):
    train_file, val_file = frame_files
    first = train(training_config(train_file, val_file, max_epochs=2, seed=3, **TINY),
                  tmp_path / "run", env={"OMP_NUM_THREADS": "1"}, resume=True)
    assert _epochs(first) == [[0, 1]]
    after_two = _weights(first.last_checkpoint)
    # resuming with another architecture is refused, naming what changed, before nequip-train
    wider = {**TINY, "num_features": TINY["num_features"] + 4}
    with pytest.raises(ConfigError, match=r"cannot resume this run with another model \(num_features"):
        train(training_config(train_file, val_file, max_epochs=4, seed=3, **wider),
              tmp_path / "run", env={"OMP_NUM_THREADS": "1"}, resume=True)
    # so is another loss (nequip would keep the checkpoint's and ignore the new one)
    with pytest.raises(ConfigError, match=r"cannot resume this run with another loss \(coeffs"):
        train(training_config(train_file, val_file, max_epochs=4, seed=3, energy_weight=5.0,
                              **TINY), tmp_path / "run", env={"OMP_NUM_THREADS": "1"}, resume=True)
    with pytest.raises(ConfigError, match=r"another loss \(extra_metrics"):
        train(training_config(train_file, val_file, max_epochs=4, seed=3, pair_force_weight=1.0,
                              **TINY), tmp_path / "run", env={"OMP_NUM_THREADS": "1"}, resume=True)
    assert "Continuing training" not in (tmp_path / "run" / "train.log").read_text()

    second = train(training_config(train_file, val_file, max_epochs=4, seed=3, **TINY),
                   tmp_path / "run", env={"OMP_NUM_THREADS": "1"}, resume=True)
    # continued, not restarted at epoch 0 (Lightning may redo the epoch whose validation
    # wrote last.ckpt: the checkpoint is taken before that epoch counts as completed)
    before, after = _epochs(second)
    assert before == [0, 1] and after[0] >= 1 and after[-1] == 3
    assert second.best_checkpoint.name == "best.ckpt" and not list(tmp_path.glob("run/best-v*"))
    resumed = torch.load(second.last_checkpoint, map_location="cpu", weights_only=False)
    # last.ckpt holds every step of the four epochs (3 frames, batch 1), also when the
    # validation metric stopped improving
    assert resumed["global_step"] == 4 * 3
    moved = _weights(second.last_checkpoint)
    assert any(not torch.equal(after_two[k], moved[k]) for k in after_two)
    assert "Continuing training" in (tmp_path / "run" / "train.log").read_text()


def test_plateau_scheduler_config():
    cfg = training_config("a.xyz", "b.xyz", lr_plateau_patience=4, lr_plateau_factor=0.25)
    schedule = cfg["training_module"]["lr_scheduler"]
    assert schedule["scheduler"] == {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                                     "factor": 0.25, "patience": 4}
    assert schedule["monitor"] == cfg["monitored_metric"]
    assert "lr_scheduler" not in training_config("a.xyz", "b.xyz")["training_module"]


def test_cosine_scheduler_config():
    cfg = training_config("a.xyz", "b.xyz", lr_cosine=True, max_epochs=30, learning_rate=0.002)
    schedule = cfg["training_module"]["lr_scheduler"]
    assert schedule["scheduler"] == {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                                     "T_max": 30, "eta_min": 0.002 / 100}
    with pytest.raises(ConfigError, match="choose one"):
        training_config("a.xyz", "b.xyz", lr_cosine=True, lr_plateau_patience=2)
    with pytest.raises(ConfigError, match="'jit'"):
        training_config("a.xyz", "b.xyz", compile_mode="jit")


def _val_force_mae(run):
    rows = [r for r in csv.DictReader(open(run.metrics_csv)) if r["val0_epoch/forces_mae"]]
    return [float(r["val0_epoch/forces_mae"]) for r in rows]


def test_compiled_training_follows_eager_and_the_cosine(frame_files, tmp_path):
    """``compile_mode="compile"`` trains the same model as eager mode (nequip's torch.compile
    wrapper), and ``lr_cosine`` ends the run at 1/100 of the learning rate."""
    train_file, val_file = frame_files
    runs = {mode: train(training_config(train_file, val_file, max_epochs=3, seed=3, lr_cosine=True,
                                        compile_mode=mode, **TINY),
                        tmp_path / mode, env={"OMP_NUM_THREADS": "1"})
            for mode in ("eager", "compile")}
    eager, compiled = (_val_force_mae(runs[m]) for m in ("eager", "compile"))
    assert len(eager) == 3 and eager[0] != eager[-1]  # the weights moved
    assert compiled == pytest.approx(eager, rel=1e-4)
    for run in runs.values():  # last.ckpt: written at the end of the third epoch
        state = torch.load(run.last_checkpoint, map_location="cpu", weights_only=False)
        steps = state["lr_schedulers"][0]["last_epoch"]
        assert state["epoch"] == 2 and steps == 3  # at 1/100 of the learning rate
        cosine = 1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * steps / 3)) / 2
        assert state["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(cosine)
