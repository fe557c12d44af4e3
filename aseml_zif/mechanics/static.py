"""Zero-temperature stiffness tensor by finite differences of the stress (clamped or relaxed ions).

``C_ij = ∂σ_i/∂ε_j`` (Voigt, engineering shear) by central differences of ASE's stress
(σ = (1/V) ∂E/∂ε, positive in tension) under small homogeneous strains of the cell.
The 0 K reference for the finite-temperature methods of Castel et al., Digital Discovery 3, 355
(2024) (the paper uses it only implicitly, through ELATE); here it validates them on EMT Cu.
"""
import numpy as np
from ase import units

from .errors import MechanicsError

__all__ = ["stiffness_from_finite_differences"]

_PAIRS = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]


def _strained(atoms, voigt_index, amount):
    """Copy of ``atoms`` deformed by strain ``amount`` in one Voigt component (engineering shear)."""
    i, j = _PAIRS[voigt_index]
    eps = np.zeros((3, 3))
    if i == j:
        eps[i, i] = amount
    else:
        eps[i, j] = eps[j, i] = 0.5 * amount
    strained = atoms.copy()
    strained.calc = atoms.calc
    strained.set_cell(atoms.cell[:] @ (np.eye(3) + eps), scale_atoms=True)
    return strained


def stiffness_from_finite_differences(atoms, delta=1e-3, relax_fmax=None, optimizer=None):
    """Stiffness tensor C (6×6 Voigt, GPa) of a structure at 0 K from ±``delta`` strains.

    Parameters
    ----------
    atoms : ase.Atoms
        Periodic structure with a calculator providing stress, ideally at zero stress.
    delta : float
        Strain amplitude (dimensionless); the error is O(delta²).
    relax_fmax : float, optional
        If given, relax the atomic positions of each strained cell to this force (eV/Å)
        (relaxed-ion constants, needed for crystals with internal degrees of freedom such as
        ZIF-4); default clamped ions (exact for monatomic Bravais lattices such as fcc Cu).
    optimizer : ase.optimize class, optional
        Optimiser for the relaxation (default ``ase.optimize.BFGS``).

    Returns
    -------
    numpy.ndarray, shape (6, 6)
        Symmetrised stiffness in GPa.
    """
    if atoms.calc is None:
        raise MechanicsError("atoms has no calculator")
    if not all(atoms.pbc) or atoms.cell.rank != 3:
        raise MechanicsError("finite-strain elastic constants need a fully periodic 3-D cell")
    if not 0 < delta < 0.05:
        raise MechanicsError(f"strain amplitude delta must be in (0, 0.05), got {delta}")
    if relax_fmax is not None and optimizer is None:
        from ase.optimize import BFGS as optimizer

    C = np.empty((6, 6))
    for j in range(6):
        stresses = []
        for amount in (delta, -delta):
            strained = _strained(atoms, j, amount)
            if relax_fmax is not None:
                optimizer(strained, logfile=None).run(fmax=relax_fmax)
            stresses.append(strained.get_stress(voigt=True))
        C[:, j] = (stresses[0] - stresses[1]) / (2.0 * delta) / units.GPa
    return 0.5 * (C + C.T)
