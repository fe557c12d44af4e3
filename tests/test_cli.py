"""The ``aseml-zif`` command: help of every subcommand, clean errors, and end-to-end runs on a
cheap bonded potential (springs on the crystal's bonds) so that they take seconds."""
import csv
import json

import numpy as np
import pytest
from ase.calculators.calculator import Calculator, all_changes

from aseml_zif.cli import main
from aseml_zif.cli.models import parse_assignments

#: ``--model`` value of the cheap test potential (this module is importable under pytest)
SPRINGS = f"{__name__}:spring_calculator"

SUBCOMMANDS = [
    ["demo"], ["fetch-model"], ["train"], ["evaluate"], ["md", "nvt"], ["md", "npt"],
    ["meltquench"], ["analyze"], ["mechanics", "eos"], ["mechanics", "fluctuations"],
    ["benchmark"], ["dataset", "convert"], ["dataset", "split"], ["dataset", "label"],
]


class BondSprings(Calculator):
    """Harmonic springs (k in eV/Å²) on every pair closer than ``cutoff`` Å in a reference
    structure, with fixed topology and image shifts: E = Σ ½ k (d − d0)². Stress is
    (1/V) Σ U'(d) r⊗r / d, ASE's sign."""

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(self, reference, cutoff=2.3, k=10.0):
        from aseml_zif.neighbors import neighbor_list

        super().__init__()
        i, j, S, d = neighbor_list(reference, cutoff, "ijSd")
        keep = i < j
        self.i, self.j, self.S, self.d0, self.k = i[keep], j[keep], S[keep], d[keep], k

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        pos, cell = self.atoms.positions, self.atoms.cell.array
        r = pos[self.j] - pos[self.i] + self.S @ cell
        d = np.linalg.norm(r, axis=1)
        dudd = self.k * (d - self.d0)
        pair_force = (dudd / d)[:, None] * r  # force on i; −that on j
        forces = np.zeros_like(pos)
        np.add.at(forces, self.i, pair_force)
        np.add.at(forces, self.j, -pair_force)
        sigma = np.einsum("b,ba,bc->ac", dudd / d, r, r) / self.atoms.get_volume()
        energy = 0.5 * self.k * np.sum((d - self.d0) ** 2)
        self.results = {"energy": energy, "free_energy": energy, "forces": forces,
                        "stress": sigma.ravel()[[0, 4, 8, 5, 2, 1]]}


def spring_calculator():
    """Factory for ``--model tests.test_cli:spring_calculator``: springs on ZIF-4's bonds."""
    from aseml_zif.structures import zif4_crystal

    return BondSprings(zif4_crystal())


def test_spring_forces_and_stress_are_derivatives():
    """The test potential itself is right: forces = −∇E and stress = ∂E/∂ε / V."""
    from ase.calculators.fd import calculate_numerical_forces, calculate_numerical_stress
    from aseml_zif.structures import zif4_crystal

    atoms = zif4_crystal()
    atoms.calc = BondSprings(atoms.copy())
    atoms.rattle(0.05, seed=1)
    atoms.set_cell(atoms.cell * 1.01, scale_atoms=True)
    forces = atoms.get_forces()
    assert np.abs(forces).max() > 0.1
    numeric = calculate_numerical_forces(atoms, eps=1e-4, iatoms=range(5))
    assert np.allclose(forces[:5], numeric, atol=1e-5)
    assert np.allclose(atoms.get_stress(), calculate_numerical_stress(atoms, eps=1e-5), atol=1e-7)


@pytest.mark.parametrize("words", SUBCOMMANDS, ids=" ".join)
def test_every_subcommand_has_help(words, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*words, "--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: aseml-zif {' '.join(words)}")
    body = text.split("\n\n", 2)[1]  # the description paragraph after the usage block
    assert len(body.split()) >= 8, f"'{' '.join(words)} --help' has no real description"


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for words in SUBCOMMANDS:
        assert words[0] in text


def _one_line_error(capsys, status, *fragments):
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("aseml-zif: error: ") and "\n" not in err and "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err


