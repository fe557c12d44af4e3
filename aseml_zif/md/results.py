"""Reading a run folder of :func:`aseml_zif.md.run` back: the thermodynamics log, the cells of the
saved frames, the drift of the conserved quantity per constant-temperature segment, how far the
run got (:func:`run_status`) and the frames of one of its stages (:func:`run_frames`).

The conserved quantity of a Nosé–Hoover chain (or MTK) run is constant only while the target
temperature is: a ramp changes the thermostat's ``kT`` and masses at every step, and a new
integrator (another ensemble, pressure or damping time) starts a new extended system. Its drift is
therefore reported per *segment*: consecutive constant-temperature stages at one temperature that
share one integrator (:attr:`aseml_zif.md.schedule.Schedule.groups`).
"""
import csv
import json
import warnings
from pathlib import Path

import numpy as np
from ase.io import Trajectory, read, ulm

from ..errors import StructureError
from ..io import read_structure
from .checkpoint import CheckpointError
from .schedule import Schedule

__all__ = ["read_thermo", "read_cells", "thermo_cells", "constant_temperature_segments", "conserved_energy_drifts",
           "run_status", "run_frames"]


def read_thermo(path):
    """Columns of an MD ``thermo.csv`` as a dict of arrays (``stage`` stays a list of str).

    Parameters
    ----------
    path : path-like
        The ``thermo.csv`` of a run folder.

    Returns
    -------
    dict
        Column name (with its unit, e.g. ``pressure_GPa``) -> array; empty for a file without rows.
    """
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return {}
    columns = {key: [row[key] for row in rows] for key in rows[0]}
    return {k: (v if k == "stage" else np.asarray(v, dtype=float)) for k, v in columns.items()}


def thermo_cells(thermo, path="thermo.csv"):
    """Step numbers and cells logged in a run's ``thermo.csv`` (every ``log_every`` steps).

    Parameters
    ----------
    thermo : dict
        :func:`read_thermo` of the file.
    path : path-like
        The file, named in errors.

    Returns
    -------
    steps : numpy.ndarray of int, shape (n_rows,)
    cells : numpy.ndarray, shape (n_rows, 3, 3)
        Lattice vectors as rows, Å.

    Raises
    ------
    CheckpointError
        The log has no cell columns (written by an older aseml_zif).
    """
    columns = [f"cell_{v}{c}_A" for v in "abc" for c in "xyz"]
    missing = [c for c in columns if c not in thermo]
    if "step" not in thermo or missing:
        raise CheckpointError(f"{path}: no cell columns ({', '.join(missing[:3])}...); rerun "
                              "the MD with this version of aseml_zif, or read the cells of the "
                              "trajectory (read_cells)")
    cells = np.stack([thermo[c] for c in columns], axis=1).reshape(-1, 3, 3)
    return thermo["step"].astype(int), cells


def read_cells(path):
    """Step numbers and cells of the frames of a run's ``trajectory.traj``.

    Only the cell and ``info`` of each frame are read, not the atoms, so this is fast on long
    trajectories.

    Parameters
    ----------
    path : path-like
        Trajectory written by :func:`aseml_zif.md.run`.

    Returns
    -------
    steps : numpy.ndarray of int, shape (n_frames,)
        MD step of each frame.
    cells : numpy.ndarray, shape (n_frames, 3, 3)
        Cell of each frame in Å (lattice vectors as rows, as in ASE).

    Raises
    ------
    CheckpointError
        The file is missing, damaged, or its frames carry no step number.
    """
    try:
        with ulm.open(str(path)) as reader:
            frames = [reader[k] for k in range(len(reader))]
            steps = [int(frame.get("info", {})["step"]) for frame in frames]
            cells = [np.asarray(frame.cell, dtype=float) for frame in frames]
    except KeyError:
        raise CheckpointError(f"{path}: frames without a step number (not written by aseml_zif.md.run)")
    except Exception as exc:  # ulm raises assorted errors on missing or truncated files
        raise CheckpointError(f"{path}: unreadable trajectory ({type(exc).__name__}: {exc})") from exc
    return np.asarray(steps, dtype=int), np.asarray(cells, dtype=float).reshape(-1, 3, 3)


