"""nequip-train configurations carry the paper's hyperparameters."""
from pathlib import Path

import pytest
import yaml

from aseml_zif.training import PAPER_NEQUIP, training_config, write_config
from aseml_zif.training.config import ConfigError

FAST_MODEL = Path(__file__).resolve().parents[1] / "data" / "fast_model"
R8 = FAST_MODEL / "round8" / "zif4_fast_r8.nequip.zip"  # r_max 4 Å, H pairs 3 Å
R9 = FAST_MODEL / "round9" / "zif4_fast_r9.nequip.zip"  # r_max 5 Å, H pairs 3 Å


def test_paper_defaults(tmp_path):
    cfg = training_config("train.xyz", "val.xyz", "test.xyz")
    model = cfg["training_module"]["model"]
    assert (model["num_layers"], model["num_features"], model["l_max"], model["parity"]) == (5, 32, 2, False)
    assert cfg["cutoff_radius"] == 6.0 and model["r_max"] == "${cutoff_radius}"
    assert cfg["model_type_names"] == ["H", "C", "N", "Zn"]
    module = cfg["training_module"]
    assert module["optimizer"]["lr"] == 0.005 and module["optimizer"]["amsgrad"] is True
    assert module["loss"]["coeffs"] == {"total_energy": 1.0, "forces": 1.0, "stress": 0.0}
    assert module["loss"]["per_atom_energy"] is True and module["ema_decay"] == 0.99
    stop, = (c for c in cfg["trainer"]["callbacks"] if c["_target_"].endswith("EarlyStopping"))
    assert stop["patience"] == 50 and cfg["run"] == ["train", "test"]
    assert cfg["data"]["train_file_path"].endswith("train.xyz")
    back = yaml.safe_load(write_config(cfg, tmp_path / "c.yaml").read_text())
    assert back == cfg


def test_overrides_and_allegro():
    cfg = training_config("a.xyz", "b.xyz", r_max=4.0, l_max=1, parity=True, stress_weight=1.0)
    assert cfg["cutoff_radius"] == 4.0 and cfg["run"] == ["train"]
    assert cfg["training_module"]["loss"]["coeffs"]["stress"] == 1.0
    allegro = training_config("a.xyz", "b.xyz", architecture="allegro")
    model = allegro["training_module"]["model"]
    assert model["_target_"] == "allegro.model.AllegroModel" and model["num_layers"] == 2
    assert allegro["training_module"]["optimizer"]["lr"] == 0.001
    assert PAPER_NEQUIP["r_max"] == 6.0  # defaults are not mutated by overrides


def test_unknown_settings():
    with pytest.raises(ConfigError, match="num_featurs"):
        training_config("a.xyz", "b.xyz", num_featurs=8)
    with pytest.raises(ConfigError, match="mace"):
        training_config("a.xyz", "b.xyz", architecture="mace")


def test_continue_from_checkpoint(tmp_path):
    ckpt = tmp_path / "round1.ckpt"
    ckpt.write_bytes(b"")
    cfg = training_config("a.xyz", "b.xyz", initial_checkpoint=ckpt, r_max=4.0, energy_weight=10.0)
    model = cfg["training_module"]["model"]
    assert model == {"_target_": "nequip.model.ModelFromCheckpoint",
                     "checkpoint_path": str(ckpt.resolve()), "compile_mode": "eager"}
    assert cfg["cutoff_radius"] == 4.0
    assert cfg["training_module"]["loss"]["coeffs"]["total_energy"] == 10.0


def test_continue_from_package(tmp_path):
    from aseml_zif.errors import ModelError

    model = training_config("a.xyz", "b.xyz", initial_checkpoint=R8)["training_module"]["model"]
    assert model == {"_target_": "nequip.model.ModelFromPackage",
                     "package_path": str(R8.resolve()), "compile_mode": "eager"}
    unreadable = tmp_path / "round1.nequip.zip"
    unreadable.write_bytes(b"")
    with pytest.raises(ModelError, match="round1.nequip.zip"):
        training_config("a.xyz", "b.xyz", initial_checkpoint=unreadable)


