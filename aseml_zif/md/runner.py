"""Restartable MD runs: ``run(atoms, calculator, stages, workdir)``.

Layout of ``workdir``: ``run.json`` (settings, seed and potential), ``trajectory.traj``
(saved frames, ``ase gui`` reads it), ``thermo.csv`` (thermodynamics), ``checkpoint.npz``
(state to resume from), ``timing.jsonl`` (steps/s and the model's time per call of every
invocation, :mod:`aseml_zif.md.timing`), and, when a run is stopped by the watchdog, by
non-finite numbers or by a failing model, ``watchdog_snapshot.traj`` (the state at the failed
step).
"""
import warnings
from pathlib import Path

import numpy as np
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from .._progress import progress_bar
from ..errors import ModelError, StructureError
from ..neighbors import check_finite
from . import integrators
from .checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from .guards import check_step_finite
from .output import FrameWriter, ThermoLog, snapshot
from .potential import describe_potential, require_stress
from .records import checkpoint_arrays, step_info, thermo_row
from .run_settings import run_settings
from .schedule import Schedule
from .stages import StageError
from .timing import StepClock
from .watchdog import Watchdog, WatchdogError

__all__ = ["run", "RUN_FILES"]

RUN_FILES = {
    "settings": "run.json",
    "trajectory": "trajectory.traj",
    "thermo": "thermo.csv",
    "checkpoint": "checkpoint.npz",
    "snapshot": "watchdog_snapshot.traj",
    "timing": "timing.jsonl",
}


def run(
    atoms,
    calculator,
    stages,
    workdir,
    timestep_fs=0.5,
    save_every=100,
    checkpoint_every=1000,
    watchdog=True,
    log_every=None,
    seed=None,
    progress=True,
    allow_other_potential=False,
):
    """Run an MD protocol; calling it again on the same ``workdir`` resumes it.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure (not modified). Without momenta, velocities are drawn from the
        Maxwell–Boltzmann distribution at the first stage's start temperature (zero total
        momentum). On resume only its symbols are checked; the state comes from the checkpoint.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator (e.g. :func:`aseml_zif.load_potential`); recorded in ``run.json``
        (model file, SHA-256, format, type names, r_max, dtype; or the calculator's class).
        Without stress (``implemented_properties``) only NVT stages run; pressure is NaN.
    stages : sequence of Stage
        The protocol, e.g. :func:`aseml_zif.md.melt_quench`.
    workdir : path-like
        Run directory (created if needed).
    timestep_fs : float
        Time step in fs (0.5 fs default; a warning is given above 1500 K with more than 0.25 fs).
    save_every : int
        Save a frame to ``trajectory.traj`` every this many steps (and the last step).
    checkpoint_every : int
        Write ``checkpoint.npz`` every this many steps (and at the last step).
    watchdog : bool or Watchdog
        ``True``: default :class:`Watchdog`; ``False``: no checks; or a configured instance.
    log_every : int, optional
        Row interval of ``thermo.csv`` (default ``save_every``).
    seed : int, optional
        Seed of the random stream (initial velocities, Langevin noise); drawn once and stored
        in ``run.json`` when omitted.
    progress : bool
        Show a tqdm progress bar with T (K), E (eV) and P (GPa).
    allow_other_potential : bool
        Resume a run made with another potential than ``calculator`` (with a warning; the
        earlier potential stays listed in ``run.json``) instead of raising CheckpointError.

    Returns
    -------
    ase.Atoms
        The final state, with ``calculator`` attached.

    Raises
    ------
    WatchdogError
        A watchdog check failed (the last good checkpoint is kept).
    ModelError
        The potential failed or returned non-finite energy, forces or stress (the message names
        the step and the atoms; a snapshot is written and the last good checkpoint kept), or
        it has no stress output and a stage needs it (raised before any step).
    StructureError
        Non-finite positions or cell, in the input or during the run (as for ModelError).
    CheckpointError
        ``workdir`` holds a different run (other settings or potential) or damaged files.
    """
    schedule = Schedule(stages, timestep_fs)
    schedule.warn_if_too_hot()
    intervals = dict(save_every=save_every, checkpoint_every=checkpoint_every,
                     log_every=log_every or save_every)
    for name, value in intervals.items():
        if int(value) != value or value < 1:
            raise StageError(f"{name} must be a positive integer, got {value}")
    if watchdog is True:
        watchdog = Watchdog()
    if len(atoms) == 0:
        raise StructureError("cannot run MD on an empty structure")
    check_finite(atoms)
    potential = describe_potential(calculator)
    require_stress(calculator, schedule.stages, potential)
    runner = _Runner(atoms, calculator, schedule, Path(workdir), intervals, watchdog or None,
                     seed, progress, (potential, allow_other_potential))
    return runner.execute()


