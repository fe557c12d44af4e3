"""MSD: unwrapping across periodic boundaries (triclinic, NPT), time-origin averaging."""
import json

import matplotlib
import numpy as np
import pytest
from ase import Atoms

from aseml_zif.analysis import MSD
from aseml_zif.errors import AsemlZifError, SettingsError, StructureError

matplotlib.use("Agg")

CELL = np.array([[9.0, 0.0, 0.0], [4.0, 8.0, 0.0], [-3.0, 2.0, 10.0]])


def wrapped_frames(true_positions, cells, symbols):
    frames = []
    for pos, cell in zip(true_positions, cells):
        atoms = Atoms(symbols, positions=pos, cell=cell, pbc=True)
        atoms.wrap()
        frames.append(atoms)
    return frames


def test_ballistic_motion_through_a_triclinic_cell():
    """r(t) = r0 + v t crosses the boundaries many times; MSD = |v|^2 t^2 exactly."""
    rng = np.random.default_rng(0)
    n_frames, dt = 60, 2.0
    v = {"Zn": np.array([0.9, -0.7, 1.1]), "H": np.array([-1.6, 0.5, 0.8])}  # Å per frame
    symbols = ["Zn"] * 3 + ["H"] * 5
    velocities = np.array([v[s] for s in symbols])
    r0 = rng.random((8, 3)) @ CELL
    traj = [r0 + k * velocities for k in range(n_frames)]
    msd = MSD(timestep_fs=dt, max_lag=40).compute(wrapped_frames(traj, [CELL] * n_frames, symbols))
    np.testing.assert_allclose(msd.unwrapped_positions, np.array(traj), atol=1e-9)
    lags = msd.times / dt
    assert msd.times[-1] == 40 * dt
    for element in ("Zn", "H"):
        np.testing.assert_allclose(msd.msd[element], (v[element] @ v[element]) * lags**2, atol=1e-8)


def test_fft_average_equals_the_direct_sum_over_origins():
    rng = np.random.default_rng(1)
    steps = rng.normal(scale=0.3, size=(50, 6, 3))
    traj = np.cumsum(steps, axis=0)
    cell = np.eye(3) * 30.0
    msd = MSD(timestep_fs=1.0, max_lag=49).compute(wrapped_frames(traj, [cell] * 50, "Ar6"))
    direct = [np.mean([np.sum((traj[t + m] - traj[t]) ** 2, axis=1).mean() for t in range(50 - m)])
              for m in range(50)]
    np.testing.assert_allclose(msd.msd["Ar"], direct, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(msd.msd["all"], direct, rtol=1e-10, atol=1e-12)


def test_fluctuating_npt_cell_gives_no_spurious_jumps():
    """Random walk across boundaries of a cell that changes every frame (barostat)."""
    rng = np.random.default_rng(2)
    n_frames = 200
    traj = 0.5 * np.ones(3) @ CELL + np.cumsum(rng.normal(scale=0.4, size=(n_frames, 20, 3)), axis=0)
    cells = [CELL * (1 + 0.01 * np.sin(0.3 * k)) + 0.02 * rng.normal(size=(3, 3)) for k in range(n_frames)]
    frames = wrapped_frames(traj, cells, "Ne20")
    msd = MSD(timestep_fs=1.0).compute(frames[:120]).compute(frames[120:])  # continued trajectory
    error = np.abs(msd.unwrapped_positions - traj).max()
    assert error < 0.5  # wrapping errors would be a cell vector (>= 8 Å)
    direct = np.mean(np.sum((traj[50:] - traj[:-50]) ** 2, axis=2))
    assert msd.msd["Ne"][50] == pytest.approx(direct, rel=0.05)


def test_time_axis_stride_and_errors():
    cell = np.eye(3) * 10
    frames = [Atoms("Ar", positions=[[0.1 * k, 0, 0]], cell=cell, pbc=True) for k in range(11)]
    msd = MSD(timestep_fs=0.5, stride=2).compute(frames)
    assert msd.n_frames == 6
    np.testing.assert_allclose(msd.times, [0.0, 1.0, 2.0, 3.0])  # default max_lag = 3
    np.testing.assert_allclose(msd.msd["Ar"], (0.2 * np.arange(4)) ** 2, atol=1e-12)
    data = json.loads(json.dumps(msd.to_dict()))
    assert data["time_fs"][-1] == 3.0
    assert msd.plot().get_xlabel() == "time (ps)"
    with pytest.raises(StructureError, match="frame 1"):
        MSD(1.0).compute([frames[0], Atoms("Ne", cell=cell, pbc=True)])
    with pytest.raises(AsemlZifError):
        MSD(timestep_fs=0.0)
    with pytest.raises(AsemlZifError, match="compute"):
        MSD(1.0).msd


def test_old_timestep_name_warns_and_still_works():
    frames = [Atoms("Ar", positions=[[0.1 * k, 0, 0]], cell=np.eye(3) * 10, pbc=True) for k in range(5)]
    with pytest.warns(DeprecationWarning, match=r"MSD\(timestep=\) is deprecated, use timestep_fs="):
        old = MSD(timestep=0.5).compute(frames)
    new = MSD(timestep_fs=0.5).compute(frames)
    np.testing.assert_allclose(old.times, new.times)
    assert new.times[1] == 0.5 and new.timestep_fs == 0.5
    with pytest.raises(SettingsError, match="timestep_fs= only"), pytest.warns(DeprecationWarning):
        MSD(timestep_fs=0.5, timestep=1.0)
    with pytest.raises(SettingsError, match="timestep_fs"):
        MSD()
