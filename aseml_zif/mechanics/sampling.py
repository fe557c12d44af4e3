"""MD drivers for the two finite-temperature methods: NσT cell sampling and NVT volume points.

Both drive ASE 3.29 integrators directly on a copy of the input structure (which must carry
its calculator) and show a tqdm progress bar.

Flexible-cell NσT integrators offered for the strain-fluctuation method, checked against the
0 K elastic constants of EMT Cu (``tests/test_mechanics_emt.py``, 4-atom cell, 50 K, 5 fs,
30 000 steps, pdamp 250 fs):

* ``"langevin"`` (default): :class:`ase.md.langevinbaoab.LangevinBAOAB` with
  ``hydrostatic=False`` (Langevin–Hoover cell dynamics, Quigley & Probert, J. Chem. Phys. 120,
  11432 (2004)). Measured C11, C12, C44 / static = 0.95, 0.92, 1.04, each ± 0.05–0.07 (block
  errors): verified.
* ``"mtk"``: :class:`ase.md.nose_hoover_chain.MTKNPT` (all nine cell components). Measured
  C11, C12 / static = 0.32 ± 0.05 (strain variance ~3x too large; 1.3–1.6x in standard
  deviation on a 108-atom cell, FIELD-NOTES). Its barostat chain targets 9 kT for a cell
  momentum that stays symmetric (6 degrees of freedom), but retargeting it to 6 kT does not
  fix the normal strains (0.37 ± 0.06) and freezes the shear ones. It is refused for this
  purpose unless ``allow_unverified=True``; use it for equilibration only.
"""
import warnings
from dataclasses import dataclass, field

import numpy as np
from ase import units
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.nose_hoover_chain import MTKNPT
from ase.md.velocitydistribution import Stationary, thermalize_momenta
from tqdm.auto import tqdm

from .averages import block_average
from .eos import fit_birch_murnaghan, well_behaved_region
from .errors import MechanicsError
from .fluctuations import (
    bulk_modulus_from_volume_fluctuations,
    running_stiffness,
    stiffness_from_cell_fluctuations,
)

__all__ = ["sample_cells", "CellSamples", "volume_scan", "VolumeScan", "NSIGMAT_INTEGRATORS"]

#: flexible-cell integrators: name -> verified for strain fluctuations (see module docstring)
NSIGMAT_INTEGRATORS = {"langevin": True, "mtk": False}


def _prepare(atoms, temperature_K, seed):
    if atoms.calc is None:
        raise MechanicsError("atoms has no calculator: attach one (e.g. load_potential(...)) first")
    if not all(atoms.pbc) or atoms.cell.rank != 3:
        raise MechanicsError("cell sampling needs a fully periodic 3-D cell")
    if not temperature_K > 0:
        raise MechanicsError(f"temperature must be positive, got {temperature_K} K")
    rng = np.random.default_rng(seed)
    work = atoms.copy()
    work.calc = atoms.calc
    if not np.any(work.get_momenta()):
        thermalize_momenta(work, temperature_K, rng=rng)
        Stationary(work)
    return work, rng


def _run(dyn, n_steps, interval, record, description, progress):
    """Run ``n_steps`` of ``dyn``, calling ``record()`` every ``interval`` steps, with a bar."""
    first = dyn.nsteps
    with tqdm(total=n_steps, desc=description, disable=not progress, leave=False) as bar:
        def tick():
            bar.update(dyn.nsteps - first - bar.n)
            record()

        dyn.attach(tick, interval=interval)
        dyn.run(n_steps)
        dyn.observers.clear()


@dataclass
class CellSamples:
    """Cells (ASE rows, Å) recorded along a flexible-cell NσT run at ``temperature_K``."""

    cells: np.ndarray
    temperature_K: float
    time_per_frame_fs: float
    integrator: str
    atoms: object = field(repr=False, default=None)

    @property
    def volumes_A3(self):
        return np.abs(np.linalg.det(self.cells))

    def stiffness_GPa(self):
        """Voigt stiffness (GPa) from :func:`stiffness_from_cell_fluctuations`."""
        return stiffness_from_cell_fluctuations(self.cells, self.temperature_K)

    def bulk_modulus_GPa(self):
        """Bulk modulus (GPa) from :func:`bulk_modulus_from_volume_fluctuations`."""
        return bulk_modulus_from_volume_fluctuations(self.volumes_A3, self.temperature_K)

    def running_stiffness(self, n_points=20):
        return running_stiffness(self.cells, self.temperature_K, n_points)


