"""Birch–Murnaghan equation of state fitted to pressure–volume data (finite strain difference).

Castel et al., Digital Discovery 3, 355 (2024), section 2.4, Table 2 and Fig. S8: the bulk
modulus K0 and equilibrium volume V0 of ZIF-4 models come from NVT runs at volumes within
±1.5 % of V0 and a fit of the Birch–Murnaghan equation (F. Birch, Phys. Rev. 71, 809 (1947)):

    P(V) = 3K0/2 [x^7 − x^5] {1 + 3/4 (K0' − 4)(x^2 − 1)},   x = (V0/V)^(1/3)

(2nd order: K0' = 4, the bracket is 1).
"""
from dataclasses import dataclass, field

import numpy as np
from ase.units import _amu
from scipy.optimize import curve_fit

from .errors import MechanicsError

__all__ = ["birch_murnaghan_pressure", "fit_birch_murnaghan", "BirchMurnaghanFit", "well_behaved_region"]


def birch_murnaghan_pressure(volumes_A3, V0_A3, K0_GPa, K0_prime=4.0):
    """Birch–Murnaghan pressure (GPa) at the given volumes (Å³); K0_prime=4 is the 2nd order."""
    x2 = (V0_A3 / np.asarray(volumes_A3, dtype=float)) ** (2.0 / 3.0)
    return 1.5 * K0_GPa * (x2**3.5 - x2**2.5) * (1.0 + 0.75 * (K0_prime - 4.0) * (x2 - 1.0))


@dataclass
class BirchMurnaghanFit:
    """Result of :func:`fit_birch_murnaghan`; uncertainties are one standard deviation.

    Attributes
    ----------
    order : int
        2 or 3.
    V0_A3, V0_A3_err : float
        Zero-pressure volume (Å³).
    K0_GPa, K0_GPa_err : float
        Zero-pressure bulk modulus (GPa).
    K0_prime, K0_prime_err : float
        Pressure derivative of K0 (dimensionless); fixed to 4 (error 0) at order 2.
    volumes_A3, pressures_GPa, pressure_errors_GPa : numpy.ndarray
        The data fitted (errors None when not given).
    """

    order: int
    V0_A3: float
    V0_A3_err: float
    K0_GPa: float
    K0_GPa_err: float
    K0_prime: float
    K0_prime_err: float
    volumes_A3: np.ndarray = field(repr=False)
    pressures_GPa: np.ndarray = field(repr=False)
    pressure_errors_GPa: np.ndarray = field(default=None, repr=False)

    def pressure_GPa(self, volumes_A3):
        """Fitted pressure (GPa) at ``volumes_A3``."""
        return birch_murnaghan_pressure(volumes_A3, self.V0_A3, self.K0_GPa, self.K0_prime)

    def density_g_cm3(self, mass_amu):
        """Zero-pressure density ρ0 (g/cm³) and its uncertainty for a cell of total mass ``mass_amu``."""
        rho = mass_amu * _amu * 1e3 / (self.V0_A3 * 1e-24)
        return rho, rho * self.V0_A3_err / self.V0_A3

    def plot(self, ax=None, label=None):
        """P–V data with error bars and the fitted curve (as the paper's Fig. S8)."""
        if ax is None:
            import matplotlib.pyplot as plt

            _, ax = plt.subplots()
        points = ax.errorbar(self.volumes_A3, self.pressures_GPa, yerr=self.pressure_errors_GPa,
                             fmt="o", label=label or "MD")
        v = np.linspace(self.volumes_A3.min(), self.volumes_A3.max(), 200)
        ax.plot(v, self.pressure_GPa(v), color=points[0].get_color(),
                label=f"BM{self.order}: K0 = {self.K0_GPa:.2f} ± {self.K0_GPa_err:.2f} GPa")
        ax.set_xlabel("volume (Å$^3$)")
        ax.set_ylabel("pressure (GPa)")
        ax.legend()
        return ax


