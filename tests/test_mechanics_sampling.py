"""sample_cells and volume_scan run through aseml_zif.md.run: a killed or crashed run resumed with
the same call gives what an uninterrupted run gives, without redoing the steps before its last
checkpoint; the results are read from the run's own files; the runs are watched.

EMT Cu with vesin's neighbour list (``FastEMT``): it is rebuilt from the positions at every call,
so a resumed run repeats the uninterrupted one bit for bit (ASE's Verlet list need not).
"""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase import units
from ase.build import bulk
from crashing import Crashing
from test_mechanics_emt import FastEMT

from aseml_zif.md import RUN_FILES, CheckpointError, Watchdog, WatchdogError
from aseml_zif.md.checkpoint import read_checkpoint
from aseml_zif.md.results import read_cells, read_thermo, thermo_cells
from aseml_zif.mechanics import block_average, sample_cells, volume_scan

# 4-atom EMT Cu at 50 K, 5 fs steps: 40 equilibration + 200 production steps
SAMPLING = dict(temperature_K=50.0, n_steps=200, n_equilibration=40, timestep_fs=5.0, interval=5,
                pdamp_fs=250.0, seed=5, progress=False, checkpoint_every=30)
SAMPLING_STEPS = 240
SCAN = dict(temperature_K=50.0, volume_strains=[-0.01, 0.0, 0.01], n_steps=60, n_equilibration=20,
            timestep_fs=5.0, interval=4, n_blocks=3, seed=2, progress=False, checkpoint_every=20)
SCAN_POINT_STEPS = 80


def _copper(calc=None):
    atoms = bulk("Cu", cubic=True)
    atoms.calc = FastEMT() if calc is None else calc
    return atoms


class CountingEMT(Crashing, FastEMT):
    """FastEMT counting its evaluations; raises on the ``crash_at``-th (a crash between checkpoints)."""


