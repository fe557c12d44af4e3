"""``--threads N`` of the long-running ``aseml-zif`` commands: torch runs on N intra-op threads
from before the model is loaded; without it (or with 0) torch's own count stays; a negative,
non-integer or larger-than-the-CPUs value is one argparse error."""
import json
import os

import pytest
import torch
from ase.build import bulk
from ase.io import write

import aseml_zif.cli.benchmark
import aseml_zif.cli.dataset
import aseml_zif.cli.demo
import aseml_zif.cli.md
import aseml_zif.cli.mechanics
from aseml_zif.cli import main

#: torch's thread count while a test runs: not 1, so that ``--threads 1`` is seen to act
BEFORE = 2

#: (argv without --threads, module whose ``load_calculator`` the command calls)
COMMANDS = {
    "md nvt": (["md", "nvt", "crystal"], aseml_zif.cli.md),
    "md npt": (["md", "npt", "crystal"], aseml_zif.cli.md),
    "meltquench": (["meltquench", "crystal"], aseml_zif.cli.md),
    "demo": (["demo", "--quick"], aseml_zif.cli.demo),
    "mechanics scan": (["mechanics", "scan", "crystal", "--temperature", "300"], aseml_zif.cli.mechanics),
    "mechanics sample": (["mechanics", "sample", "crystal", "--temperature", "300"],
                         aseml_zif.cli.mechanics),
    "dataset label": (["dataset", "label", "FRAMES", "--out", "labelled.extxyz"], aseml_zif.cli.dataset),
    "benchmark": (["benchmark"], aseml_zif.cli.benchmark),
}


class ModelLoaded(Exception):
    """Raised by the fake ``load_calculator``: the command got as far as loading the model."""


@pytest.fixture
def torch_threads():
    """Torch at ``BEFORE`` threads during the test, its own count again afterwards."""
    saved = torch.get_num_threads()
    torch.set_num_threads(BEFORE)
    yield
    torch.set_num_threads(saved)


def _threads_at_model_load(name, extra, tmp_path, monkeypatch):
    """Run command ``name`` with ``extra`` arguments up to its model loading; return torch's
    thread count at that moment."""
    argv, module = COMMANDS[name]
    frames = tmp_path / "frames.extxyz"
    write(frames, bulk("Cu", cubic=True))
    argv = [str(frames) if a == "FRAMES" else a for a in argv]
    seen = []

    def fake_load_calculator(*args, **kwargs):
        seen.append(torch.get_num_threads())
        raise ModelLoaded

    monkeypatch.setattr(module, "load_calculator", fake_load_calculator)
    monkeypatch.chdir(tmp_path)  # default output folders go there
    with pytest.raises(ModelLoaded):
        main([*argv, *extra])
    assert len(seen) == 1
    return seen[0]


@pytest.mark.parametrize("name", COMMANDS)
def test_threads_one_is_set_before_the_model_loads(name, torch_threads, tmp_path, monkeypatch):
    assert _threads_at_model_load(name, ["--threads", "1"], tmp_path, monkeypatch) == 1


@pytest.mark.parametrize("extra", [[], ["--threads", "0"]], ids=["absent", "zero"])
@pytest.mark.parametrize("name", ["meltquench", "benchmark"])
def test_default_leaves_torch_threads_alone(name, extra, torch_threads, tmp_path, monkeypatch):
    assert _threads_at_model_load(name, extra, tmp_path, monkeypatch) == BEFORE


@pytest.mark.parametrize("value", ["-1", "two", "1.5", str((os.cpu_count() or 1) + 1)])
@pytest.mark.parametrize("name", COMMANDS)
def test_bad_thread_count_is_an_argparse_error(name, value, torch_threads, capsys):
    argv, _ = COMMANDS[name]
    with pytest.raises(SystemExit) as exit_info:
        main([*argv, "--threads", value])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in err
    assert "argument --threads: expected" in err and value in err.splitlines()[-1]
    assert torch.get_num_threads() == BEFORE


def test_benchmark_records_the_thread_count(torch_threads, tmp_path, monkeypatch):
    import aseml_zif.training

    monkeypatch.setattr(aseml_zif.training, "efficiency", lambda *args, **kwargs: 1.0)
    monkeypatch.setattr(aseml_zif.cli.benchmark, "load_calculator", lambda *args, **kwargs: None)
    for extra, expected in (([], BEFORE), (["--threads", "1"], 1)):
        out = tmp_path / f"bench{expected}"
        assert main(["benchmark", "--out", str(out), *extra]) == 0
        assert json.loads((out / "benchmark.json").read_text())["torch_threads"] == expected


def test_threads_help_names_torch_and_the_small_model_case(capsys):
    with pytest.raises(SystemExit):
        main(["meltquench", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert ("--threads N torch intra-op threads (default: torch's, all cores); small compiled "
            "models can run faster with 1") in help_text
