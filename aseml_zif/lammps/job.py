"""LAMMPS job folders mirroring the Python MD protocols (for multi-GPU Allegro runs).

ASE's ``LAMMPSlib`` runs on one MPI rank only, so large Allegro supercells are run by LAMMPS
itself: :func:`export_lammps_job` writes the structure, an input script that follows the
:class:`~aseml_zif.md.Stage` list (the settings of Castel et al.'s input: ``neighbor 1.0 bin``,
``neigh_modify delay 0 every 1 check no``, Nosé–Hoover ``fix nvt``/``npt`` with 0.1 ps
thermostat damping) and a launch script; :func:`read_lammps_dump` reads the frames back.
"""
import json
import shlex
import shutil
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers
from ase.io.lammpsdata import write_lammps_data

from ..errors import StructureError
from ..io import check_frames
from ..md.stages import StageError
from .calculator import kokkos_args
from .pair import model_pair

__all__ = ["export_lammps_job", "read_lammps_dump", "stage_commands", "JOB_FILES"]

JOB_FILES = {
    "data": "structure.data",
    "input": "in.lammps",
    "launch": "run.sh",
    "dump": "dump.lammpstrj",
    "settings": "job.json",
}

#: bar per GPa (LAMMPS metal units give pressures in bar)
BAR_PER_GPA = 1.0e4
#: paper's minimisation before MD: etol ftol maxiter maxeval
PAPER_MINIMIZE = (5e-7, 0.0, 20000, 100000)


def _fmt(x):
    return f"{x:.10g}"


def stage_commands(stage, index, nsteps):
    """LAMMPS commands of one stage: a Nosé–Hoover fix (ramped), ``run``, ``unfix``.

    ``nvt`` → ``fix nvt temp T0 T1 tdamp``; ``npt`` → ``fix npt ... iso P P pdamp``;
    ``npt_flex`` → ``fix npt ... tri P P pdamp`` (pressure in bar, damping in ps). The
    Langevin flexible cell has no counterpart here.
    """
    t0, t1 = stage.temperature_range
    fix = f"stage{index}"
    thermostat = f"temp {_fmt(t0)} {_fmt(t1)} {_fmt(stage.tdamp_fs / 1000)}"
    if stage.ensemble == "nvt":
        line = f"fix {fix} all nvt {thermostat}"
    elif stage.ensemble in ("npt", "npt_flex"):
        p = _fmt(stage.pressure_GPa * BAR_PER_GPA)
        coupling = "iso" if stage.ensemble == "npt" else "tri"
        line = f"fix {fix} all npt {thermostat} {coupling} {p} {p} {_fmt(stage.pdamp_fs / 1000)}"
    else:
        raise StageError(
            f"stage {stage.label!r}: ensemble {stage.ensemble!r} has no LAMMPS counterpart in "
            "export_lammps_job; use 'npt_flex' (fix npt tri) for a flexible cell"
        )
    return [
        f"# stage {index}: {stage.label} ({stage.ensemble}, {stage.duration_ps:g} ps, "
        f"{_fmt(t0)} -> {_fmt(t1)} K)",
        f'print "aseml_zif stage {index} {stage.label}"',
        line,
        f"run {nsteps}",
        f"unfix {fix}",
    ]