class _Runner:
    def __init__(self, atoms, calculator, schedule, workdir, intervals, watchdog, seed, progress,
                 potential):
        self.schedule = schedule
        self.workdir = workdir
        self.every = intervals
        self.watchdog = watchdog
        self.progress = progress
        workdir.mkdir(parents=True, exist_ok=True)
        self.atoms = atoms.copy()
        self.atoms.calc = calculator
        settings = {
            "stages": [s.to_dict() for s in schedule.stages],
            "timestep_fs": schedule.timestep_fs,
            **intervals,
            "symbols": atoms.get_chemical_formula(mode="all"),
        }
        # called here, not in a method: the warning of another potential names run()'s caller
        self.settings = run_settings(self._path("settings"), settings, seed, *potential, workdir)
        self.rng = np.random.default_rng(self.settings["seed"])
        self.integrators = integrators.IntegratorSchedule(self.atoms, schedule, self.rng)
        self.logged_kinds = set()  # watchdog problems already warned about (action="log")
        self.checkpoint_owed = False  # a checkpoint due while the watchdog judged a break
        self.frames = self.thermo = self.bar = None

    def _path(self, key):
        return self.workdir / RUN_FILES[key]

    # ----------------------------------------------------------------- start / resume
    def _start(self):
        checkpoint = read_checkpoint(self._path("checkpoint"))
        if checkpoint is None:
            return self._fresh_start()
        arrays, meta = checkpoint
        if arrays["positions"].shape != self.atoms.positions.shape:
            raise CheckpointError(f"{self._path('checkpoint')}: atom count differs from the input")
        self.atoms.set_cell(arrays["cell"], scale_atoms=False)
        self.atoms.set_positions(arrays["positions"], apply_constraint=False)
        self.atoms.set_momenta(arrays["momenta"], apply_constraint=False)
        self.rng.bit_generator.state = meta["rng_state"]
        if meta["group"] is not None:
            state = {k[len("dyn/"):]: v for k, v in arrays.items() if k.startswith("dyn/")}
            self.integrators.restore(meta["group"], state)
        self.step = meta["step"]
        self.known_broken = meta["known_broken"]
        if meta["n_frames"] and not self._path("trajectory").exists():
            meta = self._without_trajectory(arrays, meta)
        if meta["n_frames"] is not None:
            self.frames = FrameWriter(self._path("trajectory"), keep_frames=meta["n_frames"])
        self.thermo = ThermoLog(self._path("thermo"), keep_bytes=meta["thermo_bytes"])

    def _without_trajectory(self, arrays, meta):
        """A run folder moved without its (large) trajectory: an unfinished run goes on in a new
        trajectory, from the checkpoint on, and the checkpoint is rewritten at once to count
        none of the lost frames; a finished run is left as it is (``n_frames`` None: no file)."""
        path = self._path("trajectory")
        if self.step >= self.schedule.total_steps:
            return {**meta, "n_frames": None}
        warnings.warn(f"{path}: missing; the {meta['n_frames']} frames saved up to step "
                      f"{self.step} are lost, and a new trajectory holds the frames from there on",
                      stacklevel=5)  # the caller of run()
        meta = {**meta, "n_frames": 0}
        write_checkpoint(self._path("checkpoint"), arrays, meta)
        return meta

    def _fresh_start(self):
        atoms = self.atoms
        if not np.any(atoms.get_momenta()):
            thermalize_momenta(atoms, self.schedule.target_temperature(0), rng=self.rng)
            Stationary(atoms)
        self.step = 0
        self.known_broken = 0
        self.frames = FrameWriter(self._path("trajectory"))
        self.thermo = ThermoLog(self._path("thermo"))
        self.integrators.for_step(1)
        self._check_finite()
        if self.watchdog:
            self._watch()
        self._record()
        self._checkpoint()

    # ----------------------------------------------------------------- stepping
    def execute(self):
        total = self.schedule.total_steps
        clock = None
        try:
            self._start()
            with progress_bar(total=total, initial=self.step, unit="step", disable=not self.progress,
                              desc=f"MD {self.workdir.name}", dynamic_ncols=True) as self.bar:
                clock = StepClock(self.atoms.calc, self.step)
                while self.step < total:
                    self._advance()
                    self.bar.update(1)
        finally:
            for output in (self.frames, self.thermo):
                if output is not None:
                    output.close()
            if clock is not None:  # also when stopped: the steps done so far
                clock.append(self._path("timing"), self.step)
        return self.atoms

    def _advance(self):
        """One MD step and its outputs. A model failure (ModelError) or non-finite numbers
        (StructureError, ModelError) stop the run as the watchdog does: with a snapshot of the
        failed step, the last good checkpoint kept, and the step and atoms named."""
        try:
            dyn = self.integrators.for_step(self.step + 1)
            self.step += 1
            dyn.step()
            self._check_finite()
            self._after_step()
        except (ModelError, StructureError) as exc:
            kind = ModelError if isinstance(exc, ModelError) else StructureError
            message = f"at {self._where()}: {exc}"
            raise kind(f"{message}. {self._leave_snapshot('error', message, evaluate=False)}") from exc

    def _check_finite(self):
        """Raise on non-finite positions or cell (StructureError) or model outputs (ModelError)."""
        check_step_finite(self.atoms)

    def _due(self, every):
        return self.step % every == 0 or self.step == self.schedule.total_steps

    def _after_step(self):
        checkpoint_due = self._due(self.every["checkpoint_every"])
        watch_due = self.watchdog and self._due(self.watchdog.every)
        checkpoint_due = checkpoint_due or (self.checkpoint_owed and watch_due)
        if watch_due or (self.watchdog and checkpoint_due):
            self._watch()
        self._record()
        if checkpoint_due:
            # a checkpoint is good only once the watchdog has judged a pending break
            self.checkpoint_owed = (self.step < self.schedule.total_steps and bool(self.watchdog)
                                    and self.watchdog.pending_since_fs is not None)
            if not self.checkpoint_owed:
                self._checkpoint()

    def _watch(self):
        target = self.schedule.target_temperature(self.step)
        # the start is judged alone; later breaks must last (Watchdog.linker_confirm_fs)
        time_fs = self.step * self.schedule.timestep_fs if self.step > 0 else None
        problems, broken = self.watchdog.check(self.atoms, target, self.known_broken, time_fs)
        if self.watchdog.pending_since_fs is not None and self.step == self.schedule.total_steps:
            warnings.warn(f"run ended at {self._where()} with a linker broken since "
                          f"t = {self.watchdog.pending_since_fs:.1f} fs, too short to confirm "
                          f"(linker_confirm_fs = {self.watchdog.linker_confirm_fs:g} fs); check "
                          "the final structure's linkers", stacklevel=6)
        if not problems:
            self.logged_kinds = set()
            return
        message = f"watchdog at {self._where()}: " + " | ".join(problems)
        if self.watchdog.action == "log":
            # warn once per kind of problem while it lasts, and for every newly broken linker
            kinds = {p.split(":")[0] for p in problems}
            if kinds - self.logged_kinds or broken > self.known_broken:
                warnings.warn(message, stacklevel=6)  # the caller of run()
            self.logged_kinds, self.known_broken = kinds, broken
            return
        raise WatchdogError(
            f"{message}. {self._leave_snapshot('watchdog', message)}",
            self.step,
            self.atoms.get_temperature(),
            problems,
        )

    def _where(self):
        """``"step 12 (t = 6.0 fs, stage 'heat', T = 310 K, target 305 K)"``."""
        stage = self.schedule.stages[self.schedule.stage_index(self.step)].label
        return (f"step {self.step} (t = {self.step * self.schedule.timestep_fs:.1f} fs, "
                f"stage {stage!r}, T = {self.atoms.get_temperature():.0f} K, "
                f"target {self.schedule.target_temperature(self.step):.0f} K)")

    def _leave_snapshot(self, key, message, evaluate=True):
        """Write the current state to the snapshot file (``message`` in ``info[key]``); return
        the sentence that says where it is and that the last good checkpoint is kept."""
        writer = FrameWriter(self._path("snapshot"))
        writer.write(snapshot(self.atoms, {**self._info(), key: message}, evaluate=evaluate))
        writer.close()
        return (f"Snapshot: {self._path('snapshot')}; last good checkpoint kept in "
                f"{self._path('checkpoint')}")

    # ----------------------------------------------------------------- outputs
    def _info(self):
        return step_info(self.schedule, self.step, self.atoms)

    def _record(self):
        if self._due(self.every["save_every"]):
            self.frames.write(snapshot(self.atoms, self._info()))
        if self._due(self.every["log_every"]):
            self._log()

    def _log(self):
        row = thermo_row(self.atoms, self._info(), self.integrators.dyn)
        self.thermo.write(row)
        if self.bar is not None:
            self.bar.set_postfix(T=f"{row['temperature_K']:.0f}K",
                                 E=f"{row['potential_energy_eV']:.3f}eV",
                                 P=f"{row['pressure_GPa']:.3f}GPa", refresh=False)

    def _checkpoint(self):
        self.frames.sync()
        running = self.step < self.schedule.total_steps
        meta = {
            "step": self.step,
            "n_frames": len(self.frames),
            "thermo_bytes": self.thermo.sync(),
            "group": self.integrators.group if running else None,
            "rng_state": self.rng.bit_generator.state,
            "known_broken": self.known_broken,
        }
        arrays = checkpoint_arrays(self.atoms, self.integrators.dyn if running else None)
        write_checkpoint(self._path("checkpoint"), arrays, meta)
