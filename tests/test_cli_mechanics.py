"""``aseml-zif mechanics scan|sample`` run their MD in the --out folder and resume there: a crashed
command rerun gives the same result files as an uninterrupted one, without redoing the steps
before the last checkpoint. EMT Cu (4 atoms) through a ``--model module:factory`` spec."""
import json

import numpy as np
import pytest
from ase.build import bulk
from ase.io import write
from crashing import Crashing
from test_mechanics_emt import FastEMT

from aseml_zif.cli import main
from aseml_zif.md import RUN_FILES
from aseml_zif.md.checkpoint import read_checkpoint

#: ``--model`` value of the counting EMT below (this module is importable under pytest)
MODEL = f"{__name__}:counting_emt"
CALCULATORS = []  # every calculator the factory made, last one last
CRASH_AT = None  # evaluation at which the next calculator raises


class CountingEMT(Crashing, FastEMT):
    """FastEMT counting its evaluations; raises on the ``crash_at``-th."""


def counting_emt():
    CALCULATORS.append(CountingEMT(CRASH_AT))
    return CALCULATORS[-1]


@pytest.fixture
def copper_file(tmp_path):
    path = tmp_path / "cu.extxyz"
    write(path, bulk("Cu", cubic=True))
    return path


def _sample(structure, out):
    # 20 equilibration + 200 production steps of 5 fs at 50 K
    return ["mechanics", "sample", str(structure), "--model", MODEL, "--temperature", "50",
            "--time-ps", "1.0", "--equilibration-ps", "0.1", "--timestep-fs", "5", "--interval", "5",
            "--pdamp-fs", "250", "--checkpoint-every", "30", "--seed", "4", "--out", str(out)]


def test_mechanics_sample_resumes_after_a_crash(tmp_path, copper_file, monkeypatch):
    assert main(_sample(copper_file, tmp_path / "reference")) == 0
    reference = json.loads((tmp_path / "reference" / "elastic.json").read_text())
    assert reference["n_frames"] == 41 and np.shape(reference["C_GPa"]) == (6, 6)

    out = tmp_path / "crashed"
    monkeypatch.setattr(f"{__name__}.CRASH_AT", 120)
    with pytest.raises(RuntimeError, match="simulated crash"):
        main(_sample(copper_file, out))
    assert not (out / "elastic.json").exists()
    stopped_at = read_checkpoint(out / "nsigmat" / RUN_FILES["checkpoint"])[1]["step"]
    assert 0 < stopped_at < 220

    monkeypatch.setattr(f"{__name__}.CRASH_AT", None)
    assert main(_sample(copper_file, out)) == 0
    assert CALCULATORS[-1].calls < 220 - stopped_at + 10  # resumed, not restarted
    assert json.loads((out / "elastic.json").read_text()) == reference
    assert (out / "running_stiffness.png").stat().st_size > 1000


def test_mechanics_scan_fits_emt_copper_and_resumes(tmp_path, copper_file):
    out = tmp_path / "scan"
    argv = ["mechanics", "scan", str(copper_file), "--model", MODEL, "--temperature", "2",
            "--strains", "-0.015", "0", "0.015", "--time-ps", "0.2", "--equilibration-ps", "0.05",
            "--timestep-fs", "5", "--interval", "2", "--blocks", "5", "--seed", "1",
            "--out", str(out)]
    assert main(argv) == 0
    result = json.loads((out / "eos.json").read_text())
    assert sorted(p.name for p in (out / "volumes").iterdir() if p.is_dir()) == [
        "00_strain-0.01500", "01_strain+0.00000", "02_strain+0.01500"]
    # EMT Cu near 0 K: K0 of about 135 GPa (0 K finite differences: test_mechanics_emt.py)
    assert 110 < result["K0_GPa"] < 160
    volumes = [p["volume_A3"] for p in result["points"]]
    np.testing.assert_allclose(np.diff(volumes), 0.015 * volumes[1], rtol=1e-9)
    assert all(abs(p["conserved_energy_drift_eV"]) < 1e-4 for p in result["points"])
    assert main(argv) == 0  # finished: the rerun only reads the runs
    assert CALCULATORS[-1].calls == 0
    assert json.loads((out / "eos.json").read_text()) == result
