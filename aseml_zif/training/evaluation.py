"""Accuracy and speed of a potential on held-out frames (Castel et al. 2024, Table 1 protocol).

Errors against the reference labels: energy MAE per atom (meV/atom), force MAE over all
Cartesian components (meV/Å) and stress MAE over the nine components of the 3×3 tensor (MPa),
as nequip's own metrics. Efficiency: wall time per call divided by the number of atoms
(µs/atom/call), averaged over 300 calls after 6 warm-up calls, as in the paper.
"""
import time

import numpy as np
from ase import units
from ase.stress import voigt_6_to_full_3x3_stress

from .._progress import progress_bar
from ..analysis.frames import as_frame_list
from ..data.store import frame_labels
from ..errors import AsemlZifError, StructureError

__all__ = ["predict", "evaluate", "efficiency", "plot_parity"]

_MPA = units.GPa / 1000.0


def _reference(frames):
    refs = []
    for k, atoms in enumerate(frames):
        labels = frame_labels(atoms)
        if "energy" not in labels or "forces" not in labels:
            raise StructureError(f"frame {k} has no reference energy and forces")
        refs.append(labels)
    return refs


def predict(calculator, frames, progress=True):
    """Reference and predicted energies, forces and stresses of labelled ``frames``.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator (e.g. ``aseml_zif.load_potential("demo")``).
    frames : list of ase.Atoms, or path
        Frames carrying reference labels (single-point results, e.g. from
        :func:`aseml_zif.data.read_frames`).
    progress : bool
        tqdm progress bar.

    Returns
    -------
    dict
        ``n_atoms`` (per frame), ``energy_ref``/``energy_pred`` (eV), ``forces_ref``/
        ``forces_pred`` (eV/Å, concatenated ``[sum N, 3]``), ``symbols`` (the chemical symbol
        of each of those rows), ``stress_ref``/``stress_pred`` (eV/Å³, ``[n, 3, 3]``, frames
        with a reference stress only).
    """
    frames = as_frame_list(frames)
    refs = _reference(frames)
    out = {k: [] for k in ("n_atoms", "energy_ref", "energy_pred", "forces_ref", "forces_pred",
                           "symbols", "stress_ref", "stress_pred")}
    for k, (atoms, ref) in enumerate(progress_bar(list(zip(frames, refs)), desc="evaluating",
                                                  unit="frame", disable=not progress)):
        work = atoms.copy()
        work.calc = calculator
        try:
            energy, forces = work.get_potential_energy(), work.get_forces()
            stress = work.get_stress() if "stress" in ref else None
        except AsemlZifError:
            raise
        except Exception as exc:
            raise AsemlZifError(f"calculator failed on frame {k}: {exc}") from exc
        out["n_atoms"].append(len(atoms))
        out["energy_ref"].append(ref["energy"])
        out["energy_pred"].append(energy)
        out["forces_ref"].append(ref["forces"])
        out["forces_pred"].append(forces)
        out["symbols"].append(atoms.get_chemical_symbols())
        if stress is not None:
            out["stress_ref"].append(voigt_6_to_full_3x3_stress(ref["stress"]))
            out["stress_pred"].append(voigt_6_to_full_3x3_stress(stress))
    result = {k: np.asarray(v, dtype=float) for k, v in out.items()
              if not k.startswith("forces") and k != "symbols"}
    for key in ("forces_ref", "forces_pred", "symbols"):
        result[key] = np.concatenate(out[key])
    return result


def efficiency(calculator, atoms, n_calls=300, n_warmup=6, progress=True):
    """Mean wall time per energy+forces+stress call, per atom (µs/atom/call).

    The paper's protocol: ``n_warmup`` untimed calls, then ``n_calls`` timed calls on the same
    structure (the calculator's cache is reset before each call so every call recomputes).

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
    atoms : ase.Atoms
    n_calls, n_warmup : int

    Returns
    -------
    float
        Microseconds per atom per call.
    """
    work = atoms.copy()
    work.calc = calculator

    def call():
        calculator.reset()
        work.get_forces()
        work.get_stress()

    for _ in range(n_warmup):
        call()
    start = time.perf_counter()
    for _ in progress_bar(range(n_calls), desc="timing", unit="call", disable=not progress):
        call()
    return (time.perf_counter() - start) / n_calls / len(work) * 1e6


def evaluate(calculator, frames, timing_calls=0, warmup_calls=6, progress=True):
    """Errors of ``calculator`` against the labels of ``frames`` (and optionally its speed).

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
    frames : list of ase.Atoms, or path
        Held-out labelled frames.
    timing_calls : int
        If > 0, also time this many calls on the first frame after ``warmup_calls`` warm-up
        calls (the paper used 300 and 6) and report ``us_per_atom_per_call``.
    warmup_calls : int
    progress : bool

    Returns
    -------
    dict
        ``energy_mae_meV_per_atom``, ``force_mae_meV_per_A``, ``stress_mae_MPa`` (NaN when no
        frame has a reference stress), ``n_frames``, ``force_mae_meV_per_A_by_species``
        (``{symbol: MAE}`` over that species' force components) and, if timed,
        ``us_per_atom_per_call``.
    """
    frames = as_frame_list(frames)
    p = predict(calculator, frames, progress=progress)
    result = {
        "energy_mae_meV_per_atom": float(np.mean(np.abs(p["energy_pred"] - p["energy_ref"])
                                                 / p["n_atoms"]) * 1000.0),
        "force_mae_meV_per_A": float(np.mean(np.abs(p["forces_pred"] - p["forces_ref"])) * 1000.0),
        "stress_mae_MPa": (float(np.mean(np.abs(p["stress_pred"] - p["stress_ref"])) / _MPA)
                           if len(p["stress_ref"]) else float("nan")),
        "n_frames": len(frames),
    }
    error = np.abs(p["forces_pred"] - p["forces_ref"])
    result["force_mae_meV_per_A_by_species"] = {
        str(sym): float(error[p["symbols"] == sym].mean() * 1000.0)
        for sym in sorted(set(p["symbols"]))}
    if timing_calls > 0:
        result["us_per_atom_per_call"] = efficiency(calculator, frames[0], timing_calls,
                                                    warmup_calls, progress=progress)
    return result


def plot_parity(predictions, ax=None):
    """Parity plots of energies per atom and force components (the paper's Fig. 3b,c).

    Parameters
    ----------
    predictions : dict
        From :func:`predict`.
    ax : sequence of two matplotlib.axes.Axes, optional

    Returns
    -------
    list of matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(1, 2, figsize=(9, 4))
    e_ref = predictions["energy_ref"] / predictions["n_atoms"]
    e_pred = predictions["energy_pred"] / predictions["n_atoms"]
    pairs = [(e_ref, e_pred, "energy (eV/atom)"),
             (predictions["forces_ref"].ravel(), predictions["forces_pred"].ravel(),
              "force component (eV/Å)")]
    for axis, (ref, pred, name) in zip(ax, pairs):
        axis.plot(ref, pred, ".", ms=2)
        lo, hi = min(ref.min(), pred.min()), max(ref.max(), pred.max())
        axis.plot([lo, hi], [lo, hi], "k-", lw=0.8)
        axis.set_xlabel(f"reference {name}")
        axis.set_ylabel(f"predicted {name}")
    return list(ax)
