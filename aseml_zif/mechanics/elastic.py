"""Analysis of a 6×6 stiffness tensor: Voigt/Reuss/Hill moduli, stability, directional moduli.

This is what ELATE does (R. Gaillac, P. Pullumbi, F.-X. Coudert, J. Phys.: Condens. Matter 28,
275201 (2016)), used in Castel et al., Digital Discovery 3, 355 (2024), Table 3, to turn the
strain-fluctuation stiffness tensors of ZIF-4 glasses into isotropic moduli.

Voigt notation throughout: index order 11, 22, 33, 23, 13, 12; the compliance ``S = C⁻¹`` acts
on engineering shear strains (γ_ij = 2 ε_ij), so ``S44 = 1/C44`` for a cubic crystal.
"""
import numpy as np
from scipy.optimize import minimize

from .errors import MechanicalInstabilityError, MechanicsError

__all__ = [
    "elastic_moduli",
    "compliance_tensor",
    "directional_young_modulus",
    "directional_linear_compressibility",
]

# Voigt index of each pair (i, j) of Cartesian indices
_VOIGT = np.array([[0, 5, 4], [5, 1, 3], [4, 3, 2]])


def _as_stiffness(C_GPa, symmetry_rtol=1e-2):
    C = np.asarray(C_GPa, dtype=float)
    if C.shape != (6, 6):
        raise MechanicsError(f"stiffness tensor must be a 6x6 Voigt matrix, got shape {C.shape}")
    if not np.all(np.isfinite(C)):
        raise MechanicsError("stiffness tensor contains NaN or infinite entries")
    scale = np.abs(C).max()
    if scale == 0.0:
        raise MechanicsError("stiffness tensor is zero")
    asym = np.abs(C - C.T).max()
    if asym > symmetry_rtol * scale:
        raise MechanicsError(
            f"stiffness tensor is not symmetric: max |C_ij - C_ji| = {asym:.3g} GPa "
            f"> {symmetry_rtol:g} x max |C_ij| = {symmetry_rtol * scale:.3g} GPa"
        )
    return 0.5 * (C + C.T)


def compliance_tensor(C_GPa):
    """Fourth-rank compliance tensor ``S_ijkl`` (1/GPa) from a 6×6 Voigt stiffness (GPa).

    The Voigt compliance ``S = C⁻¹`` carries factors 2 (one shear index) and 4 (two shear
    indices) relative to the tensor components; they are divided out here.
    """
    S_voigt = np.linalg.inv(_as_stiffness(C_GPa))
    factor = np.where(np.arange(6) < 3, 1.0, 2.0)
    S_voigt = S_voigt / np.outer(factor, factor)
    return S_voigt[_VOIGT[:, :, None, None], _VOIGT[None, None, :, :]]


def _unit(directions):
    n = np.atleast_2d(np.asarray(directions, dtype=float))
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    if n.shape[1] != 3 or np.any(norm == 0):
        raise MechanicsError("directions must be non-zero 3-vectors")
    return n / norm


def _young(S, n):
    nn = np.einsum("ai,aj->aij", n, n).reshape(len(n), 9)
    return 1.0 / np.einsum("ap,pq,aq->a", nn, S.reshape(9, 9), nn)


def _compressibility(S, n):
    return np.einsum("ak,kl,al->a", n, np.einsum("iikl->kl", S), n)


def directional_young_modulus(C_GPa, directions):
    """Young's modulus ``E(n) = 1 / (S_ijkl n_i n_j n_k n_l)`` (GPa) along each direction ``n``."""
    return _young(compliance_tensor(C_GPa), _unit(directions))


def directional_linear_compressibility(C_GPa, directions):
    """Linear compressibility ``β(n) = S_iikl n_k n_l`` (1/GPa) along each direction ``n``."""
    return _compressibility(compliance_tensor(C_GPa), _unit(directions))


def _sphere_points(n_points):
    """Fibonacci lattice of ``n_points`` unit vectors on the half sphere (z >= 0)."""
    k = np.arange(n_points) + 0.5
    z = k / n_points
    phi = np.pi * (1.0 + 5.0**0.5) * k
    r = np.sqrt(1.0 - z**2)
    return np.column_stack([r * np.cos(phi), r * np.sin(phi), z])


