"""Restartable runs: a crashed or SIGKILLed run resumed with the same call ends where an
uninterrupted run ends, with the same frames (none lost, none duplicated) and the same log."""
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.io import read, write

from aseml_zif.md import RUN_FILES, CheckpointError, Stage, run
from aseml_zif.md.checkpoint import read_checkpoint
from aseml_zif.md.results import run_frames
from crashing import Crashing

# NVT ramp + plateau (one Nosé–Hoover chain carried across), flexible Langevin, MTK NPT
STAGES = [
    Stage("nvt", 0.040, (300, 500), name="ramp"),
    Stage("nvt", 0.030, 500, name="hold"),
    Stage("npt_langevin", 0.030, 500, pressure_GPa=0.2, pdamp_fs=100),
    Stage("npt_flex", 0.030, 500, pressure_GPa=0.2, pdamp_fs=100),
]
SETTINGS = dict(timestep_fs=1.0, save_every=3, checkpoint_every=20, log_every=2, seed=7,
                progress=False)
# EMT keeps a Verlet list with a skin: a restarted EMT may sum forces in another order, so
# states agree to rounding (1e-16) grown over the remaining steps, not always bitwise.
TOL = dict(rtol=0, atol=1e-10)


def _copper():
    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.02, seed=3)
    return atoms


class CrashingEMT(Crashing, EMT):
    """EMT that raises on its ``crash_at``-th evaluation (a crash between checkpoints)."""


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("uninterrupted")
    final = run(_copper(), EMT(), STAGES, workdir, **SETTINGS)
    return workdir, final


def _assert_same_run(workdir, reference):
    ref_dir, ref_final = reference
    frames = read(workdir / RUN_FILES["trajectory"], ":")
    ref_frames = read(ref_dir / RUN_FILES["trajectory"], ":")
    assert [f.info["step"] for f in frames] == [f.info["step"] for f in ref_frames]
    assert [f.info["stage"] for f in frames] == [f.info["stage"] for f in ref_frames]
    for a, b in zip(frames, ref_frames):
        np.testing.assert_allclose(a.positions, b.positions, **TOL)
        np.testing.assert_allclose(a.get_momenta(), b.get_momenta(), **TOL)
        np.testing.assert_allclose(a.cell[:], b.cell[:], **TOL)
        assert a.get_potential_energy() == pytest.approx(b.get_potential_energy(), abs=1e-9)
    rows = (workdir / RUN_FILES["thermo"]).read_text().splitlines()
    ref_rows = (ref_dir / RUN_FILES["thermo"]).read_text().splitlines()
    assert [r.split(",")[0] for r in rows] == [r.split(",")[0] for r in ref_rows]
    final = read(workdir / RUN_FILES["trajectory"], -1)
    np.testing.assert_allclose(final.positions, ref_final.positions, **TOL)
    ckpt, ref_ckpt = read_checkpoint(workdir / "checkpoint.npz"), read_checkpoint(ref_dir / "checkpoint.npz")
    assert ckpt[1]["rng_state"] == ref_ckpt[1]["rng_state"]


def test_reference_run_writes_every_output(reference):
    workdir, final = reference
    frames = read(workdir / RUN_FILES["trajectory"], ":")
    total = 130
    assert [f.info["step"] for f in frames] == list(range(0, total, 3)) + [total]
    assert frames[-1].info["stage"] == "npt_flex" and frames[0].info["stage"] == "ramp"
    assert frames[5].info["time_fs"] == 15.0
    for prop in ("energy", "forces", "stress"):
        assert prop in frames[-1].calc.results
    assert "temperature_K" in frames[-1].info
    np.testing.assert_array_equal(frames[-1].positions, final.positions)
    # calling run again on a finished workdir returns the final state and adds nothing
    again = run(_copper(), EMT(), STAGES, workdir, **SETTINGS)
    np.testing.assert_array_equal(again.positions, final.positions)
    assert len(read(workdir / RUN_FILES["trajectory"], ":")) == len(frames)


def test_crash_between_checkpoints_resumes_without_duplicates(tmp_path, reference):
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(_copper(), CrashingEMT(crash_at=75), STAGES, tmp_path, **SETTINGS)
    meta = read_checkpoint(tmp_path / "checkpoint.npz")[1]
    written = len(read(tmp_path / RUN_FILES["trajectory"], ":"))
    assert written > meta["n_frames"]  # frames after the checkpoint exist and must be cut
    run(_copper(), CrashingEMT(crash_at=0), STAGES, tmp_path, **SETTINGS)  # same potential, no crash
    _assert_same_run(tmp_path, reference)