class SlowEMT(CountingEMT):
    """CountingEMT that leaves time to kill the job between two checkpoints."""

    def calculate(self, *args, **kwargs):
        time.sleep(0.002)
        super().calculate(*args, **kwargs)


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from test_mechanics_sampling import SAMPLING, SlowEMT, _copper
    from aseml_zif.mechanics import sample_cells
    sample_cells(_copper(SlowEMT()), workdir={workdir!r}, **SAMPLING)
    """
)


def test_sigkilled_sample_cells_rerun_gives_the_same_cells(tmp_path):
    reference = sample_cells(_copper(), **SAMPLING)  # uninterrupted, in a temporary folder
    assert reference.workdir is None and len(reference.cells) == 41  # steps 40, 45, ..., 240
    workdir = tmp_path / "nsigmat"
    script = tmp_path / "job.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__), workdir=str(workdir)))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        ckpt = read_checkpoint(workdir / RUN_FILES["checkpoint"]) if workdir.exists() else None
        if ckpt and ckpt[1]["step"] >= 60:
            break
        time.sleep(0.01)
    time.sleep(0.03)  # land between checkpoints
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_checkpoint(workdir / RUN_FILES["checkpoint"])[1]["step"]
    assert 60 <= killed_at < SAMPLING_STEPS, "the job finished before it could be killed"

    calc = SlowEMT()
    resumed = sample_cells(_copper(calc), workdir=workdir, **SAMPLING).cells  # the same call
    assert calc.calls < SAMPLING_STEPS - killed_at + 10  # resumed from the checkpoint, not restarted
    steps, cells = thermo_cells(read_thermo(workdir / RUN_FILES["thermo"]))
    assert list(steps) == list(range(0, SAMPLING_STEPS + 1, 5))  # no row lost or duplicated
    np.testing.assert_array_equal(resumed, reference.cells)
    np.testing.assert_array_equal(resumed, cells[steps >= 40])  # read from thermo.csv
    # frames are saved sparsely (every 100 intervals, and the last), with thermo.csv's cells
    frame_steps, frame_cells = read_cells(workdir / RUN_FILES["trajectory"])
    assert list(frame_steps) == [0, SAMPLING_STEPS]
    np.testing.assert_array_equal(frame_cells, cells[[0, -1]])
    assert resumed[:, 0, 1].std() > 0  # a flexible cell: the shape fluctuates
    assert np.isnan(reference.conserved_drift_eV)  # Langevin has no conserved quantity


def test_crashed_volume_scan_resumes_to_the_same_result(tmp_path):
    reference = volume_scan(_copper(), **SCAN)
    with pytest.raises(RuntimeError, match="simulated crash"):
        volume_scan(_copper(CountingEMT(crash_at=SCAN_POINT_STEPS + 50)), workdir=tmp_path, **SCAN)
    points = sorted(p for p in tmp_path.iterdir() if p.is_dir())
    assert [p.name for p in points] == ["00_strain-0.01000", "01_strain+0.00000"]
    stopped_at = read_checkpoint(points[1] / RUN_FILES["checkpoint"])[1]["step"]
    assert 0 < stopped_at < SCAN_POINT_STEPS

    calc = CountingEMT()
    scan = volume_scan(_copper(calc), workdir=tmp_path, **SCAN)
    # point 0 is only read, point 1 continues from its checkpoint, point 2 runs in full
    assert calc.calls < (SCAN_POINT_STEPS - stopped_at) + SCAN_POINT_STEPS + 5
    for name in ("volumes_A3", "pressures_GPa", "pressure_errors_GPa", "conserved_drift_eV"):
        np.testing.assert_array_equal(getattr(scan, name), getattr(reference, name))
    assert np.all(np.diff(scan.pressures_GPa) < 0)  # compressed copper pushes back harder
    # the pressures are the block averages of each run's own thermo.csv (production rows)
    thermo = read_thermo(sorted(tmp_path.glob("02_*"))[0] / RUN_FILES["thermo"])
    production = (thermo["step"] >= 20) & (thermo["step"] % 4 == 0)
    mean, error = block_average(thermo["pressure_GPa"][production], 3)
    assert (scan.pressures_GPa[2], scan.pressure_errors_GPa[2]) == (mean, error)
    # Nosé–Hoover NVT: the conserved quantity of each volume point holds to well below kT
    assert np.all(np.abs(scan.conserved_drift_eV) < 0.1 * units.kB * SCAN["temperature_K"])


def test_volume_scan_refuses_the_workdir_of_another_scan(tmp_path):
    (tmp_path / "volume_scan.json").write_text('{"volume_strains": [-0.02, 0.0, 0.02]}')
    with pytest.raises(CheckpointError, match="volume_scan.json"):
        volume_scan(_copper(), workdir=tmp_path, **SCAN)


def test_sample_cells_is_watched(tmp_path):
    # fcc Cu neighbours are 2.55 Å apart: a 3 Å minimum distance must stop the run at once
    with pytest.raises(WatchdogError, match="atoms too close"):
        sample_cells(_copper(), workdir=tmp_path, watchdog=Watchdog(min_distance=3.0), **SAMPLING)
    assert (tmp_path / RUN_FILES["snapshot"]).exists()


def test_sample_cells_resumes_only_with_the_same_potential(tmp_path):
    short = {**SAMPLING, "n_steps": 20, "n_equilibration": 0}
    first = sample_cells(_copper(), workdir=tmp_path, **short)
    with pytest.raises(CheckpointError, match="CountingEMT"):
        sample_cells(_copper(CountingEMT()), workdir=tmp_path, **short)
    calc = CountingEMT()
    with pytest.warns(Warning):
        again = sample_cells(_copper(calc), workdir=tmp_path, allow_other_potential=True, **short)
    assert calc.calls == 0  # the finished run is read, not repeated
    np.testing.assert_array_equal(again.cells, first.cells)