def sample_cells(atoms, temperature_K, n_steps, timestep_fs=1.0, pressure_GPa=0.0, interval=10,
                 n_equilibration=0, integrator="langevin", tdamp_fs=None, pdamp_fs=None,
                 allow_unverified=False, seed=None, progress=True):
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
        Steps between recorded cells.
    integrator : {"langevin", "mtk"}
        See the module docstring; only ``"langevin"`` is verified for fluctuations.
    tdamp_fs, pdamp_fs : float, optional
        Thermostat and barostat time constants (fs); default 100 and 1000 time steps.
    allow_unverified : bool
        Permit an integrator whose fluctuations failed the EMT Cu check.
    seed : int, optional
        Seed of the velocities and Langevin noise.

    Returns
    -------
    CellSamples
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
    work, rng = _prepare(atoms, temperature_K, seed)
    dt = timestep_fs * units.fs
    tdamp = (tdamp_fs or 100.0 * timestep_fs) * units.fs
    pdamp = (pdamp_fs or 1000.0 * timestep_fs) * units.fs
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*heuristic P_mass.*")
        if integrator == "langevin":
            dyn = LangevinBAOAB(work, dt, temperature_K=temperature_K,
                                externalstress=-pressure_GPa * units.GPa, hydrostatic=False,
                                T_tau=tdamp, P_tau=pdamp, rng=rng)
        else:
            dyn = MTKNPT(work, dt, temperature_K=temperature_K, pressure_au=pressure_GPa * units.GPa,
                         tdamp=tdamp, pdamp=pdamp)
    cells = []
    if n_equilibration:
        _run(dyn, n_equilibration, interval, lambda: None, "NσT equilibration", progress)
    _run(dyn, n_steps, interval, lambda: cells.append(work.cell[:].copy()), "NσT sampling", progress)
    return CellSamples(np.array(cells), float(temperature_K), interval * timestep_fs, integrator, work)


def _pressure_GPa(atoms):
    """Instantaneous pressure including the kinetic (ideal-gas) term, GPa."""
    return -atoms.get_stress(voigt=True, include_ideal_gas=True)[:3].mean() / units.GPa


@dataclass
class VolumeScan:
    """Time-averaged pressures of NVT runs at several volumes (finite strain difference)."""

    volumes_A3: np.ndarray
    pressures_GPa: np.ndarray
    pressure_errors_GPa: np.ndarray
    temperature_K: float
    mass_amu: float

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


def volume_scan(atoms, temperature_K, volume_strains=np.linspace(-0.015, 0.015, 7), n_steps=2000,
                n_equilibration=1000, timestep_fs=1.0, interval=5, n_blocks=10, tdamp_fs=None,
                seed=None, progress=True):
    """NVT runs at isotropically scaled volumes; time-averaged pressure with block errors.

    Following Castel et al. (2024), section 2.4: the cell of ``atoms`` (taken as V0) is scaled
    isotropically to ``V0 (1 + s)`` for each volumetric strain ``s`` (default ±1.5 %, 7 points);
    the points are visited in order, each starting from the previous end state rescaled (a
    step-wise ramp), equilibrated for ``n_equilibration`` steps and sampled for ``n_steps``
    with Langevin (BAOAB) NVT. The paper ramps over 100 ps and equilibrates 100 ps at each
    volume; use comparable times for a glass.

    Parameters
    ----------
    atoms : ase.Atoms
        Structure at (about) zero pressure with a calculator providing stress.
    temperature_K : float
        Temperature (K).
    volume_strains : sequence of float
        Relative volume changes ΔV/V0.
    n_steps, n_equilibration, timestep_fs, interval, tdamp_fs, seed :
        As in :func:`sample_cells` (pressure recorded every ``interval`` steps).
    n_blocks : int
        Blocks for the pressure error bar (:func:`block_average`).

    Returns
    -------
    VolumeScan
    """
    strains = np.sort(np.asarray(volume_strains, dtype=float))
    if strains.ndim != 1 or len(strains) < 3 or np.any(strains <= -1):
        raise MechanicsError("volume_strains must hold at least three relative volume changes > -1")
    work, rng = _prepare(atoms, temperature_K, seed)
    cell0 = atoms.cell[:].copy()
    tdamp = (tdamp_fs or 100.0 * timestep_fs) * units.fs
    volumes, pressures, errors = [], [], []
    for s in tqdm(strains, desc="volume scan", disable=not progress, leave=False):
        work.set_cell(cell0 * (1.0 + s) ** (1.0 / 3.0), scale_atoms=True)
        dyn = LangevinBAOAB(work, timestep_fs * units.fs, temperature_K=temperature_K, T_tau=tdamp, rng=rng)
        samples = []
        label = f"NVT {100 * s:+.2f} %"
        _run(dyn, n_equilibration, interval, lambda: None, f"{label} equilibration", progress)
        _run(dyn, n_steps, interval, lambda: samples.append(_pressure_GPa(work)), label, progress)
        mean, error = block_average(samples, n_blocks)
        volumes.append(work.get_volume())
        pressures.append(mean)
        errors.append(error)
    return VolumeScan(np.array(volumes), np.array(pressures), np.array(errors), float(temperature_K),
                      float(atoms.get_masses().sum()))