def neighbour_lists(config):
    lists, = (t for t in config["data"]["transforms"] if t["_target_"].endswith("NeighborListTransform"))
    return lists


def test_an_initial_package_brings_its_cutoffs():
    """The package's r_max replaces the default one and its pair cut-offs make the training
    neighbour lists; the same values given explicitly pass, others are refused, naming the
    package and both values."""
    config = training_config("a.xyz", "b.xyz", initial_checkpoint=R8)
    table = neighbour_lists(config)["per_edge_type_cutoff"]
    assert config["cutoff_radius"] == 4.0
    assert table["H"]["N"] == table["Zn"]["H"] == 3.0 and table["Zn"]["N"] == 4.0
    config = training_config("a.xyz", "b.xyz", initial_checkpoint=R9, r_max=5.0,
                             pair_cutoffs={"H": 3.0})
    table = neighbour_lists(config)["per_edge_type_cutoff"]
    assert config["cutoff_radius"] == 5.0
    assert table["H"]["Zn"] == table["C"]["H"] == table["H"]["H"] == 3.0
    assert table["Zn"]["N"] == table["C"]["C"] == 5.0
    assert "per_edge_type_cutoff" not in config["training_module"]["model"]  # the package's
    with pytest.raises(ConfigError, match=r"r_max 5 Å with initial checkpoint "
                                          r".*zif4_fast_r8\.nequip\.zip, whose r_max is 4 Å"):
        training_config("a.xyz", "b.xyz", initial_checkpoint=R8, r_max=5.0)
    with pytest.raises(ConfigError, match=r"pair_cutoffs \{'H': 2.5\} with initial checkpoint "
                                          r".*zif4_fast_r8\.nequip\.zip, whose pair cut-offs are "
                                          r"\{'H-H': 3.0, 'H-C': 3.0"):
        training_config("a.xyz", "b.xyz", initial_checkpoint=R8, pair_cutoffs={"H": 2.5})


def test_pair_cutoffs_of_a_package_table():
    """The ``X-Y`` pairs shorter than r_max come back; a table without them gives ``None``; an
    asymmetric table (not one ``training_config`` writes) is refused, naming both directions."""
    from dataclasses import replace

    from aseml_zif.calculator.formats import ModelMetadata
    from aseml_zif.training import package_pair_cutoffs

    names = ("H", "C", "N", "Zn")
    table = [[3.0 if "H" in (a, b) else 5.0 for b in names] for a in names]
    table[2][3] = table[3][2] = 4.5  # N-Zn
    meta = ModelMetadata(path=Path("m.nequip.zip"), format="nequip-package", architecture="nequip",
                         nequip_version="0.19.1", r_max=5.0, type_names=names, dtype="float32",
                         per_edge_type_cutoff=tuple(map(tuple, table)))
    pairs = package_pair_cutoffs(meta, "m.nequip.zip")
    assert pairs == {"H-H": 3.0, "H-C": 3.0, "H-N": 3.0, "H-Zn": 3.0, "N-Zn": 4.5}
    assert package_pair_cutoffs(replace(meta, per_edge_type_cutoff=None), "m") is None
    table[3][2] = 4.0
    with pytest.raises(ConfigError, match=r"m.nequip.zip: per-edge-type cut-off N->Zn 4.5 Å but "
                                          r"Zn->N 4 Å"):
        package_pair_cutoffs(replace(meta, per_edge_type_cutoff=tuple(map(tuple, table))),
                             "m.nequip.zip")


def test_missing_initial_checkpoint_is_named(tmp_path):
    missing = tmp_path / "round1" / "zif4_fast_r1.nequip.zip"
    with pytest.raises(ConfigError, match="zif4_fast_r1.nequip.zip.*no such file"):
        training_config("a.xyz", "b.xyz", initial_checkpoint=missing)
    with pytest.raises(ConfigError, match="no such file"):  # a directory is not a checkpoint
        training_config("a.xyz", "b.xyz", initial_checkpoint=tmp_path)