def test_bad_structure_file_is_one_clean_line(tmp_path, capsys):
    missing = tmp_path / "nowhere.cif"
    status = main(["md", "nvt", str(missing), "--model", SPRINGS, "--workdir", str(tmp_path / "run")])
    _one_line_error(capsys, status, "nowhere.cif")


def test_bad_model_factory_is_one_clean_line(tmp_path, capsys):
    status = main(["md", "nvt", "crystal", "--model", f"{__name__}:no_such_factory",
                   "--workdir", str(tmp_path)])
    _one_line_error(capsys, status, "no_such_factory")


def test_missing_demo_model_says_what_to_do(tmp_path, capsys, monkeypatch):
    from aseml_zif.calculator import SHIPPED_MODELS

    monkeypatch.setitem(SHIPPED_MODELS, "demo", "demo_model/not_shipped.nequip.zip")
    status = main(["demo", "--out", str(tmp_path), "--quick"])
    _one_line_error(capsys, status, "demo model", "--model PATH")


def test_parse_assignments():
    assert parse_assignments(["r_max=5.0", "parity=false", "name=x"]) == {
        "r_max": 5.0, "parity": False, "name": "x"}
    assert parse_assignments(["l_max=1,2"], lists=True) == {"l_max": [1, 2]}
    with pytest.raises(Exception, match="KEY=VALUE"):
        parse_assignments(["r_max"])


def test_train_forwards_resume_and_init(tmp_path, monkeypatch):
    import aseml_zif.training
    from aseml_zif.training import TrainingRun

    checkpoint = tmp_path / "round1.ckpt"
    checkpoint.write_bytes(b"")
    calls = []

    def fake_train(config, directory, hyperparameters=None, env=None, resume=False):
        calls.append((config["training_module"]["model"], directory.name, resume))
        return TrainingRun(directory, directory / "best.ckpt", directory / "last.ckpt",
                           directory / "metrics.csv", dict(hyperparameters or {}))

    def fake_run_grid(*args, **kwargs):
        calls.append(kwargs)
        return []

    monkeypatch.setattr(aseml_zif.training, "train", fake_train)
    monkeypatch.setattr(aseml_zif.training, "run_grid", fake_run_grid)
    common = ["train", "a.xyz", "b.xyz", "--workdir", str(tmp_path / "work"), "--no-package"]
    assert main([*common, "--resume", "--init", str(checkpoint)]) == 0
    assert main(common) == 0
    assert main([*common, "--grid", "r_max=4,5", "--resume", "--init", str(checkpoint)]) == 0
    assert main([*common, "--grid", "r_max=4,5", "--seed", "3", "--device", "cuda"]) == 0
    start = {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": str(checkpoint),
             "compile_mode": "eager"}
    assert calls[0] == (start, "run", True)
    assert calls[1][1:] == ("run", False) and calls[1][0]["_target_"] != start["_target_"]
    assert calls[2]["resume"] is True and calls[2]["initial_checkpoint"] == str(checkpoint)
    assert calls[3]["resume"] is False and calls[3]["initial_checkpoint"] is None
    assert (calls[2]["seed"], calls[2]["device"]) == (0, "cpu")  # the defaults
    assert (calls[3]["seed"], calls[3]["device"]) == (3, "cuda")  # a grid honours them too


@pytest.mark.parametrize("grid", [[], ["--grid", "r_max=4,5"]], ids=["single", "grid"])
def test_train_missing_init_is_one_clean_line(grid, tmp_path, capsys):
    missing = tmp_path / "round1" / "student.nequip.zip"
    status = main(["train", "a.xyz", "b.xyz", *grid, "--init", str(missing),
                   "--workdir", str(tmp_path / "work")])
    _one_line_error(capsys, status, str(missing))


@pytest.mark.parametrize("refused", [["--set", "r_maxx=5"], ["--grid", "r_maxx=4,5"],
                                     ["--init", "nowhere.ckpt"], ["--grid", "r_max=4,5", "--init",
                                                                  "nowhere.ckpt"]],
                         ids=["set", "grid", "init", "grid-init"])
