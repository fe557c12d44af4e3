"""MD for the two finite-temperature methods: NσT cell sampling and NVT volume points.

Both run through :func:`aseml_zif.md.run`, the package's one MD engine: with a ``workdir`` the
run is checkpointed, watched by a :class:`~aseml_zif.md.Watchdog`, and the same call repeated
after a crash or a kill resumes it and gives the same result; without one it runs in a temporary
folder. The cells and pressures the estimators use are read back from the run's own
``thermo.csv`` (which logs the cell; frames are saved only now and then), and the drift of the conserved quantity is reported per
constant-temperature segment (:func:`aseml_zif.md.results.conserved_energy_drifts`).

Flexible-cell NσT integrators offered for the strain-fluctuation method, checked against the
0 K elastic constants of EMT Cu (``tests/test_mechanics_emt.py``, 4-atom cell, 50 K, 5 fs,
30 000 steps, pdamp 250 fs):

* ``"langevin"`` (default, stage ``"npt_langevin"``): :class:`ase.md.langevinbaoab.LangevinBAOAB`
  with ``hydrostatic=False`` (Langevin–Hoover cell dynamics, Quigley & Probert, J. Chem. Phys.
  120, 11432 (2004)). Measured C11, C12, C44 / static = 0.95, 0.92, 1.04, each ± 0.05–0.07
  (block errors): verified.
* ``"mtk"`` (stage ``"npt_flex"``): :class:`ase.md.nose_hoover_chain.MTKNPT` (all nine cell
  components). Measured C11, C12 / static = 0.32 ± 0.05 (strain variance ~3x too large; 1.3–1.6x
  in standard deviation on a 108-atom cell, FIELD-NOTES). Its barostat chain targets 9 kT for a
  cell momentum that stays symmetric (6 degrees of freedom), but retargeting it to 6 kT does not
  fix the normal strains (0.37 ± 0.06) and freezes the shear ones. It is refused for this
  purpose unless ``allow_unverified=True``; use it for equilibration only.
"""
import json
import os
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..md import RUN_FILES, CheckpointError, Stage, run
from ..md.results import conserved_energy_drifts, read_thermo, thermo_cells
from .averages import block_average
from .eos import fit_birch_murnaghan, well_behaved_region
from .errors import MechanicsError
from .fluctuations import (
    bulk_modulus_from_volume_fluctuations,
    running_stiffness,
    stiffness_from_cell_fluctuations,
)

__all__ = ["sample_cells", "CellSamples", "volume_scan", "VolumeScan", "NSIGMAT_INTEGRATORS",
           "SCAN_FILE"]

#: flexible-cell integrators: name -> verified for strain fluctuations (see module docstring)
NSIGMAT_INTEGRATORS = {"langevin": True, "mtk": False}
#: integrator name -> ensemble of its :class:`aseml_zif.md.Stage`
_ENSEMBLES = {"langevin": "npt_langevin", "mtk": "npt_flex"}
#: file of a volume-scan ``workdir`` recording its volumetric strains
SCAN_FILE = "volume_scan.json"


def _check_input(atoms, temperature_K):
    if atoms.calc is None:
        raise MechanicsError("atoms has no calculator: attach one (e.g. load_potential(...)) first")
    if not all(atoms.pbc) or atoms.cell.rank != 3:
        raise MechanicsError("cell sampling needs a fully periodic 3-D cell")
    if not temperature_K > 0:
        raise MechanicsError(f"temperature must be positive, got {temperature_K} K")


def _stages(n_equilibration, n_steps, timestep_fs, **stage):
    """An ``"equilibration"`` stage (when ``n_equilibration`` > 0) and a ``"production"`` stage;
    being alike but for their length, they share one integrator in :func:`aseml_zif.md.run`."""
    for name, n in (("n_steps", n_steps), ("n_equilibration", n_equilibration)):
        if int(n) != n or n < (1 if name == "n_steps" else 0):
            raise MechanicsError(f"{name} must be a whole number of MD steps (n_steps >= 1), got {n}")
    plan = (("equilibration", n_equilibration), ("production", n_steps))
    return [Stage(duration_ps=n * timestep_fs / 1000.0, name=name, **stage) for name, n in plan if n]