def test_resume_without_the_trajectory_continues_in_a_new_file(tmp_path, reference):
    """A run folder copied without its trajectory (too big to keep) still resumes from its
    checkpoint: a new trajectory holds the frames from the checkpoint on, the same as the
    uninterrupted run's, also when the resumed run crashes again before its next checkpoint."""
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(_copper(), CrashingEMT(crash_at=75), STAGES, tmp_path, **SETTINGS)
    resumed_at = read_checkpoint(tmp_path / "checkpoint.npz")[1]["step"]
    assert resumed_at > 0
    (tmp_path / RUN_FILES["trajectory"]).unlink()
    with pytest.warns(UserWarning, match=r"trajectory.traj: missing; the \d+ frames saved up to "
                      f"step {resumed_at} are lost"):
        with pytest.raises(RuntimeError, match="simulated crash"):
            run(_copper(), CrashingEMT(crash_at=5), STAGES, tmp_path, **SETTINGS)
    assert read_checkpoint(tmp_path / "checkpoint.npz")[1]["step"] == resumed_at  # none since
    run(_copper(), CrashingEMT(crash_at=0), STAGES, tmp_path, **SETTINGS)  # no crash
    frames = read(tmp_path / RUN_FILES["trajectory"], ":")
    ref_frames = [f for f in read(reference[0] / RUN_FILES["trajectory"], ":")
                  if f.info["step"] > resumed_at]
    assert [f.info["step"] for f in frames] == [f.info["step"] for f in ref_frames]
    for a, b in zip(frames, ref_frames):
        np.testing.assert_allclose(a.positions, b.positions, **TOL)
        np.testing.assert_allclose(a.get_momenta(), b.get_momenta(), **TOL)
    with pytest.warns(UserWarning, match=f"holds the frames from step {frames[0].info['step']} on"):
        selected, _ = run_frames(tmp_path, stage="all")
    assert len(selected) == len(frames)


def test_a_finished_run_without_its_trajectory_is_read_back_as_it_is(tmp_path):
    """Calling run() again on a finished folder whose trajectory was left behind returns its
    final state and writes no empty trajectory (which would hide the run's frames elsewhere)."""
    short = [Stage("nvt", 0.010, 300)]
    first = run(_copper(), EMT(), short, tmp_path, **SETTINGS)
    (tmp_path / RUN_FILES["trajectory"]).unlink()
    again = run(_copper(), EMT(), short, tmp_path, **SETTINGS)
    np.testing.assert_array_equal(again.positions, first.positions)
    assert not (tmp_path / RUN_FILES["trajectory"]).exists()
    run(_copper(), EMT(), short, tmp_path, **SETTINGS)  # and again


def test_resume_refuses_a_trajectory_shorter_than_the_checkpoint(tmp_path):
    """Fewer frames than the checkpoint counts is a damaged run, not a lost file."""
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(_copper(), CrashingEMT(crash_at=75), STAGES, tmp_path, **SETTINGS)
    path = tmp_path / RUN_FILES["trajectory"]
    frames = read(path, ":")
    write(path, frames[:3])
    with pytest.raises(CheckpointError, match="holds 3 frames, fewer than the"):
        run(_copper(), CrashingEMT(crash_at=0), STAGES, tmp_path, **SETTINGS)


def test_resume_refuses_a_different_protocol(tmp_path):
    short = [Stage("nvt", 0.005, 300)]
    run(_copper(), EMT(), short, tmp_path, **SETTINGS)
    with pytest.raises(CheckpointError, match="different 'timestep_fs'"):
        run(_copper(), EMT(), short, tmp_path, **{**SETTINGS, "timestep_fs": 0.5})


SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from ase.calculators.emt import EMT
    from test_md_restart import STAGES, SETTINGS, _copper
    from aseml_zif.md import run
    run(_copper(), EMT(), STAGES, {workdir!r}, **SETTINGS)
    """
)


def test_sigkill_mid_run_then_same_call_gives_the_same_run(tmp_path, reference):
    workdir = tmp_path / "run"
    script = tmp_path / "md_job.py"
    script.write_text(SCRIPT.format(tests=os.path.dirname(__file__), workdir=str(workdir)))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    deadline = time.time() + 120
    step = -1
    while time.time() < deadline and proc.poll() is None:
        ckpt = read_checkpoint(workdir / "checkpoint.npz") if workdir.exists() else None
        step = ckpt[1]["step"] if ckpt else -1
        if step >= 40:
            break
        time.sleep(0.02)
    time.sleep(0.13)  # land somewhere between checkpoints
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_checkpoint(workdir / "checkpoint.npz")[1]["step"]
    assert 40 <= killed_at < 130, "the job finished before it could be killed"
    done = subprocess.run([sys.executable, str(script)], env=env, timeout=300)
    assert done.returncode == 0
    _assert_same_run(workdir, reference)
