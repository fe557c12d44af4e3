"""Adapter around ASE 3.29's MD integrators: build, re-target and snapshot them.

ASE's ``NoseHooverChainNVT``, ``IsotropicMTKNPT`` and ``MTKNPT`` copy positions, momenta and
cell at construction and have no ``set_temperature``. This module is the only place of the
package that touches their private fields, to

* change the target temperature during a run (ramps): the thermostat/barostat ``kT`` and their
  masses ``Q``, ``W``, ``R`` are recomputed for the new temperature, as LAMMPS ``fix nvt/npt``
  does at every step of a ramp (the masses keep the damping times ``tdamp``/``pdamp``);
* save and restore the complete integrator state for bitwise-exact restarts.

The masses for a new temperature are taken from freshly built ASE thermostat/barostat objects,
so ASE's own formulas are used, not copies of them. The Nosé–Hoover/MTK integrators are built
with the faster particle thermostat of :mod:`.thermostat` (the same numbers, bit for bit).
"""
import numpy as np
from ase import units
from ase.md.langevinbaoab import LangevinBAOAB
from ase.md.nose_hoover_chain import (
    IsotropicMTKBarostat,
    IsotropicMTKNPT,
    MTKBarostat,
    MTKNPT,
    NoseHooverChainNVT,
    NoseHooverChainThermostat,
)

from .stages import StageError
from .thermostat import FastIsotropicMTKNPT, FastMTKNPT, FastNoseHooverChainNVT

__all__ = [
    "make_integrator",
    "set_target_temperature",
    "get_state",
    "set_state",
    "conserved_energy",
    "IntegratorSchedule",
]

_THERMOSTAT = ("_thermostat._eta", "_thermostat._p_eta", "_thermostat._kT", "_thermostat._Q")
_BAROSTAT = ("_barostat._xi", "_barostat._p_xi", "_barostat._kT", "_barostat._W", "_barostat._R")
_TARGET = ("_kT", "_temperature_K")

#: private attributes that make up the full dynamical state of each integrator
_STATE_FIELDS = {
    NoseHooverChainNVT: ("_q", "_p") + _THERMOSTAT,
    IsotropicMTKNPT: ("_q", "_p", "_eps", "_p_eps", "_cell0", "_volume0")
    + _THERMOSTAT
    + _BAROSTAT
    + _TARGET,
    MTKNPT: ("_q", "_p", "_h", "_p_g") + _THERMOSTAT + _BAROSTAT + _TARGET,
    # positions, momenta and cell live in the Atoms; the RNG is saved by the runner
    LangevinBAOAB: ("p_eps", "force_eps", "accel", "gamma_mod"),
}


def make_integrator(atoms, stage, timestep_fs, temperature_K, rng):
    """Build the ASE integrator of ``stage`` on ``atoms`` (state copied from ``atoms``).

    Parameters
    ----------
    atoms : ase.Atoms
        System with calculator and momenta set.
    stage : Stage
        Ensemble, pressure and damping times.
    timestep_fs : float
        Time step in fs.
    temperature_K : float
        Initial target temperature in K.
    rng : numpy.random.Generator
        Random stream of the Langevin integrator (unused by the deterministic ones).
    """
    dt = timestep_fs * units.fs
    tdamp = stage.tdamp_fs * units.fs
    pdamp = stage.pdamp_fs * units.fs
    if stage.ensemble == "nvt":
        return FastNoseHooverChainNVT(atoms, dt, temperature_K=temperature_K, tdamp=tdamp)
    pressure_au = stage.pressure_GPa * units.GPa
    if stage.ensemble == "npt_langevin":
        return LangevinBAOAB(
            atoms,
            dt,
            temperature_K=temperature_K,
            externalstress=-pressure_au,
            hydrostatic=False,
            T_tau=tdamp,
            P_tau=pdamp,
            rng=rng,
        )
    if atoms.constraints:
        raise StageError(
            f"stage {stage.label!r}: ASE's MTK barostats refuse constraints; remove them "
            "or use ensemble 'npt_langevin'"
        )
    cls = FastIsotropicMTKNPT if stage.ensemble == "npt" else FastMTKNPT
    return cls(
        atoms,
        dt,
        temperature_K=temperature_K,
        pressure_au=pressure_au,
        tdamp=tdamp,
        pdamp=pdamp,
    )


def _fields(dyn):
    for cls, names in _STATE_FIELDS.items():
        if isinstance(dyn, cls):
            return names
    raise StageError(f"no state adapter for integrator {type(dyn).__name__}")