def test_train_refused_config_creates_no_workdir(refused, tmp_path, capsys):
    workdir = tmp_path / "new" / "work"
    status = main(["train", "a.xyz", "b.xyz", *refused, "--workdir", str(workdir)])
    _one_line_error(capsys, status, "r_maxx" if "r_maxx" in refused[1] else "nowhere.ckpt")
    assert not (tmp_path / "new").exists()


def test_train_workdir_that_is_a_file_is_one_clean_line(tmp_path, capsys):
    workdir = tmp_path / "work"
    workdir.write_text("")
    status = main(["train", "a.xyz", "b.xyz", "--grid", "r_max=4,5", "--workdir", str(workdir)])
    _one_line_error(capsys, status, str(workdir), "not a folder")


def _thermo_rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_md_nvt_writes_run_folder_and_resumes(tmp_path):
    workdir = tmp_path / "nvt"
    argv = ["md", "nvt", "crystal", "--model", SPRINGS, "--workdir", str(workdir),
            "--temperature", "300", "--time-ps", "0.05", "--save-every", "10",
            "--checkpoint-every", "20", "--seed", "3"]
    assert main(argv) == 0
    results = json.loads((workdir / "results.json").read_text())
    rows = _thermo_rows(workdir / "thermo.csv")
    assert results["summary"]["steps"] == 100 == int(rows[-1]["step"])
    assert len(rows) == 11  # steps 0, 10, ..., 100
    assert (workdir / "thermo.png").stat().st_size > 1000
    from ase.io import read

    final = read(workdir / "final.extxyz")
    assert main(argv) == 0  # finished run: resuming adds nothing and gives the same state
    assert len(_thermo_rows(workdir / "thermo.csv")) == 11
    assert np.allclose(read(workdir / "final.extxyz").positions, final.positions)


def _labelled_frames(n, seed=0):
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n):
        atoms = bulk("Cu", cubic=True).repeat(2)
        atoms.rattle(stdev=0.02 + 0.15 * rng.random(), seed=k)
        atoms.calc = EMT()
        atoms.calc = SinglePointCalculator(atoms, energy=atoms.get_potential_energy(),
                                           forces=atoms.get_forces())
        frames.append(atoms)
    return frames


def test_dataset_split_matches_library_and_partitions(tmp_path):
    from ase.io import read, write

    from aseml_zif.data import split_flat_histogram

    frames = _labelled_frames(60)
    source = tmp_path / "all.extxyz"
    write(source, frames)
    out = tmp_path / "split"
    assert main(["dataset", "split", str(source), "--n-train", "20", "--n-test", "10",
                 "--seed", "7", "--out", str(out)]) == 0
    split = json.loads((out / "split.json").read_text())
    expected = split_flat_histogram(frames, 20, 10, seed=7)
    for name, idx in zip(("train", "test", "validation"), expected):
        assert split[name] == idx.tolist()
        written = read(out / f"{name}.extxyz", ":")
        assert len(written) == len(idx)
        energies = [frames[i].get_potential_energy() for i in idx]
        assert np.allclose([a.get_potential_energy() for a in written], energies)
    assert sorted(split["train"] + split["test"] + split["validation"]) == list(range(60))
    assert (out / "energy_histogram.png").stat().st_size > 1000


