"""The check of every MD step: finite positions, cell and model outputs."""
import numpy as np

from ..errors import ModelError
from ..neighbors import all_finite, atom_labels, check_finite

__all__ = ["check_step_finite"]


def check_step_finite(atoms):
    """Raise on non-finite positions or cell (Å) or calculator results.

    Nothing is checked again when the calculator proves that ``atoms`` is the state of its
    last successful calculation, whose results it checked (``holds_checked_state``, as
    :class:`~aseml_zif.calculator.DeployedModelCalculator` has).

    Parameters
    ----------
    atoms : ase.Atoms
        The state after a step, with its calculator (whose ``results`` are checked).

    Raises
    ------
    StructureError
        A non-finite position (naming the atoms) or cell vector.
    ModelError
        Non-finite forces (naming the atoms), energy or stress.
    """
    calc = atoms.calc
    proven = getattr(calc, "holds_checked_state", None)
    if proven is not None and proven(atoms):
        return
    check_finite(atoms)
    results = getattr(calc, "results", {})
    if "forces" in results and not all_finite(results["forces"]):
        bad = np.flatnonzero(~np.isfinite(results["forces"]).all(axis=1))
        raise ModelError(f"the potential returned non-finite forces on {bad.size} atom(s): "
                         f"{atom_labels(atoms, bad)}")
    for name in ("energy", "stress"):
        if name in results and not all_finite(results[name]):
            raise ModelError(f"the potential returned a non-finite {name}: {results[name]}")
