"""``aseml-zif md``: a model returning NaN and a resume with another potential are one clean
line each (exit status 2), and ``--allow-other-potential`` continues the run on purpose;
``meltquench`` prints steps/s next to the model's ms per call, measured in the same steps."""
import json

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import write

from aseml_zif.cli import main


class NaNEMT(EMT):
    """EMT whose force on atom 3 is NaN from the 20th evaluation on."""

    def __init__(self):
        super().__init__()
        self.calls = 0

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.calls += 1
        if self.calls >= 20:
            self.results["forces"][3] = np.nan


class OtherEMT(EMT):
    """Stands for another potential (run.json records the calculator's class)."""


def nan_emt():
    return NaNEMT()


def emt():
    return EMT()


def other_emt():
    return OtherEMT()


def _argv(structure, workdir, factory):
    return ["md", "nvt", str(structure), "--model", f"{__name__}:{factory}", "--workdir",
            str(workdir), "--time-ps", "0.03", "--timestep-fs", "1", "--save-every", "5",
            "--checkpoint-every", "10", "--seed", "1"]


@pytest.fixture
def copper(tmp_path):
    path = tmp_path / "cu.extxyz"
    write(path, bulk("Cu", cubic=True).repeat(2))
    return path


def _one_line_error(captured, status):
    """The error line (stderr's last; the progress bar comes before it) of ``capsys.readouterr()``."""
    err = captured.err.strip()
    assert status == 2 and "Traceback" not in err
    last = err.split("\n")[-1]
    assert last.startswith("aseml-zif: error: ") and err.count("aseml-zif: error") == 1
    return last


def test_nan_forces_are_one_line_naming_step_and_atom(tmp_path, copper, capsys):
    status = main(_argv(copper, tmp_path / "run", "nan_emt"))
    captured = capsys.readouterr()
    assert "MD speed of this invocation: " in captured.out  # of the steps before the stop
    err = _one_line_error(captured, status)
    assert "at step " in err and "non-finite forces on 1 atom(s): Cu3" in err
    assert "watchdog_snapshot.traj" in err and (tmp_path / "run" / "watchdog_snapshot.traj").exists()


def test_other_potential_is_refused_then_continued_with_the_flag(tmp_path, copper, capsys):
    workdir = tmp_path / "run"
    assert main(_argv(copper, workdir, "emt")) == 0
    capsys.readouterr()
    status = main(_argv(copper, workdir, "other_emt"))
    err = _one_line_error(capsys.readouterr(), status)
    assert "calculator EMT" in err and "calculator OtherEMT" in err and "--allow-other-potential" in err
    with pytest.warns(UserWarning, match="continuing a run made with calculator EMT"):
        assert main(_argv(copper, workdir, "other_emt") + ["--allow-other-potential"]) == 0
    assert json.loads((workdir / "run.json").read_text())["potential"] == {"calculator": "OtherEMT"}


def test_meltquench_prints_steps_per_s_next_to_the_models_time_per_call(tmp_path, capsys):
    from aseml_zif.md import RUN_FILES
    from aseml_zif.md.results import run_status
    from aseml_zif.md.timing import read_timing
    from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model

    model = write_toy_legacy_model(tmp_path / "toy.pth")
    write(tmp_path / "toy.extxyz", toy_zif_cell().repeat(2))
    workdir = tmp_path / "mq"
    argv = ["meltquench", str(tmp_path / "toy.extxyz"), "--model", str(model), "--workdir", str(workdir),
            "--t-max", "400", "--rate", "100000", "--plateau-ps", "0.003", "--equilibrate-ps", "0.008",
            "--save-every", "4", "--checkpoint-every", "8", "--no-watchdog", "--seed", "0"]
    assert main(argv) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("MD speed")]
    (record,) = read_timing(workdir / RUN_FILES["timing"])
    steps = record["steps"]
    assert steps == record["model_calls"] == run_status(workdir)["total_steps"]
    assert f"{record['steps_per_s']:.1f} steps/s" in line
    assert f"model {record['model_ms_per_call']:.2f} ms/call ({steps} calls)" in line
    assert f"MD overhead {record['md_overhead_percent']:.1f} %" in line
    speed = json.loads((workdir / "results.json").read_text())["speed"]
    del record["first_step"], record["last_step"]
    assert speed == {"invocations": 1, **record}

    assert main(argv) == 0  # finished already: no steps, no speed line
    assert "MD speed" not in capsys.readouterr().out


def test_linker_confirm_time_reaches_the_watchdog_and_a_negative_one_is_one_line(tmp_path, copper,
                                                                                 capsys):
    from argparse import Namespace

    from aseml_zif.cli.md import _watchdog
    from aseml_zif.md import Watchdog

    assert _watchdog(Namespace(no_watchdog=False, linker_confirm_fs=5.0)).linker_confirm_fs == 5.0
    assert _watchdog(Namespace(no_watchdog=False, linker_confirm_fs=None)) == Watchdog()
    assert _watchdog(Namespace(no_watchdog=True, linker_confirm_fs=5.0)) is False
    status = main(_argv(copper, tmp_path / "run", "emt") + ["--linker-confirm-fs", "-1"])
    err = _one_line_error(capsys.readouterr(), status)
    assert "linker_confirm_fs must be >= 0 fs, got -1.0" in err
