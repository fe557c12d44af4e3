"""Label frames with any ASE calculator (teacher model, DFT), resumable, with a progress bar."""
from pathlib import Path

import numpy as np

from .._progress import progress_bar
from ..analysis.frames import as_frame_list
from ..errors import AsemlZifError, LabellingError
from .store import append_frame, read_frames, with_labels

__all__ = ["label"]


def _same_structure(a, b, tol=1e-6):
    return (
        len(a) == len(b)
        and np.array_equal(a.numbers, b.numbers)
        and np.allclose(a.cell[:], b.cell[:], atol=tol)
        and np.allclose(a.positions, b.positions, atol=tol)
    )


def label(frames, calculator, output, properties=("energy", "forces", "stress"), progress=True):
    """Compute reference energies, forces and stresses of ``frames`` and store them in ``output``.

    Each frame is appended to ``output`` as soon as it is labelled, so an interrupted run
    resumes where it stopped: frames already present in ``output`` (same species, cell and
    positions, in the same order) are skipped.

    Parameters
    ----------
    frames : ase.Atoms, list of ase.Atoms or path
        Structures to label; ``atoms.info`` (e.g. ``source``) is kept.
    calculator : ase.calculators.calculator.Calculator
        Any ASE calculator (e.g. ``aseml_zif.load_potential(...)`` or the CP2K set-up of
        :func:`aseml_zif.data.cp2k_calculator`).
    output : str or path-like
        ``.xyz``/``.extxyz`` or ``.db`` file; created or continued.
    properties : sequence of str
        Among ``energy`` (eV), ``forces`` (eV/Å), ``stress`` (eV/Å³, ASE convention).
    progress : bool
        Show a tqdm progress bar.

    Returns
    -------
    list of ase.Atoms
        All labelled frames, in input order (stored ones plus new ones).

    Raises
    ------
    LabellingError
        ``output`` holds a frame that differs from the input at the same position, holds more
        frames than requested, or the calculator fails on a frame (its index is named).
    """
    frames = as_frame_list(frames)
    output = Path(output)
    done = read_frames(output) if output.exists() else []
    if len(done) > len(frames):
        raise LabellingError(
            f"{output}: holds {len(done)} frames but only {len(frames)} were given to label"
        )
    for k, stored in enumerate(done):
        if not _same_structure(stored, frames[k]):
            raise LabellingError(
                f"{output}: stored frame {k} is not input frame {k}; use a new output file"
            )
    getters = {
        "energy": lambda a: a.get_potential_energy(),
        "forces": lambda a: a.get_forces(),
        "stress": lambda a: a.get_stress(voigt=True),
    }
    unknown = set(properties) - set(getters)
    if unknown:
        raise LabellingError(f"cannot label properties {sorted(unknown)}; use {sorted(getters)}")
    labelled = list(done)
    todo = range(len(done), len(frames))
    for k in progress_bar(todo, desc="labelling", unit="frame", disable=not progress,
                          initial=len(done), total=len(frames)):
        atoms = frames[k].copy()
        atoms.calc = calculator
        try:
            values = {p: getters[p](atoms) for p in properties}
        except AsemlZifError:
            raise
        except Exception as exc:
            raise LabellingError(f"calculator failed on frame {k}: {exc}") from exc
        out = with_labels(frames[k], **values)
        append_frame(out, output)
        labelled.append(out)
    return labelled
