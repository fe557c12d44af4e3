"""Elastic constants from the cell fluctuations of a flexible-cell NσT trajectory.

Strain-fluctuation method (M. Parrinello and A. Rahman, J. Chem. Phys. 76, 2662 (1982)), used
by Castel et al., Digital Discovery 3, 355 (2024), section 2.4 and Table 3, for ZIF-4 glasses:

    ε = ½ (h0⁻ᵀ hᵀ h h0⁻¹ − I),   S_ijkl = ⟨V⟩/(k_B T) ⟨δε_ij δε_kl⟩,   C = S⁻¹

with ``h`` the cell matrix whose *columns* are the lattice vectors (ASE stores them as rows:
``h = atoms.cell.T``) and ``h0`` the average cell. So that rigid rotations of the cell (free in
a 9-component barostat) cannot bias the result, ``h0`` is taken as the cell closest to ``⟨h⟩``
whose metric is the average metric, ``h0ᵀh0 = ⟨hᵀh⟩``; then ``⟨ε⟩ = 0`` exactly, and for a
non-rotating trajectory ``h0 = ⟨h⟩`` to second order in the strain. In Voigt form the strain vector is
(ε11, ε22, ε33, 2ε23, 2ε13, 2ε12) (engineering shear strains), so the Voigt compliance is
``⟨V⟩/(k_B T) cov(e)`` without further factors and ``C = S⁻¹``.

The sampling must come from an integrator that produces the correct isothermal–isobaric
fluctuations of the full cell: see :mod:`aseml_zif.mechanics.sampling`.
"""
from dataclasses import dataclass

import numpy as np
from ase import units

from .errors import MechanicsError

__all__ = [
    "voigt_strains",
    "stiffness_from_cell_fluctuations",
    "stiffness_error_from_blocks",
    "bulk_modulus_from_volume_fluctuations",
    "running_stiffness",
    "RunningStiffness",
]

_MIN_FRAMES = 10


def _as_cells(cells):
    try:
        cells = np.asarray(cells, dtype=float)
    except (TypeError, ValueError) as exc:
        raise MechanicsError(f"cells must be a sequence of 3x3 arrays in Å ({exc})") from exc
    if cells.ndim != 3 or cells.shape[1:] != (3, 3):
        raise MechanicsError(f"cells must have shape (n_frames, 3, 3), got {cells.shape}")
    if len(cells) < _MIN_FRAMES:
        raise MechanicsError(
            f"need at least {_MIN_FRAMES} cells for a fluctuation estimate, got {len(cells)}"
        )
    bad = np.flatnonzero(~np.isfinite(cells).all(axis=(1, 2)))
    if bad.size:
        raise MechanicsError(f"cell of frame {bad[0]} contains NaN or infinite entries")
    volumes = np.abs(np.linalg.det(cells))
    bad = np.flatnonzero(volumes < 1e-6)
    if bad.size:
        raise MechanicsError(f"cell of frame {bad[0]} has zero volume")
    return cells


def _temperature(temperature_K):
    if not np.isfinite(temperature_K) or temperature_K <= 0:
        raise MechanicsError(f"temperature must be positive, got {temperature_K} K")
    return float(temperature_K)


def _reference_cell(cells):
    """Column-convention reference ``h0 = Q ⟨hᵀh⟩^½`` with Q the rotation closest to ⟨h⟩."""
    metric = np.matmul(cells, cells.transpose(0, 2, 1)).mean(axis=0)  # <hᵀh> = <A Aᵀ>, A = ASE cell
    w, v = np.linalg.eigh(metric)
    stretch = (v * np.sqrt(w)) @ v.T
    u, _, vt = np.linalg.svd(cells.mean(axis=0).T @ np.linalg.inv(stretch))
    return (u @ vt) @ stretch


def voigt_strains(cells, reference_cell=None):
    """Lagrangian strain of every cell relative to a reference, in Voigt form.

    Parameters
    ----------
    cells : sequence of (3, 3) array_like
        Cells in ASE convention (rows are lattice vectors), Å.
    reference_cell : (3, 3) array_like, optional
        Reference cell ``h0`` (ASE rows); default the average cell (module docstring).

    Returns
    -------
    numpy.ndarray, shape (n_frames, 6)
        (ε11, ε22, ε33, 2ε23, 2ε13, 2ε12), dimensionless; rotation-invariant.
    """
    cells = _as_cells(cells)
    h0 = _reference_cell(cells) if reference_cell is None else np.asarray(reference_cell, float).T
    h0_inv = np.linalg.inv(h0)
    F = np.matmul(cells.transpose(0, 2, 1), h0_inv)  # deformation gradient h h0⁻¹ (h = cell.T)
    eps = 0.5 * (np.matmul(F.transpose(0, 2, 1), F) - np.eye(3))
    return np.column_stack([
        eps[:, 0, 0], eps[:, 1, 1], eps[:, 2, 2],
        2.0 * eps[:, 1, 2], 2.0 * eps[:, 0, 2], 2.0 * eps[:, 0, 1],
    ])