@contextmanager
def _run_folder(workdir):
    """``workdir`` (created if needed), or a temporary folder removed afterwards."""
    if workdir is not None:
        Path(workdir).mkdir(parents=True, exist_ok=True)
        yield Path(workdir)
        return
    with tempfile.TemporaryDirectory(prefix="aseml_zif_mechanics_") as tmp:
        yield Path(tmp)


def _production(steps, n_equilibration, interval):
    """Mask of the logged steps that are production samples, ``interval`` steps apart."""
    return (steps >= n_equilibration) & (steps % interval == 0)


def _segment_drift(folder, stages, timestep_fs):
    """Conserved-quantity drift (eV) of a sampling run: its one constant-temperature segment."""
    thermo = read_thermo(folder / RUN_FILES["thermo"])
    (segment,) = conserved_energy_drifts(thermo, stages, timestep_fs)
    return segment["conserved_energy_drift_eV"], thermo


@dataclass
class CellSamples:
    """Cells (ASE rows, Å) recorded along a flexible-cell NσT run at ``temperature_K``.

    ``conserved_drift_eV`` is the drift of the integrator's conserved quantity over the run (NaN
    for Langevin, which has none); ``workdir`` the run folder (None for a temporary one).
    """

    cells: np.ndarray
    temperature_K: float
    time_per_frame_fs: float
    integrator: str
    atoms: object = field(repr=False, default=None)
    conserved_drift_eV: float = float("nan")
    workdir: Path = None

    @property
    def volumes_A3(self):
        """Cell volumes in Å³."""
        return np.abs(np.linalg.det(self.cells))

    def stiffness_GPa(self):
        """Voigt stiffness (GPa) from :func:`stiffness_from_cell_fluctuations`."""
        return stiffness_from_cell_fluctuations(self.cells, self.temperature_K)

    def bulk_modulus_GPa(self):
        """Bulk modulus (GPa) from :func:`bulk_modulus_from_volume_fluctuations`."""
        return bulk_modulus_from_volume_fluctuations(self.volumes_A3, self.temperature_K)

    def running_stiffness(self, n_points=20):
        """Stiffness (GPa) from growing prefixes of the run (:func:`running_stiffness`)."""
        return running_stiffness(self.cells, self.temperature_K, n_points)


def sample_cells(atoms, temperature_K, n_steps, timestep_fs=1.0, pressure_GPa=0.0, interval=10,
                 n_equilibration=0, integrator="langevin", tdamp_fs=None, pdamp_fs=None,
                 allow_unverified=False, seed=None, progress=True, workdir=None,
                 checkpoint_every=1000, watchdog=True, allow_other_potential=False, save_every=None):
    """Run flexible-cell NσT MD and record the cell every ``interval`` steps.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting structure with calculator (not modified; momenta drawn at ``temperature_K``
        if it has none).
    temperature_K, pressure_GPa : float
        Target temperature (K) and hydrostatic pressure (GPa).
    n_steps, n_equilibration : int
        Production and (discarded) equilibration steps.
    timestep_fs : float
        Time step (fs).
    interval : int
        Steps between recorded cells (rows of ``thermo.csv``, which holds the cell).
    save_every : int, optional
        Steps between frames saved to ``trajectory.traj`` (default ``100 * interval``): the
        cells come from ``thermo.csv``, so a nanosecond run need not store 10⁵ frames.
    integrator : {"langevin", "mtk"}
        See the module docstring; only ``"langevin"`` is verified for fluctuations.
    tdamp_fs, pdamp_fs : float, optional
        Thermostat and barostat time constants (fs); default 100 and 1000 time steps.
    allow_unverified : bool
        Permit an integrator whose fluctuations failed the EMT Cu check.
    seed : int, optional
        Seed of the velocities and Langevin noise (drawn and stored in ``run.json`` if omitted).
    progress : bool
        Show a progress bar.
    workdir : path-like, optional
        Run folder of :func:`aseml_zif.md.run`: checkpointed every ``checkpoint_every`` steps;
        calling again with the same arguments resumes (or, when finished, only reads) the run.
        Default: a temporary folder, deleted at the end.
    checkpoint_every : int
        Steps between checkpoints.
    watchdog : bool or Watchdog
        Live checks of the run (:func:`aseml_zif.md.run`).
    allow_other_potential : bool
        Resume a ``workdir`` run made with another potential (:func:`aseml_zif.md.run`).

    Returns
    -------
    CellSamples
        Cells of the production steps read from the run's ``thermo.csv``, the final state (with
        the calculator), and the conserved-quantity drift.

    Raises
    ------
    MechanicsError
        Bad input or an unverified integrator.
    CheckpointError, WatchdogError
        From :func:`aseml_zif.md.run` (``workdir`` holds another run; the run went wrong).
    """
    if integrator not in NSIGMAT_INTEGRATORS:
        raise MechanicsError(
            f"unknown NσT integrator {integrator!r}; choose from {sorted(NSIGMAT_INTEGRATORS)}"
        )
    if not NSIGMAT_INTEGRATORS[integrator] and not allow_unverified:
        raise MechanicsError(
            f"integrator {integrator!r} does not sample the correct cell fluctuations (checked on "
            "EMT Cu); use 'langevin', or pass allow_unverified=True for equilibration runs"
        )
    _check_input(atoms, temperature_K)
    stages = _stages(n_equilibration, n_steps, timestep_fs, ensemble=_ENSEMBLES[integrator],
                     temperature_K=temperature_K, pressure_GPa=pressure_GPa,
                     tdamp_fs=tdamp_fs or 100.0 * timestep_fs, pdamp_fs=pdamp_fs or 1000.0 * timestep_fs)
    with _run_folder(workdir) as folder, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*heuristic P_mass.*")
        final = run(atoms, atoms.calc, stages, folder, timestep_fs=timestep_fs,
                    save_every=save_every or 100 * interval, log_every=interval,
                    checkpoint_every=checkpoint_every, watchdog=watchdog, seed=seed,
                    progress=progress, allow_other_potential=allow_other_potential)
        thermo_path = folder / RUN_FILES["thermo"]
        steps, cells = thermo_cells(read_thermo(thermo_path), thermo_path)
        drift, _ = _segment_drift(folder, stages, timestep_fs)
    return CellSamples(cells[_production(steps, n_equilibration, interval)], float(temperature_K),
                       interval * timestep_fs, integrator, final, drift,
                       None if workdir is None else Path(workdir))


