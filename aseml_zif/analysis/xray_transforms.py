"""The Q → r transform of X-ray total scattering: F(Q) → D(r) with a Lorch window.

D(r) = (2/π) ∫ Q F(Q) L(Q) sin(Qr) dQ with L(Q) = sin(QΔ)/(QΔ), integrated by the trapezoid
rule over the given (possibly non-uniform) Q grid; conventions as in :mod:`.scattering`.
"""
import numpy as np

__all__ = ["differential_correlation"]

#: Lorch width Δ (Å) that reproduces the measured D(r) from the measured F(Q).
GUDRUN_LORCH_WIDTH = 0.08


def _lorch(x, width):
    """Lorch window sin(xΔ)/(xΔ); 1 everywhere when ``width`` is None."""
    if width is None:
        return np.ones_like(x)
    return np.sinc(np.asarray(x) * width / np.pi)  # numpy's sinc(u) = sin(πu)/(πu)


def _integration_weights(x):
    """Trapezoid weights of a (possibly non-uniform) grid."""
    w = np.zeros_like(x, dtype=float)
    dx = np.diff(x)
    w[:-1] += 0.5 * dx
    w[1:] += 0.5 * dx
    return w


def differential_correlation(q, f_q, r, lorch_width=GUDRUN_LORCH_WIDTH):
    """D(r) = (2/π) ∫ Q F(Q) L(Q) sin(Qr) dQ over the given Q grid (trapezoid rule).

    Parameters
    ----------
    q : array_like
        Q grid in Å⁻¹ (e.g. the experiment's).
    f_q : array_like
        F(Q) on that grid (dimensionless, normalised by ⟨f²⟩).
    r : array_like
        Distances in Å.
    lorch_width : float or None
        Lorch width Δ in Å (``π/Q_max`` is the textbook choice; 0.08 Å matches the measured
        files); None for no window.

    Returns
    -------
    numpy.ndarray
        D(r) in Å⁻².
    """
    q, f_q, r = (np.asarray(x, dtype=float) for x in (q, f_q, r))
    integrand = q * f_q * _lorch(q, lorch_width) * _integration_weights(q)
    return 2.0 / np.pi * np.sin(np.outer(r, q)) @ integrand
