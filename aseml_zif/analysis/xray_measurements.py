"""Measured X-ray total scattering of ZIF-4 (GudrunX files) and the R_w agreement factor.

``.int01`` files hold Q (Å⁻¹), F(Q) and its error; ``.dofr`` files hold r (Å), D(r) and
√D (clipped at 0; *not* an error bar). Comments start with ``#``.
"""
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataFileError, SettingsError

__all__ = ["MeasuredStructureFactor", "MeasuredPairDistribution", "read_int01", "read_dofr", "r_w"]


def r_w(model, measured, error=None):
    """Agreement factor R_w = sqrt(Σ w (y_model − y_meas)² / Σ w y_meas²), w = 1/σ² or 1.

    Parameters
    ----------
    model, measured : array_like
        The two curves on the same grid.
    error : array_like, optional
        Standard deviations σ of ``measured`` (e.g. the ``.int01`` error column).
    """
    model, measured = np.asarray(model, dtype=float), np.asarray(measured, dtype=float)
    if model.shape != measured.shape:
        raise SettingsError(f"R_w needs curves on one grid, got shapes {model.shape} and {measured.shape}")
    w = np.ones_like(measured) if error is None else 1.0 / np.asarray(error, dtype=float) ** 2
    return float(np.sqrt(np.sum(w * (model - measured) ** 2) / np.sum(w * measured**2)))


@dataclass(frozen=True)
class MeasuredStructureFactor:
    """Measured F(Q) from a GudrunX ``.int01`` file: Q (Å⁻¹), F(Q), error; ``path``."""

    q: np.ndarray
    f: np.ndarray
    error: np.ndarray
    path: str


@dataclass(frozen=True)
class MeasuredPairDistribution:
    """Measured D(r) from a GudrunX ``.dofr`` file: r (Å), D(r) (Å⁻²), √max(D, 0); ``path``."""

    r: np.ndarray
    d: np.ndarray
    sqrt_d: np.ndarray
    path: str


def _read_columns(path, suffix):
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    if path.suffix != suffix:
        raise DataFileError(f"{path}: expected a {suffix} file")
    try:
        with warnings.catch_warnings():  # an empty file: the shape check below says so
            warnings.filterwarnings("ignore", "loadtxt: input contained no data")
            table = np.loadtxt(path, comments="#", ndmin=2)
    except ValueError as exc:
        raise DataFileError(f"{path}: not a table of numbers ({exc})") from exc
    if table.shape[1] != 3 or table.shape[0] < 2:
        raise DataFileError(f"{path}: expected 3 columns and several rows, got shape {table.shape}")
    bad = np.flatnonzero(~np.isfinite(table).all(axis=1))
    if bad.size:
        raise DataFileError(f"{path}: non-finite numbers in data row {bad[0] + 1}: {table[bad[0]]}")
    return table.T


def read_int01(path):
    """Read a GudrunX ``.int01`` file (Q in Å⁻¹, F(Q), error).

    The zero-padded rows at the end (F = 0 and error = 0) are dropped.
    """
    q, f, error = _read_columns(path, ".int01")
    keep = error > 0
    return MeasuredStructureFactor(q[keep], f[keep], error[keep], str(path))


def read_dofr(path):
    """Read a GudrunX ``.dofr`` file (r in Å, D(r), √D: the third column is not an error)."""
    r, d, sqrt_d = _read_columns(path, ".dofr")
    return MeasuredPairDistribution(r, d, sqrt_d, str(path))