@dataclass
class VolumeScan:
    """Time-averaged pressures of NVT runs at several volumes (finite strain difference).

    ``conserved_drift_eV`` holds the drift of the Nosé–Hoover conserved quantity of each volume
    point (eV); ``workdir`` the scan's folder (None for a temporary one).
    """

    volumes_A3: np.ndarray
    pressures_GPa: np.ndarray
    pressure_errors_GPa: np.ndarray
    temperature_K: float
    mass_amu: float
    conserved_drift_eV: np.ndarray = None
    workdir: Path = None

    def well_behaved(self, n_sigma=2.0):
        """Mask of the monotonic region around P = 0 (:func:`well_behaved_region`)."""
        return well_behaved_region(self.volumes_A3, self.pressures_GPa, self.pressure_errors_GPa, n_sigma)

    def fit(self, order=2, select=True):
        """Birch–Murnaghan fit (:func:`fit_birch_murnaghan`), weighted by the block errors.

        With ``select=True`` only the well-behaved region enters the fit.
        """
        mask = self.well_behaved() if select else np.ones(len(self.volumes_A3), dtype=bool)
        return fit_birch_murnaghan(self.volumes_A3[mask], self.pressures_GPa[mask], order=order,
                                   pressure_errors_GPa=self.pressure_errors_GPa[mask])

    def plot(self, ax=None, order=2):
        """P–V points with the Birch–Murnaghan fit of the well-behaved region (paper Fig. S8);
        points left out of the fit are drawn as open circles."""
        ax = self.fit(order).plot(ax=ax)
        excluded = ~self.well_behaved()
        if excluded.any():
            ax.errorbar(self.volumes_A3[excluded], self.pressures_GPa[excluded],
                        yerr=self.pressure_errors_GPa[excluded], fmt="o", mfc="none",
                        label="not fitted")
            ax.legend()
        return ax


def _record_strains(folder, strains):
    """Write the scan's strains to ``SCAN_FILE`` or check them against the recorded ones."""
    path = folder / SCAN_FILE
    record = {"volume_strains": [float(s) for s in strains]}
    if path.exists():
        stored = json.loads(path.read_text())
        if stored != record:
            raise CheckpointError(
                f"{path}: this folder holds a scan of volume strains {stored['volume_strains']}, "
                f"not {record['volume_strains']}; use a new workdir"
            )
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, path)


