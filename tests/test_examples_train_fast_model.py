"""``examples/train_fast_model.py``: the validation draw and the evaluation stage.

Training itself goes through ``aseml_zif.training.train`` (resume tested in
``test_training_resume.py``); here the split must be disjoint, complete, repeatable and kept
once drawn, and ``evaluate`` must measure the errors it claims: zero against the model's own
labels, and exactly a known force offset when the labels are shifted.
"""
import importlib.util
import json
from pathlib import Path

import pytest

from aseml_zif.data import read_frames, write_frames
from demo_frames import demo_labelled_crystals

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "train_fast_model.py"


def script():
    spec = importlib.util.spec_from_file_location("train_fast_model", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fast_train")
    sigmas = [0.01 + 0.01 * k for k in range(12)]
    return demo_labelled_crystals(sigmas, folder / "pool.xyz", seed=4), folder


def test_validation_split_is_disjoint_complete_and_kept(labelled, tmp_path):
    frames, folder = labelled
    module = script()
    train_file, val_file = module.split_validation(folder / "pool.xyz", tmp_path / "a", n_validation=4)
    train, val = read_frames(train_file), read_frames(val_file)
    key = lambda f: f.positions.round(5).tobytes()  # noqa: E731
    assert len(val) >= 3 and len(train) + len(val) == len(frames)
    assert not {key(f) for f in train} & {key(f) for f in val}
    again = module.split_validation(folder / "pool.xyz", tmp_path / "b", n_validation=4)
    assert [key(f) for f in read_frames(again[1])] == [key(f) for f in val]
    before = train_file.stat().st_mtime_ns
    module.split_validation(folder / "pool.xyz", tmp_path / "a", n_validation=4)
    assert train_file.stat().st_mtime_ns == before  # drawn once, then reused


def test_later_rounds_add_training_frames_only(labelled, tmp_path):
    frames, folder = labelled
    module = script()
    _, first_val = module.split_validation(folder / "pool.xyz", tmp_path / "r1", n_validation=4)
    write_frames(frames[:3], tmp_path / "round2.xyz")
    train_file, val_file = module.split_validation(folder / "pool.xyz", tmp_path / "r2",
                                                   n_validation=4, extra=[tmp_path / "round2.xyz"])
    key = lambda f: f.positions.round(5).tobytes()  # noqa: E731
    assert [key(f) for f in read_frames(val_file)] == [key(f) for f in read_frames(first_val)]
    train = read_frames(train_file)
    assert len(train) == len(frames) - len(read_frames(val_file)) + 3
    assert [key(f) for f in train[-3:]] == [key(f) for f in frames[:3]]


def test_a_split_without_this_rounds_extra_frames_is_refused(labelled, tmp_path, monkeypatch,
                                                            capsys):
    """An earlier round's train.xyz copied into a new workdir would drop --extra silently."""
    import shutil

    frames, folder = labelled
    module = script()
    split = module.split_validation
    monkeypatch.setattr(module, "split_validation",
                        lambda *a, **k: split(*a, **{**k, "n_validation": 4}))
    first = tmp_path / "r1"
    module.split_validation(folder / "pool.xyz", first, n_validation=4)
    write_frames(frames[:3], tmp_path / "round2.xyz")
    (tmp_path / "r2").mkdir()
    for name in ("train.xyz", "val.xyz"):
        shutil.copy(first / name, tmp_path / "r2" / name)
    with pytest.raises(SystemExit) as stop:
        module.main(["train", str(tmp_path / "r2"), str(folder / "pool.xyz"), "--epochs", "1",
                     "--extra", str(tmp_path / "round2.xyz")])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert str(tmp_path / "r2") in err and "new workdir" in err
    assert not (tmp_path / "r2" / "run").exists()  # refused before training
    # the same workdir with the frames it was made from is reused as before
    module.split_validation(folder / "pool.xyz", first, n_validation=4)


def test_evaluate_measures_known_errors(labelled, tmp_path):
    frames, _ = labelled
    module = script()
    write_frames(frames[:3], tmp_path / "own.xyz")
    shifted = []
    for k, atoms in enumerate(frames[:3]):  # origins a, b, a: force offsets 0.05, 0.02, 0.05 eV/Å
        copy = atoms.copy()
        copy.calc = None
        copy.arrays["forces"] = atoms.get_forces() + (0.05 if k % 2 == 0 else 0.02)
        copy.info.update(energy=atoms.get_potential_energy(), stress=atoms.get_stress(voigt=False),
                         origin="a" if k % 2 == 0 else "b")
        shifted.append(copy)
    write_frames(shifted, tmp_path / "shifted.xyz")
    report = module.evaluate("demo", [tmp_path / "own.xyz", tmp_path / "shifted.xyz"],
                             tmp_path / "accuracy.json")
    assert report["own"]["force_mae_meV_per_A"] < 1e-3
    assert report["shifted"]["force_mae_meV_per_A"] == pytest.approx(40.0, abs=1e-3)
    by_origin = report["shifted"]["by_origin"]
    assert by_origin["a"]["force_mae_meV_per_A"] == pytest.approx(50.0, abs=1e-3)
    assert by_origin["b"]["force_mae_meV_per_A"] == pytest.approx(20.0, abs=1e-3)
    assert by_origin["a"]["n_frames"] == 2 and by_origin["a"]["energy_mae_meV_per_atom"] < 1e-3
    for sym, mae in by_origin["a"]["force_mae_meV_per_A_by_species"].items():  # every species
        assert mae == pytest.approx(50.0, abs=1e-3), sym                        # got the offset
    assert set(report["shifted"]["force_mae_meV_per_A_by_species"]) == {"H", "C", "N", "Zn"}
    assert json.loads((tmp_path / "accuracy.json").read_text()) == report


def test_unlabelled_set_is_named(labelled, tmp_path):
    import subprocess
    import sys

    frames, _ = labelled
    bare = frames[0].copy()
    bare.calc = None
    write_frames([bare], tmp_path / "bare.xyz")
    result = subprocess.run([sys.executable, str(SCRIPT), "evaluate", "demo", str(tmp_path / "bare.xyz")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert f"{tmp_path / 'bare.xyz'}: frame 0 has no reference" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_init_is_named_before_training(labelled, tmp_path):
    import subprocess
    import sys

    _, folder = labelled
    missing = tmp_path / "round1" / "zif4_fast_r1.nequip.zip"
    result = subprocess.run([sys.executable, str(SCRIPT), "train", str(tmp_path / "work"),
                             str(folder / "pool.xyz"), "--epochs", "1", "--init", str(missing)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert f"initial checkpoint '{missing}': no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "work" / "run").exists()  # nequip-train never started


def no_training(monkeypatch):
    """The example module, with ``aseml_zif.training.train`` replaced by a recorder of the
    configuration it gets (``seen["config"]``) and 3 validation frames."""
    import aseml_zif.training

    seen = {}
    monkeypatch.setattr(aseml_zif.training, "train",
                        lambda config, *a, **k: seen.setdefault("config", config))
    module = script()
    split = module.split_validation
    monkeypatch.setattr(module, "split_validation",
                        lambda *a, **k: split(*a, **{**k, "n_validation": 3}))
    return module, seen


def test_cosine_and_compile_reach_the_config(labelled, tmp_path, monkeypatch):
    """``--lr-cosine`` replaces the student's default plateau schedule; ``--compile`` trains
    through torch.compile; asking for both schedules is refused before any work."""
    module, seen = no_training(monkeypatch)
    _, folder = labelled
    module.main(["train", str(tmp_path / "w"), str(folder / "pool.xyz"), "--epochs", "7",
                 "--lr-cosine", "--compile"])
    config = seen["config"]["training_module"]
    assert config["lr_scheduler"]["scheduler"]["_target_"].endswith("CosineAnnealingLR")
    assert config["lr_scheduler"]["scheduler"]["T_max"] == 7
    assert config["model"]["compile_mode"] == "compile"
    with pytest.raises(SystemExit) as stop:
        module.main(["train", str(tmp_path / "v"), str(folder / "pool.xyz"), "--lr-cosine",
                     "--lr-patience", "2"])
    assert stop.value.code == 2 and not (tmp_path / "v").exists()


def test_architecture_flags_make_a_new_student(labelled, tmp_path, monkeypatch):
    """``--layers/--features/--l-max/--pair-cutoff`` reach the new model's block (the pair
    cut-offs also the training neighbour lists); with ``--init`` they are refused before any
    work, as is a malformed pair cut-off."""
    module, seen = no_training(monkeypatch)
    _, folder = labelled
    module.main(["train", str(tmp_path / "w"), str(folder / "pool.xyz"), "--layers", "3",
                 "--features", "48", "--l-max", "2", "--pair-cutoff", "H=3.0",
                 "--pair-cutoff", "C-N=3.5"])
    model = seen["config"]["training_module"]["model"]
    assert (model["num_layers"], model["num_features"], model["l_max"]) == (3, 48, 2)
    table = model["per_edge_type_cutoff"]
    assert table["H"]["Zn"] == table["Zn"]["H"] == table["H"]["H"] == 3.0
    assert table["C"]["N"] == table["N"]["C"] == 3.5 and table["Zn"]["N"] == 4.0
    lists = seen["config"]["data"]["transforms"][1]
    assert lists["per_edge_type_cutoff"] == table
    package = tmp_path / "r.nequip.zip"
    package.write_bytes(b"")
    for flags, message in ((["--init", str(package), "--features", "48"],
                            "num_features with --init"),
                           (["--pair-cutoff", "H=three"], "'H=three': X=Å or X-Y=Å"),
                           (["--pair-cutoff", "Cl=3.0"], "pair_cutoffs key 'Cl'")):
        with pytest.raises(SystemExit) as stop:
            module.main(["train", str(tmp_path / "v"), str(folder / "pool.xyz"), *flags])
        assert stop.value.code == 2 and not (tmp_path / "v").exists()


def test_cutoff_and_parity_flags_and_the_cutoff_of_an_initial_package(labelled, tmp_path,
                                                                       monkeypatch, capsys):
    """``--r-max/--no-parity`` make the new model and its training neighbour lists; with a
    package as ``--init`` the lists take the package's own cut-off and pair cut-offs, and
    another ``--r-max`` is refused before any work (the model would see only part of its
    neighbours)."""
    module, seen = no_training(monkeypatch)
    _, folder = labelled
    module.main(["train", str(tmp_path / "w"), str(folder / "pool.xyz"), "--r-max", "5.0",
                 "--no-parity", "--pair-cutoff", "H=3.0"])
    config = seen["config"]
    model = config["training_module"]["model"]
    assert config["cutoff_radius"] == 5.0 and model["parity"] is False
    assert model["per_edge_type_cutoff"]["Zn"]["N"] == 5.0
    assert model["per_edge_type_cutoff"]["H"]["C"] == 3.0
    package = REPO / "data" / "fast_model" / "round8" / "zif4_fast_r8.nequip.zip"  # r_max 4 Å
    seen.clear()
    module.main(["train", str(tmp_path / "u"), str(folder / "pool.xyz"), "--init", str(package)])
    assert seen["config"]["cutoff_radius"] == 4.0
    table = seen["config"]["data"]["transforms"][1]["per_edge_type_cutoff"]  # r8: H pairs 3 Å
    assert table["H"]["N"] == table["Zn"]["H"] == 3.0 and table["Zn"]["N"] == 4.0
    package9 = REPO / "data" / "fast_model" / "round9" / "zif4_fast_r9.nequip.zip"  # 5 Å, H 3 Å
    seen.clear()
    module.main(["train", str(tmp_path / "u9"), str(folder / "pool.xyz"), "--init", str(package9)])
    table = seen["config"]["data"]["transforms"][1]["per_edge_type_cutoff"]
    assert seen["config"]["cutoff_radius"] == 5.0
    assert table["H"]["Zn"] == table["C"]["H"] == table["H"]["H"] == 3.0
    assert table["Zn"]["N"] == table["C"]["C"] == 5.0
    with pytest.raises(SystemExit) as stop:
        module.main(["train", str(tmp_path / "v"), str(folder / "pool.xyz"), "--init",
                     str(package), "--r-max", "5.0"])
    assert stop.value.code == 2 and not (tmp_path / "v").exists()
    assert (f"r_max 5 Å with initial checkpoint {package}, whose r_max is 4 Å"
            in capsys.readouterr().err)


def test_pair_force_flags_reach_the_loss(labelled, tmp_path, monkeypatch, capsys):
    """``--pair-force-weight/--pair-force-window`` add the Zn-N pair-force MSE to the loss (and
    its MAE to the metrics), also for a run from a package (``--init``); without them the loss
    is unchanged; a window beyond the Zn-N cut-off, or without a weight, is refused before any
    work."""
    module, seen = no_training(monkeypatch)
    _, folder = labelled
    module.main(["train", str(tmp_path / "w"), str(folder / "pool.xyz"), "--pair-force-weight",
                 "2", "--pair-force-window", "2.3-3.1"])
    loss = seen["config"]["training_module"]["loss"]
    entry, = loss["extra_metrics"]
    assert entry["coeff"] == 2.0 and entry["name"] == "ZnN_pair_force_mse"
    assert (entry["field"]["pair"], entry["field"]["r_min"], entry["field"]["r_max"]) == (
        ["Zn", "N"], 2.3, 3.1)
    assert loss["coeffs"] == {"total_energy": 10.0, "forces": 1.0, "stress": 1000.0}
    mae, = seen["config"]["training_module"]["val_metrics"]["extra_metrics"]
    assert mae["coeff"] is None and mae["name"] == "ZnN_pair_force_mae"
    package = REPO / "data" / "fast_model" / "round8" / "zif4_fast_r8.nequip.zip"
    seen.clear()
    module.main(["train", str(tmp_path / "u"), str(folder / "pool.xyz"), "--init", str(package),
                 "--pair-force-weight", "1"])
    module_config = seen["config"]["training_module"]
    assert module_config["model"]["_target_"] == "nequip.model.ModelFromPackage"
    field = module_config["loss"]["extra_metrics"][0]["field"]
    assert (field["r_min"], field["r_max"]) == (2.2, 3.2)
    seen.clear()
    module.main(["train", str(tmp_path / "p"), str(folder / "pool.xyz")])
    assert "extra_metrics" not in seen["config"]["training_module"]["loss"]
    for flags, message in ((["--pair-force-weight", "1", "--pair-force-window", "2.2-4.5"],
                            "cut-off 4 Å"),
                           (["--pair-force-window", "2.2-3.2"], "needs --pair-force-weight"),
                           (["--pair-force-weight", "1", "--pair-force-window", "3"], "LO-HI")):
        with pytest.raises(SystemExit) as stop:
            module.main(["train", str(tmp_path / "v"), str(folder / "pool.xyz"), *flags])
        assert stop.value.code == 2 and not (tmp_path / "v").exists()
        assert message in capsys.readouterr().err