def constant_temperature_segments(stages, timestep_fs):
    """Step ranges over which the conserved quantity of a run must stay constant.

    Parameters
    ----------
    stages : sequence of Stage
        The run's protocol.
    timestep_fs : float
        Time step in fs.

    Returns
    -------
    list of dict
        One per segment: ``stages`` (labels), ``temperature_K``, ``first_step`` and ``last_step``
        (logged rows from ``first_step`` to ``last_step`` belong to it). A segment starts at the
        last step of the stage before it when that stage hands over the same integrator already
        at this temperature (the end of a ramp), else one step later.
    """
    schedule = Schedule(stages, timestep_fs)
    segments, previous = [], None  # previous: index of the stage that ends the last segment
    for k, stage in enumerate(schedule.stages):
        low, high = stage.temperature_range
        start, end = schedule.ends[k] - schedule.counts[k], schedule.ends[k]
        same_integrator = k > 0 and schedule.groups[k] == schedule.groups[k - 1]
        if low != high:
            continue
        if previous == k - 1 and same_integrator and segments[-1]["temperature_K"] == low:
            segments[-1]["stages"].append(stage.label)
            segments[-1]["last_step"] = int(end)
        else:
            handed_over = k == 0 or (same_integrator and schedule.stages[k - 1].temperature_range[1] == low)
            segments.append({"stages": [stage.label], "temperature_K": low,
                             "first_step": int(start if handed_over else start + 1),
                             "last_step": int(end)})
        previous = k
    return segments


def conserved_energy_drifts(thermo, stages, timestep_fs):
    """Drift of the conserved quantity over each constant-temperature segment of a run.

    Parameters
    ----------
    thermo : dict
        Columns of the run's ``thermo.csv`` (:func:`read_thermo`).
    stages : sequence of Stage
        The run's protocol.
    timestep_fs : float
        Time step in fs.

    Returns
    -------
    list of dict
        The segments of :func:`constant_temperature_segments`, each with ``duration_ps`` (between
        its first and last logged row) and ``conserved_energy_drift_eV`` (last minus first logged
        value; NaN for integrators without a conserved quantity, e.g. Langevin, or with fewer than
        two logged rows). Ramps are not part of any segment.
    """
    steps = np.asarray(thermo.get("step", []), dtype=float)
    conserved = np.asarray(thermo.get("conserved_energy_eV", []), dtype=float)
    drifts = []
    for segment in constant_temperature_segments(stages, timestep_fs):
        rows = np.flatnonzero((steps >= segment["first_step"]) & (steps <= segment["last_step"]))
        drift = duration = float("nan")
        if len(rows) >= 2:
            drift = float(conserved[rows[-1]] - conserved[rows[0]])
            duration = float((steps[rows[-1]] - steps[rows[0]]) * timestep_fs / 1000.0)
        drifts.append({**segment, "duration_ps": duration, "conserved_energy_drift_eV": drift})
    return drifts


def _last_thermo_row(path):
    """Last row of a ``thermo.csv`` (column name -> str); None without the file or rows."""
    if not Path(path).is_file():
        return None
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    return rows[-1] if rows else None