def _input_script(pair, stages, counts, timestep_fs, save_every, checkpoint_every, thermo_every,
                  replicate, minimize, velocities_seed):
    t0 = stages[0].temperature_range[0]
    lines = [
        "# aseml_zif LAMMPS job (Castel et al., Digital Discovery 3, 355 (2024) protocol)",
        "units metal",
        "dimension 3",
        "boundary p p p",
        f"newton {pair.newton}",
        "atom_style atomic",
        f"read_data {JOB_FILES['data']}",
        "change_box all triclinic",
    ]
    if replicate is not None:
        lines.append("replicate " + " ".join(str(int(r)) for r in replicate))
    lines += pair.commands()
    lines += ["neighbor 1.0 bin", "neigh_modify delay 0 every 1 check no"]
    if minimize:
        lines += ["min_style cg", "minimize " + " ".join(_fmt(x) for x in PAPER_MINIMIZE)]
    elements = " ".join(pair.elements)
    lines += [
        f"timestep {_fmt(timestep_fs / 1000)}",
        f"thermo {thermo_every}",
        "thermo_style custom step time temp pe ke etotal press vol density pxx pyy pzz pxy pxz "
        "pyz cella cellb cellc cellalpha cellbeta cellgamma",
        "thermo_modify format float %15.14g",
        f"dump traj all custom {save_every} {JOB_FILES['dump']} id type element x y z vx vy vz "
        "fx fy fz",
        f"dump_modify traj sort id element {elements}",
        f"restart {checkpoint_every} restart.a restart.b",
        "reset_timestep 0",
    ]
    if velocities_seed is not None:
        lines.append(
            f"velocity all create {_fmt(t0)} {velocities_seed} dist gaussian mom yes rot yes"
        )
    for k, (stage, n) in enumerate(zip(stages, counts), start=1):
        lines += [""] + stage_commands(stage, k, n)
    lines += ["", "write_data final.data", "write_restart final.restart", ""]
    return "\n".join(lines)


def _launch_script(pair, gpus, lmp):
    ranks = max(gpus, 1) if pair.style_name == "allegro" else 1
    args = [lmp] + (kokkos_args(gpus) if pair.style_name == "allegro" else [])
    args += ["-in", JOB_FILES["input"], "-log", "log.lammps"]
    note = {
        "allegro": "# pair_allegro: one MPI rank per GPU, KOKKOS",
        "nequip": "# pair_nequip: one MPI rank (libtorch uses the GPU when built with CUDA)",
    }.get(pair.style_name, f"# pair_style {pair.style_name}: one MPI rank")
    return "\n".join([
        "#!/bin/sh",
        "# Needs LAMMPS built with mir-group's pair_nequip_allegro (and KOKKOS for GPUs).",
        note,
        'cd "$(dirname "$0")"',
        f"exec mpirun -np {ranks} {' '.join(shlex.quote(a) for a in args)}",
        "",
    ])