def set_target_temperature(dyn, temperature_K):
    """Make ``dyn`` thermostat (and barostat) towards ``temperature_K`` from the next step on.

    Positions, momenta, thermostat and barostat coordinates and momenta are kept; ``kT`` and
    the masses derived from it are those ASE would build at ``temperature_K``.
    """
    if isinstance(dyn, LangevinBAOAB):
        if dyn.temperature_K != temperature_K:
            dyn.set_temperature(temperature_K)
        return
    th = dyn._thermostat
    if th._kT == units.kB * temperature_K:
        return
    fresh = NoseHooverChainThermostat(
        num_atoms_global=th._num_atoms_global,
        masses=th._masses,
        temperature_K=temperature_K,
        tdamp=th._tdamp,
        tchain=th._tchain,
        tloop=th._tloop,
    )
    th._kT, th._Q = fresh._kT, fresh._Q
    if isinstance(dyn, NoseHooverChainNVT):
        return
    baro = dyn._barostat
    common = dict(
        num_atoms_global=baro._num_atoms_global,
        temperature_K=temperature_K,
        pdamp=baro._pdamp,
        pchain=baro._pchain,
        ploop=baro._ploop,
    )
    fresh = (
        IsotropicMTKBarostat(**common)
        if isinstance(baro, IsotropicMTKBarostat)
        else MTKBarostat(mask=None, **common)
    )
    baro._kT, baro._W, baro._R = fresh._kT, fresh._W, fresh._R
    dyn._temperature_K = temperature_K
    dyn._kT = units.kB * temperature_K


def _resolve(obj, dotted):
    *parents, name = dotted.split(".")
    for parent in parents:
        obj = getattr(obj, parent)
    return obj, name


def get_state(dyn):
    """Copy of the integrator's internal state: ``{field: numpy array}``."""
    state = {}
    for dotted in _fields(dyn):
        owner, name = _resolve(dyn, dotted)
        state[dotted] = np.array(getattr(owner, name), dtype=np.float64, copy=True)
    return state


def set_state(dyn, state):
    """Restore a state from :func:`get_state` into ``dyn`` and push it to ``dyn.atoms``."""
    for dotted in _fields(dyn):
        owner, name = _resolve(dyn, dotted)
        value = np.array(state[dotted], dtype=np.float64, copy=True)
        setattr(owner, name, float(value) if value.ndim == 0 else value)
    if hasattr(dyn, "_update_atoms"):
        dyn._update_atoms()


def conserved_energy(dyn):
    """Conserved quantity of the Nosé–Hoover/MTK extended system in eV (NaN for Langevin).

    Constant only while the target temperature is constant.
    """
    if isinstance(dyn, LangevinBAOAB):
        return float("nan")
    return dyn.get_conserved_energy()


class IntegratorSchedule:
    """The integrator of each step of a run: one per group of stages of a
    :class:`~aseml_zif.md.schedule.Schedule`, re-targeted to the step's temperature.

    Parameters
    ----------
    atoms : ase.Atoms
        The run's state, with calculator and momenta.
    schedule : Schedule
        Stages and time step (fs).
    rng : numpy.random.Generator
        Random stream of the Langevin integrator.

    Attributes
    ----------
    dyn : ase.md.md.MolecularDynamics or None
        The integrator of the last step asked for.
    group : int or None
        Its group of stages.
    """

    def __init__(self, atoms, schedule, rng):
        self.atoms = atoms
        self.schedule = schedule
        self.rng = rng
        self.dyn = None
        self.group = None
        self._steady_until = -1  # last step of a plateau whose integrator is set up
        self._pending = None  # integrator state from a checkpoint, with its group

    def restore(self, group, state):
        """Give the next integrator built for ``group`` the :func:`get_state` ``state``."""
        self._pending = (group, state)

    def for_step(self, step):
        """The integrator that performs ``step``, re-targeted to its temperature."""
        if step <= self._steady_until:  # same integrator and target as the last step
            return self.dyn
        schedule = self.schedule
        k = schedule.stage_index(step)
        group = schedule.groups[k]
        target = schedule.target_temperature(step)
        if self.dyn is None or group != self.group:
            self.dyn = make_integrator(
                self.atoms, schedule.stages[k], schedule.timestep_fs, target, self.rng
            )
            self.group = group
            if self._pending is not None and self._pending[0] == group:
                set_state(self.dyn, self._pending[1])
            self._pending = None
        set_target_temperature(self.dyn, target)
        low, high = schedule.stages[k].temperature_range
        self._steady_until = schedule.ends[k] if low == high else step
        return self.dyn