def run_status(workdir):
    """State of a run folder of :func:`aseml_zif.md.run`.

    Parameters
    ----------
    workdir : path-like
        Folder with ``run.json``, ``thermo.csv`` (and ``watchdog_snapshot.traj`` when stopped).

    Returns
    -------
    dict
        ``step`` (last logged MD step, 0 before the first), ``total_steps`` (of the stages in
        ``run.json``; None without it), ``finished`` (bool), ``stopped`` (the message stored in
        the snapshot by the watchdog, ``"watchdog: ..."``, or by a model/structure error,
        ``"error: ..."``; None when there is no snapshot) and ``last_stage``.
    """
    workdir = Path(workdir)
    row = _last_thermo_row(workdir / "thermo.csv")
    step = int(float(row["step"])) if row else 0
    total = None
    settings_path = workdir / "run.json"
    if settings_path.is_file():
        settings = json.loads(settings_path.read_text())
        dt = float(settings["timestep_fs"])
        total = sum(max(1, int(round(s["duration_ps"] * 1000.0 / dt))) for s in settings["stages"])
    stopped = None
    snapshot = workdir / "watchdog_snapshot.traj"
    if snapshot.is_file():
        info = read(snapshot, index=-1).info
        stopped = next((f"{key}: {info[key]}" for key in ("watchdog", "error") if key in info),
                       "stopped (snapshot without message)")
        if int(info.get("step", -1)) < step:  # a snapshot older than the resumed run
            stopped = None
    return {"step": step, "total_steps": total, "finished": total is not None and step >= total,
            "stopped": stopped, "last_stage": row["stage"] if row else None}


def run_frames(path, stage="last", stride=1):
    """Frames to judge: those of one stage of a run folder, or all frames of a structure file.

    Parameters
    ----------
    path : path-like
        A run folder of :func:`aseml_zif.md.run` (its ``trajectory.traj``, or ``final.extxyz``
        when there is no trajectory), a ``.traj``/extxyz trajectory (all frames) or a structure
        file that :func:`aseml_zif.io.read_structure` reads (CIF, LAMMPS data).
    stage : str
        Stage label whose frames are kept (``"equilibrate"`` for :func:`aseml_zif.md.melt_quench`);
        ``"last"``: the label of the last saved frame; ``"all"``: every frame.
    stride : int
        Keep every ``stride``-th of the selected frames.

    Returns
    -------
    frames : list of ase.Atoms
    source : dict
        ``file``, ``stage`` and ``steps`` (MD step of each kept frame, when known).

    Raises
    ------
    StructureError
        ``path`` does not exist, or is a folder with neither trajectory frames nor
        ``final.extxyz``.
    """
    path = Path(path)
    if path.is_dir():
        traj = path / "trajectory.traj"
        infos = []
        if traj.is_file():
            with ulm.open(str(traj)) as reader:
                infos = [reader[k].get("info", {}) for k in range(len(reader))]
        if infos:
            if int(infos[0].get("step", 0)) > 0:
                warnings.warn(f"{traj}: holds the frames from step {infos[0]['step']} on (the run "
                              "was resumed without its earlier trajectory); a stage that began "
                              "before is only partly there", stacklevel=2)
            labels = [info.get("stage") for info in infos]
            wanted = labels[-1] if stage == "last" else stage
            keep = [k for k, label in enumerate(labels) if stage == "all" or label == wanted]
            keep = keep[::stride]
            with Trajectory(str(traj)) as frames:
                selected = [frames[k] for k in keep]
            return selected, {"file": str(traj), "stage": wanted,
                              "steps": [int(infos[k].get("step", -1)) for k in keep]}
        if not (path / "final.extxyz").is_file():
            raise StructureError(f"{path}: not a run folder with frames (no frames in "
                                 "trajectory.traj and no final.extxyz)")
        path = path / "final.extxyz"
    elif not path.is_file():
        raise StructureError(f"{path}: no such run folder or structure file")
    if path.suffix.lower() in (".traj", ".extxyz", ".xyz"):  # trajectories: every frame
        frames = read(str(path), index=f"::{stride}")
        frames = frames if isinstance(frames, list) else [frames]
        for atoms in frames:
            atoms.wrap()
    else:  # CIF, LAMMPS data, ...: one structure
        frames = [read_structure(path)]
    return frames, {"file": str(path), "stage": None, "steps": None}