def export_lammps_job(atoms, model_path, stages, directory, timestep_fs=0.5, save_every=100,
                      checkpoint_every=10000, thermo_every=None, gpus=0, elements=None,
                      replicate=None, minimize=False, seed=12345, pair=None, copy_model=True,
                      lmp="lmp"):
    """Write a LAMMPS job folder that runs ``stages`` on ``atoms`` with a deployed model.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure; its momenta are written when set, otherwise LAMMPS draws
        velocities at the first stage's temperature (``velocity ... create``, seed ``seed``).
    model_path : path-like
        Deployed NequIP/Allegro model: ``pair_style`` and the ``pair_coeff`` element list
        come from its metadata. Copied into the folder unless ``copy_model=False``.
    stages : sequence of Stage
        Protocol (``nvt``, ``npt``, ``npt_flex`` stages; e.g. :func:`aseml_zif.md.melt_quench`).
    directory : path-like
        Job folder (created).
    timestep_fs : float
        Time step in fs.
    save_every, checkpoint_every, thermo_every : int
        Dump, restart-file and thermo intervals in steps (``thermo_every`` defaults to
        ``save_every``).
    gpus : int
        GPUs (= MPI ranks) for Allegro with KOKKOS in ``run.sh``.
    elements : sequence of str, optional
        Element of each LAMMPS type (default: the model's ``type_names``).
    replicate : (int, int, int), optional
        LAMMPS ``replicate`` of the cell (as the paper's 2×2×2 supercell input).
    minimize : bool
        Minimise first with the paper's settings (``min_style cg``, ``minimize 5e-7 0 20000 100000``).
    pair : PairSpec, optional
        Use this interaction instead of the model's (``model_path`` is then ignored).
    lmp : str
        LAMMPS executable named in ``run.sh``.

    Returns
    -------
    dict
        Paths of the written files (keys of :data:`JOB_FILES`).
    """
    from ..md.schedule import Schedule

    schedule = Schedule(stages, timestep_fs)
    schedule.warn_if_too_hot()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if pair is None:
        model_path = Path(model_path)
        pair = model_pair(model_path, elements,
                          model_name=model_path.name if copy_model else None)
        if copy_model:
            target = directory / model_path.name
            if not target.exists() or target.stat().st_size != model_path.stat().st_size:
                shutil.copy2(model_path, target)
    pair.check_species(atoms)
    if not np.all(atoms.pbc):
        raise StructureError("LAMMPS jobs need a structure periodic in all three directions")
    has_velocities = bool(np.any(atoms.get_momenta()))
    paths = {key: directory / name for key, name in JOB_FILES.items()}
    with open(paths["data"], "w") as fh:
        write_lammps_data(fh, atoms, specorder=list(pair.elements), masses=True,
                          velocities=has_velocities, units="metal", atom_style="atomic",
                          force_skew=True)
    paths["input"].write_text(_input_script(
        pair, schedule.stages, schedule.counts, timestep_fs, save_every, checkpoint_every,
        thermo_every or save_every, replicate, minimize, None if has_velocities else seed))
    paths["launch"].write_text(_launch_script(pair, gpus, lmp))
    paths["launch"].chmod(0o755)
    paths["settings"].write_text(json.dumps({
        "stages": [s.to_dict() for s in schedule.stages],
        "steps": schedule.counts,
        "timestep_fs": timestep_fs,
        "save_every": save_every,
        "elements": list(pair.elements),
        "pair": pair.commands(),
    }, indent=1))
    return paths


def read_lammps_dump(path, elements=None, timestep_fs=None, stages=None):
    """Frames of a LAMMPS ``dump custom`` file as ASE ``Atoms``.

    Parameters
    ----------
    path : path-like
        The dump (``dump.lammpstrj`` of a job folder; its ``job.json`` is used when present).
    elements : sequence of str, optional
        Element of each LAMMPS type, in type order; needed when the dump has no ``element`` or
        ``mass`` column (as the paper's LAMMPS input writes it), unless ``job.json`` names them.
    timestep_fs : float, optional
        Time step, to set ``atoms.info["time_fs"]``.
    stages : sequence of Stage, optional
        To label each frame's stage; both default to those in ``job.json``.

    Returns
    -------
    list of ase.Atoms
        With positions, momenta, forces (``SinglePointCalculator``) and ``info["step"]`` in
        LAMMPS's (rotated, lower-triangular) cell.

    Raises
    ------
    StructureError
        Missing, truncated or malformed dump (or ``job.json``), non-finite numbers, or elements
        that would have to be guessed; the message names the file.
    """
    from ase.io import read

    from ..md.schedule import Schedule

    path = Path(path)
    if not path.is_file():
        raise StructureError(f"{path}: no such LAMMPS dump")
    settings_file = path.parent / JOB_FILES["settings"]
    _check_dump_elements(path, elements, settings_file.exists())
    species_from = ""
    if settings_file.exists():
        species_from = "" if elements else f"; elements from {settings_file}"
        elements, timestep_fs, stages = _job_settings(settings_file, elements, timestep_fs, stages)
    try:
        frames = read(str(path), format="lammps-dump-text", index=":",
                      specorder=list(elements) if elements else None)
    except Exception as exc:
        raise StructureError(f"{path}: cannot read LAMMPS dump ({exc}{species_from})") from exc
    if not check_frames(frames, path):
        raise StructureError(f"{path}: no frames")
    steps = _dump_steps(path)
    if len(steps) != len(frames):
        raise StructureError(f"{path}: {len(steps)} TIMESTEP items for {len(frames)} frames")
    schedule = Schedule(stages, timestep_fs) if stages and timestep_fs else None
    for frame, step in zip(frames, steps):
        frame.info["step"] = step
        if timestep_fs:
            frame.info["time_fs"] = step * timestep_fs
        if schedule is not None and 0 <= step <= schedule.total_steps:
            frame.info["stage"] = schedule.stages[schedule.stage_index(step)].label
    return frames