def _fake_run(folder, volume, pressure, noise, rng, rows=200):
    """An 'aseml-zif md' run folder holding only thermo.csv at fixed V, noisy P."""
    from aseml_zif.md.output import THERMO_COLUMNS

    folder.mkdir()
    with open(folder / "thermo.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(THERMO_COLUMNS)
        for step in range(rows):
            row = dict.fromkeys(THERMO_COLUMNS, 0.0)
            row.update(step=step, stage="nvt", volume_A3=volume,
                       pressure_GPa=pressure + noise * rng.standard_normal())
            writer.writerow([row[c] for c in THERMO_COLUMNS])


def test_mechanics_eos_recovers_known_bulk_modulus(tmp_path):
    from aseml_zif.mechanics import birch_murnaghan_pressure

    rng = np.random.default_rng(0)
    V0, K0 = 4300.0, 2.5  # Å³, GPa: ZIF-4-like
    runs = []
    for k, strain in enumerate(np.linspace(-0.015, 0.015, 7)):
        volume = V0 * (1 + strain)
        runs.append(tmp_path / f"v{k}")
        _fake_run(runs[-1], volume, float(birch_murnaghan_pressure(volume, V0, K0)), 0.01, rng)
    out = tmp_path / "eos"
    assert main(["mechanics", "eos", *map(str, runs), "--out", str(out)]) == 0
    result = json.loads((out / "eos.json").read_text())
    assert abs(result["K0_GPa"] - K0) < 3 * result["K0_GPa_err"] + 0.05
    assert abs(result["V0_A3"] - V0) < 3 * result["V0_A3_err"] + 1.0
    assert (out / "pv_fit.png").stat().st_size > 1000


def test_benchmark_times_each_potential(tmp_path, capsys):
    """Two different potentials (springs in NumPy, a TorchScript pair model) side by side."""
    from aseml_zif.testing.toy_model import write_toy_legacy_model

    toy = str(write_toy_legacy_model(tmp_path / "toy.pth"))
    out = tmp_path / "bench"
    assert main(["benchmark", "--model", SPRINGS, "--model", toy, "--calls", "5",
                 "--warmup", "1", "--out", str(out)]) == 0
    result = json.loads((out / "benchmark.json").read_text())
    assert result["n_atoms"] == 272
    timings = result["us_per_atom_call"]
    assert list(timings) == [SPRINGS, toy] and all(t > 0 for t in timings.values())
    ratios = {SPRINGS: 1.0, toy: pytest.approx(timings[toy] / timings[SPRINGS])}
    assert result["ratio_to_first"] == ratios
    printed = capsys.readouterr().out
    assert f"{SPRINGS}: " in printed and f"{toy}: " in printed and "ratios to" in printed


def test_benchmark_times_a_repeated_model_again(tmp_path, monkeypatch):
    """``--model X --model X`` times X twice, as X and X#2 (its run-to-run spread), each with
    its own calculator and number, instead of keeping one entry."""
    import aseml_zif.training

    timed = []

    def fake_efficiency(calculator, atoms, n_calls, n_warmup):
        timed.append(calculator)
        return 10.0 * len(timed)

    monkeypatch.setattr(aseml_zif.training, "efficiency", fake_efficiency)
    out = tmp_path / "bench"
    assert main(["benchmark", "--model", SPRINGS, "--model", SPRINGS, "--calls", "5",
                 "--warmup", "1", "--out", str(out)]) == 0
    result = json.loads((out / "benchmark.json").read_text())
    assert result["us_per_atom_call"] == {SPRINGS: 10.0, f"{SPRINGS}#2": 20.0}
    assert result["ratio_to_first"] == {SPRINGS: 1.0, f"{SPRINGS}#2": 2.0}
    assert len(timed) == 2 and timed[0] is not timed[1]


def test_benchmark_labels_never_collide():
    from aseml_zif.cli.benchmark import model_labels

    assert model_labels(["a", "b", "a", "a#2", "a"]) == ["a", "b", "a#2", "a#2#2", "a#3"]


def test_demo_quick_writes_report_and_resumes(tmp_path):
    """The main job end to end on the bonded test potential: the report holds the fixed keys,
    the crystal's known numbers (CN 4, 32 imidazolates, rings 8/12/16 = 4/16/32 per cell), a
    bonded network that stays intact, the figures; rerunning resumes instead of redoing MD."""
    from ase.io import read

    out = tmp_path / "demo"
    argv = ["demo", "--out", str(out), "--model", SPRINGS, "--quick", "--seed", "1"]
    assert main(argv) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["md"]["steps"] == 200
    assert [s["name"] for s in report["protocol"]["stages"]] == ["heat", "plateau", "quench",
                                                                 "equilibrate"]
    crystal, final = report["crystal"], report["final"]
    assert crystal["zn_n_coordination"]["mean"] == 4.0
    assert crystal["linkers"]["n_intact"] == 32 and crystal["linkers"]["n_broken"] == 0
    assert crystal["ring_counts_per_cell"] == {"8": 4.0, "12": 16.0, "16": 32.0}
    assert 45 < crystal["pore_volume_cm3_per_kg"]["total_cm3_per_kg"] < 62  # Zeo++: ≈ 53-54
    assert 1.9 < crystal["zn_n_rdf_first_peak_A"] < 2.1
    assert final["frames_averaged"] == 25  # equilibration stage: steps 152..200, every 2nd
    assert final["linkers"]["n_intact"] == 32  # springs keep every bond
    assert final["zn_n_coordination"]["mean"] > 3.9
    for figure in report["figures"]:
        assert (out / figure).stat().st_size > 10_000
    n_frames = len(read(out / "md" / "trajectory.traj", ":"))
    assert main(argv) == 0
    assert len(read(out / "md" / "trajectory.traj", ":")) == n_frames
    assert json.loads((out / "report.json").read_text())["final"] == final


def _springs_k12():
    from aseml_zif.structures import zif4_crystal

    return BondSprings(zif4_crystal(), k=12.0)


def test_evaluate_reports_known_errors(tmp_path):
    """Frames labelled with springs k = 10 eV/Å² and evaluated with k = 12: every force is
    1.2× the reference, so the force MAE is 0.2 × mean |F_ref| exactly, and k = 10 gives 0."""
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    from aseml_zif.structures import zif4_crystal

    reference = zif4_crystal()
    teacher = BondSprings(reference.copy())
    frames = []
    for seed in range(3):
        atoms = reference.copy()
        atoms.rattle(0.05, seed=seed)
        atoms.calc = teacher
        labels = dict(energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                      stress=atoms.get_stress())
        atoms.calc = SinglePointCalculator(atoms, **labels)
        frames.append(atoms)
    path = tmp_path / "frames.extxyz"
    write(path, frames)
    mean_force = np.mean([np.abs(f.get_forces()).mean() for f in frames])
    for factory, expected in ((SPRINGS, 0.0), (f"{__name__}:_springs_k12", 0.2 * mean_force)):
        out = tmp_path / factory.split(":")[1]
        assert main(["evaluate", str(path), "--model", factory, "--out", str(out)]) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["n_frames"] == 3
        assert metrics["force_mae_meV_per_A"] == pytest.approx(1000 * expected, abs=1e-3)  # extxyz digits


def test_analyze_crystal_report(tmp_path):
    """The crystal's known structure through 'aseml-zif analyze': CN 4, rings 8/12/16."""
    from ase.io import write

    from aseml_zif.structures import zif4_crystal

    path = tmp_path / "crystal.extxyz"
    write(path, zif4_crystal())
    out = tmp_path / "analysis"
    assert main(["analyze", str(path), "--out", str(out), "--no-pores"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["coordination"]["mean"] == 4.0
    assert report["rings"]["counts_per_cell"] == {"8": 4.0, "12": 16.0, "16": 32.0}
    assert any(out.glob("*.png"))


def test_missing_fast_model_says_what_to_do(tmp_path, capsys, monkeypatch):
    from aseml_zif.calculator import SHIPPED_MODELS

    monkeypatch.setitem(SHIPPED_MODELS, "fast", "fast_model/not_shipped.nequip.zip")
    status = main(["md", "nvt", "crystal", "--model", "fast", "--workdir", str(tmp_path)])
    _one_line_error(capsys, status, "fast model", "--model PATH")


def test_shipped_model_on_a_missing_gpu_is_a_device_error(tmp_path, capsys):
    """Only a missing file is "not available in this installation"; other errors stay theirs."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    status = main(["md", "nvt", "crystal", "--model", "fast", "--device", "cuda:0",
                   "--workdir", str(tmp_path)])
    err = _one_line_error(capsys, status, "CUDA is not available")
    assert "embedded" not in err