def _extrema(function, n_grid=2000, n_starts=4):
    """Minimum and maximum of ``function(directions)`` over the unit sphere.

    A dense Fibonacci grid locates the basins; each of the best ``n_starts`` grid points is then
    refined by a local optimisation over the spherical angles (as ELATE does).
    """
    grid = _sphere_points(n_grid)
    values = function(grid)

    def angles_to_vector(angles):
        theta, phi = angles
        return np.array([[np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)]])

    results = []
    for sign in (1.0, -1.0):
        best = []
        for start in np.argsort(sign * values)[:n_starts]:
            x, y, z = grid[start]
            x0 = [np.arccos(np.clip(z, -1, 1)), np.arctan2(y, x)]
            res = minimize(lambda a: sign * function(angles_to_vector(a))[0], x0, method="Nelder-Mead",
                           options={"xatol": 1e-8, "fatol": 1e-12})
            best.append(sign * res.fun)
        results.append(min(best) if sign > 0 else max(best))
    return results[0], results[1]


def elastic_moduli(C_GPa, require_stable=True):
    """Isotropic averages, eigenvalues and directional extrema of a stiffness tensor.

    Voigt bounds from C, Reuss bounds from S = C⁻¹, Hill = their mean (R. Hill, Proc. Phys.
    Soc. A 65, 349 (1952))::

        9 K_V  = (C11 + C22 + C33) + 2 (C12 + C23 + C13)
        15 G_V = (C11 + C22 + C33) - (C12 + C23 + C13) + 3 (C44 + C55 + C66)
        1/K_R  = (S11 + S22 + S33) + 2 (S12 + S23 + S13)
        15/G_R = 4 (S11 + S22 + S33) - 4 (S12 + S23 + S13) + 3 (S44 + S55 + S66)
        E_H = 9 K_H G_H / (3 K_H + G_H),  nu_H = (3 K_H - 2 G_H) / (2 (3 K_H + G_H))

    Parameters
    ----------
    C_GPa : array_like, shape (6, 6)
        Stiffness in Voigt notation (GPa); must be symmetric to 1 % of its largest entry
        (it is symmetrised).
    require_stable : bool
        Raise :class:`MechanicalInstabilityError` if an eigenvalue of C is not positive (Born
        criterion). With ``False`` the result carries ``stable=False`` instead; the Reuss and
        directional extrema are then NaN.

    Returns
    -------
    dict
        ``K_V, K_R, K_H, G_V, G_R, G_H, E_H`` (GPa), ``nu_H`` (dimensionless), ``eigenvalues``
        (GPa, ascending), ``stable`` (bool), ``E_min, E_max`` (GPa, directional Young's modulus)
        and ``beta_min, beta_max`` (1/TPa, directional linear compressibility; negative means
        negative linear compressibility).
    """
    C = _as_stiffness(C_GPa)
    eigenvalues = np.linalg.eigvalsh(C)
    stable = bool(eigenvalues[0] > 0.0)
    if require_stable and not stable:
        raise MechanicalInstabilityError(
            f"stiffness tensor is not positive definite (smallest eigenvalue "
            f"{eigenvalues[0]:.4g} GPa): mechanically unstable or unconverged"
        )
    S = np.linalg.inv(C)
    d, o, s = np.arange(3), [(1, 2), (0, 2), (0, 1)], np.arange(3, 6)
    C_diag, C_off, C_shear = C[d, d].sum(), sum(C[i, j] for i, j in o), C[s, s].sum()
    S_diag, S_off, S_shear = S[d, d].sum(), sum(S[i, j] for i, j in o), S[s, s].sum()
    K_V = (C_diag + 2.0 * C_off) / 9.0
    G_V = (C_diag - C_off + 3.0 * C_shear) / 15.0
    K_R = 1.0 / (S_diag + 2.0 * S_off)
    G_R = 15.0 / (4.0 * S_diag - 4.0 * S_off + 3.0 * S_shear)
    K_H, G_H = 0.5 * (K_V + K_R), 0.5 * (G_V + G_R)
    result = {
        "K_V": K_V, "K_R": K_R, "K_H": K_H,
        "G_V": G_V, "G_R": G_R, "G_H": G_H,
        "E_H": 9.0 * K_H * G_H / (3.0 * K_H + G_H),
        "nu_H": (3.0 * K_H - 2.0 * G_H) / (2.0 * (3.0 * K_H + G_H)),
        "eigenvalues": eigenvalues,
        "stable": stable,
    }
    if stable:
        S4 = compliance_tensor(C)
        result["E_min"], result["E_max"] = _extrema(lambda n: _young(S4, n))
        beta_min, beta_max = _extrema(lambda n: _compressibility(S4, n))
        result["beta_min"], result["beta_max"] = 1e3 * beta_min, 1e3 * beta_max
    else:
        result.update(E_min=np.nan, E_max=np.nan, beta_min=np.nan, beta_max=np.nan)
    return result