def _dump_first_frame(path):
    """Column names of the first frame of a LAMMPS dump, and its largest atom type (or None)."""
    try:
        with open(path, errors="replace") as fh:
            n_atoms = None
            for line in fh:
                if line.startswith("ITEM: NUMBER OF ATOMS"):
                    n_atoms = int(next(fh))
                elif line.startswith("ITEM: ATOMS"):
                    columns = line.split()[2:]
                    break
            else:
                raise ValueError("no 'ITEM: ATOMS' line")
            if n_atoms is None:
                raise ValueError("no 'ITEM: NUMBER OF ATOMS' line before 'ITEM: ATOMS'")
            if "type" not in columns:
                return columns, None
            column = columns.index("type")
            types = [int(next(fh).split()[column]) for _ in range(n_atoms)]
        return columns, max(types)
    except StopIteration:
        raise StructureError(f"{path}: the LAMMPS dump ends inside its first frame") from None
    except (ValueError, IndexError) as exc:
        message = f"{path}: cannot read the first frame of the LAMMPS dump ({exc})"
        raise StructureError(message) from exc


def _check_dump_elements(path, elements, has_settings):
    """Refuse a dump whose elements would be guessed: no ``element``/``mass`` column and no
    ``elements`` (ASE would read types 1–4 as H, He, Li, Be), ``elements`` for a dump that names
    its own, or fewer ``elements`` than atom types."""
    columns, max_type = _dump_first_frame(path)
    named_by = next((c for c in ("element", "mass") if c in columns), None)
    if named_by and elements is not None:
        raise StructureError(f"{path}: the dump has a '{named_by}' column that gives the elements; "
                             "elements (CLI: --species) are only for dumps without one")
    if elements is None and not named_by and not has_settings:
        raise StructureError(f"{path}: LAMMPS dump without an 'element' column; pass the element "
                             "of each atom type in type order, e.g. elements=['C', 'H', 'N', 'Zn'] "
                             "(CLI: --species C H N Zn)")
    if elements is not None and max_type is not None and max_type > len(elements):
        raise StructureError(f"{path}: atom type {max_type} in the first frame but only "
                             f"{len(elements)} elements given (one per type, in type order)")


def _job_settings(settings_file, elements, timestep_fs, stages):
    """Fill the arguments not given from ``job.json``; refuse an unusable file, naming it."""
    from ..md.schedule import Schedule
    from ..md.stages import Stage

    try:
        settings = json.loads(settings_file.read_text())
        if not elements:
            elements = [str(e) for e in settings["elements"]]
            unknown = [e for e in elements if e not in atomic_numbers]
            if unknown:
                raise ValueError(f"unknown elements {unknown}")
        if not timestep_fs:
            timestep_fs = float(settings["timestep_fs"])
            if not 0 < timestep_fs < np.inf:
                raise ValueError(f"timestep_fs = {timestep_fs}")
        if not stages:
            stages = [Stage(**d) for d in settings["stages"]]
            Schedule(stages, timestep_fs)
    except Exception as exc:  # noqa: BLE001 - any defect: bytes, JSON, keys, types, values
        raise StructureError(
            f"{settings_file}: unusable job settings ({type(exc).__name__}: {exc})") from exc
    return elements, timestep_fs, stages


def _dump_steps(path):
    steps, take = [], False
    with open(path, "rb") as fh:
        for number, line in enumerate(fh, start=1):
            if take:
                try:
                    steps.append(int(line))
                except ValueError:
                    raise StructureError(f"{path}: line {number}: step {line!r} is not an integer") from None
                take = False
            elif line.startswith(b"ITEM: TIMESTEP"):
                take = True
    return steps
