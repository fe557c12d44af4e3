"""What an MD run records of a step: ``atoms.info`` of frames, rows of ``thermo.csv`` and the
arrays of ``checkpoint.npz``."""
import numpy as np
from ase import units

from . import integrators
from .output import THERMO_COLUMNS

__all__ = ["step_info", "thermo_row", "checkpoint_arrays"]


def step_info(schedule, step, atoms):
    """``atoms.info`` of a saved frame or snapshot at ``step`` (times in fs, temperatures in K).

    Parameters
    ----------
    schedule : Schedule
        The run's stages and time step.
    step : int
        MD step of ``atoms``.
    atoms : ase.Atoms
        The state, with momenta.
    """
    k = schedule.stage_index(step)
    return {
        "step": step,
        "time_fs": step * schedule.timestep_fs,
        "stage": schedule.stages[k].label,
        "stage_index": k,
        "temperature_K": float(atoms.get_temperature()),
        "target_temperature_K": float(schedule.target_temperature(step)),
    }


def thermo_row(atoms, info, dyn):
    """The ``thermo.csv`` row (:data:`~aseml_zif.md.output.THERMO_COLUMNS`) of ``atoms``.

    Parameters
    ----------
    atoms : ase.Atoms
        The state, with its calculator.
    info : dict
        :func:`step_info` of the state.
    dyn : ase.md.md.MolecularDynamics
        The integrator, for the conserved energy (eV).

    Returns
    -------
    dict
        Energies in eV, pressure in GPa (NaN for a calculator without stress; the ideal-gas
        term included), volume in Å³ (NaN without a 3-D cell), cell vectors in Å.
    """
    epot = atoms.get_potential_energy()
    ekin = atoms.get_kinetic_energy()
    try:
        stress = atoms.get_stress(include_ideal_gas=True)
        pressure = -float(np.mean(stress[:3])) / units.GPa
    except NotImplementedError:  # calculator without stress (PropertyNotImplementedError)
        pressure = float("nan")
    row = {
        "step": info["step"],
        "time_fs": info["time_fs"],
        "stage": info["stage"],
        "target_temperature_K": info["target_temperature_K"],
        "temperature_K": info["temperature_K"],
        "potential_energy_eV": epot,
        "kinetic_energy_eV": ekin,
        "total_energy_eV": epot + ekin,
        "conserved_energy_eV": integrators.conserved_energy(dyn),
        "pressure_GPa": pressure,
        "volume_A3": atoms.get_volume() if atoms.cell.rank == 3 else float("nan"),
    }
    row.update(zip(THERMO_COLUMNS[-9:], atoms.cell[:].reshape(-1).tolist()))
    return row


def checkpoint_arrays(atoms, dyn=None):
    """Positions (Å), momenta and cell (Å) of ``atoms`` and, with ``dyn``, the integrator's
    state (:func:`~aseml_zif.md.integrators.get_state`, keys prefixed ``dyn/``)."""
    arrays = {
        "positions": atoms.get_positions(),
        "momenta": atoms.get_momenta(),
        "cell": atoms.cell[:],
    }
    if dyn is not None:
        for key, value in integrators.get_state(dyn).items():
            arrays[f"dyn/{key}"] = value
    return arrays