def _stiffness(cells, temperature_K):
    strains = voigt_strains(cells)
    mean_volume = np.abs(np.linalg.det(cells)).mean()
    compliance = mean_volume / (units.kB * temperature_K) * np.cov(strains, rowvar=False)
    try:
        C = np.linalg.inv(compliance) / units.GPa
    except np.linalg.LinAlgError as exc:
        raise MechanicsError(
            "strain covariance is singular: the cell did not fluctuate in all six components "
            "(fixed-shape or masked barostat?)"
        ) from exc
    return 0.5 * (C + C.T)


def stiffness_from_cell_fluctuations(cells, temperature_K):
    """Stiffness tensor C (6×6 Voigt, GPa) from cell fluctuations at constant stress.

    Parameters
    ----------
    cells : sequence of (3, 3) array_like
        Cells (ASE rows = lattice vectors, Å) sampled along an equilibrated flexible-cell NσT
        trajectory (e.g. ``[a.cell[:] for a in traj]``); at least 10 frames.
    temperature_K : float
        Temperature of the trajectory (K).

    Returns
    -------
    numpy.ndarray, shape (6, 6)
        ``C = S⁻¹`` with ``S = ⟨V⟩/(k_B T) cov(e)`` (module docstring), in GPa.

    Raises
    ------
    MechanicsError
        Bad shapes, non-finite cells, too few frames, or cell components that never fluctuate.
    """
    return _stiffness(_as_cells(cells), _temperature(temperature_K))


def stiffness_error_from_blocks(cells, temperature_K, n_blocks=5):
    """Stiffness and its standard error from ``n_blocks`` contiguous blocks of the trajectory.

    Each block gives its own estimate (own average cell); the error is the standard deviation
    of the block estimates divided by √n_blocks. Blocks must be longer than the correlation
    time of the cell for the error to be honest.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        C from the whole trajectory and its standard error, both (6, 6) in GPa.
    """
    cells = _as_cells(cells)
    temperature_K = _temperature(temperature_K)
    if n_blocks < 2 or len(cells) < n_blocks * _MIN_FRAMES:
        raise MechanicsError(f"{len(cells)} frames are too few for {n_blocks} blocks of >= {_MIN_FRAMES}")
    blocks = np.array_split(cells, n_blocks)
    estimates = np.array([_stiffness(b, temperature_K) for b in blocks])
    return _stiffness(cells, temperature_K), estimates.std(axis=0, ddof=1) / np.sqrt(n_blocks)


def bulk_modulus_from_volume_fluctuations(volumes_A3, temperature_K):
    """Isothermal bulk modulus ``K = k_B T ⟨V⟩ / ⟨δV²⟩`` (GPa) from NPT volume fluctuations.

    Parameters
    ----------
    volumes_A3 : sequence of float
        Volumes (Å³) along an equilibrated NPT (isotropic or flexible-cell) trajectory.
    temperature_K : float
        Temperature (K).
    """
    volumes = np.asarray(volumes_A3, dtype=float)
    temperature_K = _temperature(temperature_K)
    if volumes.ndim != 1 or len(volumes) < _MIN_FRAMES:
        raise MechanicsError(
            f"need a 1-D series of at least {_MIN_FRAMES} volumes, got shape {volumes.shape}"
        )
    if not np.all(np.isfinite(volumes)) or np.any(volumes <= 0):
        raise MechanicsError("volumes must be finite and positive")
    variance = volumes.var(ddof=1)
    if variance == 0:
        raise MechanicsError("the volume never fluctuates: not an NPT trajectory")
    return units.kB * temperature_K * volumes.mean() / variance / units.GPa


@dataclass
class RunningStiffness:
    """Stiffness estimated from the first ``n_frames[k]`` frames, to judge convergence.

    Attributes
    ----------
    n_frames : numpy.ndarray, shape (m,)
    C_GPa : numpy.ndarray, shape (m, 6, 6)
    """

    n_frames: np.ndarray
    C_GPa: np.ndarray

    def plot(self, ax=None, components=((0, 0), (1, 1), (2, 2), (0, 1), (3, 3)), time_per_frame_ps=None):
        """Running estimates of selected ``C_ij`` (0-based Voigt indices) against trajectory length."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        x = self.n_frames if time_per_frame_ps is None else self.n_frames * time_per_frame_ps
        for i, j in components:
            ax.plot(x, self.C_GPa[:, i, j], label=f"C{i + 1}{j + 1}")
        ax.set_xlabel("frames" if time_per_frame_ps is None else "time (ps)")
        ax.set_ylabel("running estimate (GPa)")
        ax.legend()
        return ax


def running_stiffness(cells, temperature_K, n_points=20):
    """Stiffness from growing prefixes of the trajectory (``n_points`` lengths up to all frames)."""
    cells = _as_cells(cells)
    temperature_K = _temperature(temperature_K)
    lengths = np.unique(np.linspace(_MIN_FRAMES, len(cells), n_points).astype(int))
    return RunningStiffness(lengths, np.array([_stiffness(cells[:n], temperature_K) for n in lengths]))
