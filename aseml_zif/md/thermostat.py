"""ASE's Nosé–Hoover chain thermostat, stepped ~3x faster with bit-for-bit the same numbers.

ASE 3.29's ``NoseHooverChainThermostat.integrate_nhc`` takes ~0.1 ms per call for 272 atoms
(two calls per MD step), mostly Python overhead on NumPy scalars: per call it evaluates 27
exponentials of which 12 repeat one just computed, and sums the kinetic energy 6 times of
which 2 repeat one of unchanged momenta. :class:`ExactThermostat` does the same floating-point
operations in the same order, on Python floats, computing each repeated value once. NumPy's
``exp`` is kept (``math.exp`` differs from it in the last bit for ~4 % of arguments on CPUs
where NumPy uses its own AVX-512 exponential), and ``x ** 2`` is kept as a power (``x * x``
differs from it in ~0.1 % of cases). ``tests/test_md_thermostat.py`` checks that trajectories
are identical to ASE's, bit for bit.
"""
import numpy as np
from ase.md.nose_hoover_chain import (
    FOURTH_ORDER_COEFFS,
    IsotropicMTKNPT,
    MTKNPT,
    NoseHooverChainNVT,
    NoseHooverChainThermostat,
)

__all__ = ["ExactThermostat", "FastNoseHooverChainNVT", "FastIsotropicMTKNPT", "FastMTKNPT"]


class ExactThermostat(NoseHooverChainThermostat):
    """:class:`ase.md.nose_hoover_chain.NoseHooverChainThermostat` with a faster
    :meth:`integrate_nhc` (same state, same results bit for bit)."""

    def integrate_nhc(self, p, delta):
        """Integrate ``exp(i L_NHC delta)``: update the chain and scale the momenta ``p``
        in place (as ASE's method, which also returns ``p``)."""
        p_eta, q = self._p_eta.tolist(), self._Q.tolist()
        eta = self._eta.tolist()
        kinetic = None  # sum of p² / m for the current p (recomputed after every scaling)
        last = self._tchain - 1
        for _ in range(self._tloop):
            for coeff in FOURTH_ORDER_COEFFS:
                delta_loop = coeff * delta / self._tloop
                delta2, delta4 = delta_loop / 2, delta_loop / 4
                for j in range(last, -1, -1):
                    kinetic = self._chain_momentum(p, p_eta, q, j, delta2, delta4, kinetic)
                for k in range(self._tchain):
                    eta[k] += delta_loop * p_eta[k] / q[k]
                p *= np.exp(-delta_loop * p_eta[0] / q[0])
                kinetic = None
                for j in range(self._tchain):
                    kinetic = self._chain_momentum(p, p_eta, q, j, delta2, delta4, kinetic)
        self._p_eta[:] = p_eta
        self._eta[:] = eta
        return p

    def _chain_momentum(self, p, p_eta, q, j, delta2, delta4, kinetic):
        """ASE's ``_integrate_p_eta_j`` on the list ``p_eta``; return the kinetic sum used."""
        if j < self._tchain - 1:  # the same factor before and after (p_eta[j + 1] is unchanged)
            factor = float(np.exp(-delta4 * p_eta[j + 1] / q[j + 1]))
            p_eta[j] *= factor
        if j == 0:
            if kinetic is None:
                kinetic = self._kinetic_sum(p)
            force = kinetic - 3 * self._num_atoms_global * self._kT
        else:
            force = p_eta[j - 1] ** 2 / q[j - 1] - self._kT
        p_eta[j] += delta2 * force
        if j < self._tchain - 1:
            p_eta[j] *= factor
        return kinetic

    def _kinetic_sum(self, p):
        """ASE's ``np.sum(p**2 / masses)``, in a reused buffer of the same layout (the same sum)."""
        buffer = getattr(self, "_buffer", None)
        if not p.flags.c_contiguous:
            return float(np.sum(p**2 / self._masses))
        if buffer is None or buffer.shape != p.shape:
            buffer = self._buffer = np.empty_like(p)
        np.square(p, out=buffer)
        np.divide(buffer, self._masses, out=buffer)
        return float(buffer.sum())


def _with_exact_thermostat(cls):
    """Subclass of an ASE integrator whose particle thermostat is an :class:`ExactThermostat`."""

    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **kwargs)
        self._thermostat.__class__ = ExactThermostat  # same attributes, faster method

    doc = f"ASE's :class:`ase.md.nose_hoover_chain.{cls.__name__}` with :class:`ExactThermostat`."
    return type(f"Fast{cls.__name__}", (cls,), {"__init__": __init__, "__doc__": doc,
                                                 "__module__": __name__})


FastNoseHooverChainNVT = _with_exact_thermostat(NoseHooverChainNVT)
FastIsotropicMTKNPT = _with_exact_thermostat(IsotropicMTKNPT)
FastMTKNPT = _with_exact_thermostat(MTKNPT)