def test_grid_runs_every_combination(tmp_path, monkeypatch):
    from aseml_zif.training import runner

    calls = []

    def fake_train(config, directory, hyperparameters=None, env=None, resume=False):
        calls.append((config, directory, hyperparameters))
        return directory

    monkeypatch.setattr(runner, "train", fake_train)
    runs = runner.run_grid("a.xyz", "b.xyz", tmp_path, {"r_max": [4.0, 6.0], "l_max": [1, 2]},
                           max_epochs=3, progress=False)
    assert [r.name for r in runs] == ["r_max4.0-l_max1", "r_max4.0-l_max2", "r_max6.0-l_max1",
                                      "r_max6.0-l_max2"]
    config, _, hyper = calls[3]
    assert config["cutoff_radius"] == 6.0 and config["training_module"]["model"]["l_max"] == 2
    assert config["trainer"]["max_epochs"] == 3 and hyper == {"max_epochs": 3, "r_max": 6.0, "l_max": 2}


def test_grid_forwards_resume_and_initial_checkpoint(tmp_path, monkeypatch):
    from aseml_zif.training import runner

    calls = []

    def fake_train(config, directory, hyperparameters=None, env=None, resume=False):
        calls.append((config["training_module"]["model"], resume))
        return directory

    monkeypatch.setattr(runner, "train", fake_train)
    runner.run_grid("a.xyz", "b.xyz", tmp_path, {"learning_rate": [0.001, 0.002]}, progress=False,
                    resume=True, initial_checkpoint=R8)
    start = {"_target_": "nequip.model.ModelFromPackage", "package_path": str(R8.resolve()),
             "compile_mode": "eager"}
    assert calls == [(start, True), (start, True)]
    with pytest.raises(ConfigError, match="missing.ckpt"):
        runner.run_grid("a.xyz", "b.xyz", tmp_path, {"r_max": [4.0]}, progress=False,
                        initial_checkpoint=tmp_path / "missing.ckpt")
    assert len(calls) == 2  # nothing trained


def test_pair_cutoffs_reach_model_and_neighbour_lists():
    from aseml_zif.training import edge_type_cutoffs

    table = edge_type_cutoffs({"H": 3.0, "C-H": 3.5}, 4.0)
    assert table["H"]["H"] == table["H"]["Zn"] == table["N"]["H"] == 3.0
    assert table["C"]["H"] == table["H"]["C"] == 3.5  # the pair overrides the element
    assert table["C"]["N"] == table["Zn"]["Zn"] == 4.0
    assert all(table[a][b] == table[b][a] for a in table for b in table)
    cfg = training_config("a.xyz", "b.xyz", r_max=4.0, pair_cutoffs={"H": 3.0, "C-H": 3.5})
    assert cfg["training_module"]["model"]["per_edge_type_cutoff"] == table
    neighbours, = (t for t in cfg["data"]["transforms"] if t["_target_"].endswith("NeighborListTransform"))
    assert neighbours["per_edge_type_cutoff"] == table
    plain = training_config("a.xyz", "b.xyz")
    assert "per_edge_type_cutoff" not in plain["training_module"]["model"]
    for bad, match in (({"Cl": 3.0}, "'Cl'"), ({"H": 6.5}, r"\(0, r_max = 6.0\]"),
                       ({"H": 0}, "r_max"), ({"C-H-N": 3.0}, "'C-H-N'"), ([3.0], "a dict")):
        with pytest.raises(ConfigError, match=match):
            training_config("a.xyz", "b.xyz", pair_cutoffs=bad)
    with pytest.raises(ConfigError, match="pair_cutoffs"):  # NequIP only
        training_config("a.xyz", "b.xyz", architecture="allegro", pair_cutoffs={"H": 3.0})