def fit_birch_murnaghan(volumes_A3, pressures_GPa, order=2, pressure_errors_GPa=None):
    """Fit the 2nd- or 3rd-order Birch–Murnaghan equation of state to P(V) data.

    Parameters
    ----------
    volumes_A3, pressures_GPa : sequence of float
        Volumes (Å³) and time-averaged pressures (GPa), e.g. from
        :func:`~aseml_zif.mechanics.volume_scan`.
    order : {2, 3}
        2 fixes K0' = 4 (fits V0, K0); 3 also fits K0'.
    pressure_errors_GPa : sequence of float, optional
        Standard errors of the pressures: the fit is weighted by them and the parameter
        uncertainties come from the covariance with these absolute errors. Without them the
        covariance is scaled by the residual variance (unweighted least squares).

    Returns
    -------
    BirchMurnaghanFit

    Raises
    ------
    MechanicsError
        Fewer points than parameters + 1, non-finite data, non-positive errors, or a failed fit.
    """
    if order not in (2, 3):
        raise MechanicsError(f"Birch-Murnaghan order must be 2 or 3, got {order}")
    V = np.asarray(volumes_A3, dtype=float)
    P = np.asarray(pressures_GPa, dtype=float)
    if V.ndim != 1 or V.shape != P.shape:
        raise MechanicsError(f"volumes {V.shape} and pressures {P.shape} must be 1-D of equal length")
    if len(V) < order + 1:
        raise MechanicsError(f"order-{order} fit needs at least {order + 1} points, got {len(V)}")
    if not (np.all(np.isfinite(V)) and np.all(np.isfinite(P)) and np.all(V > 0)):
        raise MechanicsError("volumes must be positive and pressures finite")
    sigma = None
    if pressure_errors_GPa is not None:
        sigma = np.asarray(pressure_errors_GPa, dtype=float)
        if sigma.shape != P.shape or not np.all(sigma > 0):
            raise MechanicsError("pressure errors must be positive, one per pressure")
    # starting point from a straight line P = K0 (1 - V/V0) near V0
    slope, intercept = np.polyfit(V, P, 1)
    if slope >= 0:
        raise MechanicsError("pressure does not decrease with volume: no equation of state to fit")
    p0 = [-intercept / slope, -intercept]
    if order == 3:
        p0.append(4.0)

    def model(v, *params):
        return birch_murnaghan_pressure(v, *params)

    try:
        popt, pcov = curve_fit(model, V, P, p0=p0, sigma=sigma, absolute_sigma=sigma is not None,
                               maxfev=20000)
    except (RuntimeError, ValueError) as exc:
        raise MechanicsError(f"Birch-Murnaghan fit failed: {exc}") from exc
    err = np.sqrt(np.diag(pcov))
    return BirchMurnaghanFit(
        order=order, V0_A3=popt[0], V0_A3_err=err[0], K0_GPa=popt[1], K0_GPa_err=err[1],
        K0_prime=popt[2] if order == 3 else 4.0, K0_prime_err=err[2] if order == 3 else 0.0,
        volumes_A3=V, pressures_GPa=P, pressure_errors_GPa=sigma,
    )


def well_behaved_region(volumes_A3, pressures_GPa, pressure_errors_GPa=None, n_sigma=2.0):
    """Mask of the contiguous P–V region around P = 0 where pressure decreases with volume.

    Starting from the point with the smallest ``|P|``, the region grows towards smaller and larger
    volumes while each new point's pressure is lower than its inner neighbour's (larger volume)
    or higher (smaller volume), within ``n_sigma`` combined standard errors. A glass that yields
    (collapses, or its network breaks) under the applied strain stops the region there.

    Returns
    -------
    numpy.ndarray of bool
        Mask over the input points (in input order).
    """
    V = np.asarray(volumes_A3, dtype=float)
    P = np.asarray(pressures_GPa, dtype=float)
    err = np.zeros_like(P) if pressure_errors_GPa is None else np.asarray(pressure_errors_GPa, float)
    order = np.argsort(V)
    V, P, err = V[order], P[order], err[order]
    start = int(np.argmin(np.abs(P)))
    lo = hi = start

    def tol(a, b):
        return n_sigma * np.hypot(err[a], err[b])

    while lo > 0 and P[lo - 1] > P[lo] - tol(lo - 1, lo):
        lo -= 1
    while hi < len(V) - 1 and P[hi + 1] < P[hi] + tol(hi + 1, hi):
        hi += 1
    mask = np.zeros(len(V), dtype=bool)
    mask[order[lo:hi + 1]] = True
    return mask
