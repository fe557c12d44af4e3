"""``aseml-zif md``: a model returning NaN and a resume with another potential are one clean
line each (exit status 2), and ``--allow-other-potential`` continues the run on purpose."""
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


def _one_line_error(capsys, status):
    """The error line (stderr's last; the progress bar comes before it)."""
    err = capsys.readouterr().err.strip()
    assert status == 2 and "Traceback" not in err
    last = err.split("\n")[-1]
    assert last.startswith("aseml-zif: error: ") and err.count("aseml-zif: error") == 1
    return last


def test_nan_forces_are_one_line_naming_step_and_atom(tmp_path, copper, capsys):
    status = main(_argv(copper, tmp_path / "run", "nan_emt"))
    err = _one_line_error(capsys, status)
    assert "at step " in err and "non-finite forces on 1 atom(s): Cu3" in err
    assert "watchdog_snapshot.traj" in err and (tmp_path / "run" / "watchdog_snapshot.traj").exists()


def test_other_potential_is_refused_then_continued_with_the_flag(tmp_path, copper, capsys):
    workdir = tmp_path / "run"
    assert main(_argv(copper, workdir, "emt")) == 0
    capsys.readouterr()
    err = _one_line_error(capsys, main(_argv(copper, workdir, "other_emt")))
    assert "calculator EMT" in err and "calculator OtherEMT" in err and "--allow-other-potential" in err
    with pytest.warns(UserWarning, match="continuing a run made with calculator EMT"):
        assert main(_argv(copper, workdir, "other_emt") + ["--allow-other-potential"]) == 0
    assert json.loads((workdir / "run.json").read_text())["potential"] == {"calculator": "OtherEMT"}