def _point_seeds(seed, n):
    """Independent seeds of the ``n`` volume points derived from ``seed`` (None: each run's own)."""
    if seed is None:
        return [None] * n
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n)]


def volume_scan(atoms, temperature_K, volume_strains=np.linspace(-0.015, 0.015, 7), n_steps=2000,
                n_equilibration=1000, timestep_fs=1.0, interval=5, n_blocks=10, tdamp_fs=None,
                seed=None, progress=True, workdir=None, checkpoint_every=1000, watchdog=True,
                allow_other_potential=False):
    """NVT runs at isotropically scaled volumes; time-averaged pressure with block errors.

    Following Castel et al. (2024), section 2.4: the cell of ``atoms`` (taken as V0) is scaled
    isotropically to ``V0 (1 + s)`` for each volumetric strain ``s`` (default ±1.5 %, 7 points);
    the points are visited in order, each starting from the previous end state rescaled (a
    step-wise ramp), equilibrated for ``n_equilibration`` steps and sampled for ``n_steps``
    with the Nosé–Hoover chain NVT of :func:`aseml_zif.md.run` (stage ``"nvt"``, as the paper's
    LAMMPS ``fix nvt``). The paper ramps over 100 ps and equilibrates 100 ps at each volume; use
    comparable times for a glass.

    Parameters
    ----------
    atoms : ase.Atoms
        Structure at (about) zero pressure with a calculator providing stress.
    temperature_K : float
        Temperature (K).
    volume_strains : sequence of float
        Relative volume changes ΔV/V0.
    n_steps, n_equilibration, timestep_fs, interval, tdamp_fs, seed, progress :
        As in :func:`sample_cells` (pressure logged every ``interval`` steps).
    checkpoint_every, watchdog, allow_other_potential :
        As in :func:`sample_cells`, for each volume's run.
    n_blocks : int
        Blocks for the pressure error bar (:func:`block_average`).
    workdir : path-like, optional
        Folder of the scan: one :func:`aseml_zif.md.run` folder per volume (``00_strain-0.01500``,
        ...; each usable by ``aseml-zif mechanics eos``) and ``volume_scan.json``. The same call
        repeated resumes the scan where it stopped. Default: a temporary folder.

    Returns
    -------
    VolumeScan
        Volumes and pressures read from each run's ``thermo.csv`` (production rows).

    Raises
    ------
    MechanicsError
        Bad input.
    CheckpointError, WatchdogError
        ``workdir`` holds another scan or run; a run went wrong (:func:`aseml_zif.md.run`).
    """
    strains = np.sort(np.asarray(volume_strains, dtype=float))
    if strains.ndim != 1 or len(strains) < 3 or np.any(strains <= -1):
        raise MechanicsError("volume_strains must hold at least three relative volume changes > -1")
    _check_input(atoms, temperature_K)
    stages = _stages(n_equilibration, n_steps, timestep_fs, ensemble="nvt",
                     temperature_K=temperature_K, tdamp_fs=tdamp_fs or 100.0 * timestep_fs)
    cell0 = atoms.cell[:].copy()
    state = atoms.copy()
    volumes, pressures, errors, drifts = [], [], [], []
    with _run_folder(workdir) as folder:
        _record_strains(folder, strains)
        for k, (s, point_seed) in enumerate(zip(strains, _point_seeds(seed, len(strains)))):
            state.set_cell(cell0 * (1.0 + s) ** (1.0 / 3.0), scale_atoms=True)
            point = folder / f"{k:02d}_strain{s:+.5f}"
            state = run(state, atoms.calc, stages, point, timestep_fs=timestep_fs,
                        save_every=interval, log_every=interval, checkpoint_every=checkpoint_every,
                        watchdog=watchdog, seed=point_seed, progress=progress,
                        allow_other_potential=allow_other_potential)
            drift, thermo = _segment_drift(point, stages, timestep_fs)
            rows = _production(thermo["step"], n_equilibration, interval)
            mean, error = block_average(thermo["pressure_GPa"][rows], n_blocks)
            volumes.append(float(np.mean(thermo["volume_A3"][rows])))
            pressures.append(mean)
            errors.append(error)
            drifts.append(drift)
    return VolumeScan(np.array(volumes), np.array(pressures), np.array(errors), float(temperature_K),
                      float(atoms.get_masses().sum()), np.array(drifts),
                      None if workdir is None else Path(workdir))
