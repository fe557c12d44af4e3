"""ASE's Nosé–Hoover chain thermostat, stepped ~4x faster with bit-for-bit the same numbers.

ASE 3.29's ``NoseHooverChainThermostat.integrate_nhc`` takes ~0.1 ms per call for 272 atoms
(two calls per MD step), mostly Python overhead on NumPy scalars: per call it evaluates 27
exponentials of which 18 repeat one already computed, and sums the kinetic energy 6 times of
which 2 repeat one of unchanged momenta, each sum dividing by masses broadcast along the three
components (a slow NumPy loop). :class:`ExactThermostat` does the same floating-point
operations in the same order, on Python floats, computing each repeated value once and dividing
by the masses repeated in a full array (the same divisions). NumPy's ``exp`` is kept
(``math.exp`` differs from it in the last bit for ~4 % of arguments on CPUs where NumPy uses its
own AVX-512 exponential), and ``x ** 2`` is kept as a power (``x * x`` differs from it in ~0.1 %
of cases). The NVT integrator's position and momentum updates are ASE's operations too, in
reused buffers. ``tests/test_md_thermostat.py`` checks that trajectories are identical to
ASE's, bit for bit.
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
        in place (as ASE's method, which also returns ``p``).

        Each Suzuki–Yoshida sub-step updates the chain from its end to its start, scales
        ``p``, then updates it from its start to its end. Thermostat ``j`` is scaled before
        and after its update by ``exp(-δ/4 · p_eta[j+1] / Q[j+1])``; ``p_eta[j+1]`` does not
        change between the two passes, so the factors of the first pass serve the second.
        The kinetic sum of ``p`` at the end of a call serves the start of the next one while
        ``p`` is the same array with the same bytes (from the end of one MD step to the start
        of the next).
        """
        p_eta, q = self._p_eta.tolist(), self._Q.tolist()
        eta = self._eta.tolist()
        kT = self._kT
        particle_kT = 3 * self._num_atoms_global * kT
        last = self._tchain - 1
        factors = [0.0] * last
        kinetic_sum, exp = self._kinetic_function(p), np.exp
        cached = self._last_kinetic
        if (cached is not None and cached[0] is p and cached[1] is self._masses
                and cached[2] == p.tobytes()):
            kinetic = cached[3]
        else:
            kinetic = kinetic_sum(p)  # sum of p² / m of the current p
        for _ in range(self._tloop):
            for coeff in FOURTH_ORDER_COEFFS:
                delta_loop = coeff * delta / self._tloop
                delta2, delta4 = delta_loop / 2, delta_loop / 4
                for j in range(last, -1, -1):
                    force = kinetic - particle_kT if j == 0 else p_eta[j - 1] ** 2 / q[j - 1] - kT
                    if j < last:
                        factor = factors[j] = float(exp(-delta4 * p_eta[j + 1] / q[j + 1]))
                        p_eta[j] = (p_eta[j] * factor + delta2 * force) * factor
                    else:
                        p_eta[j] += delta2 * force
                for k in range(last + 1):
                    eta[k] += delta_loop * p_eta[k] / q[k]
                p *= exp(-delta_loop * p_eta[0] / q[0])
                kinetic = kinetic_sum(p)
                for j in range(last + 1):
                    force = kinetic - particle_kT if j == 0 else p_eta[j - 1] ** 2 / q[j - 1] - kT
                    if j < last:
                        p_eta[j] = (p_eta[j] * factors[j] + delta2 * force) * factors[j]
                    else:
                        p_eta[j] += delta2 * force
        self._p_eta[:] = p_eta
        self._eta[:] = eta
        self._last_kinetic = (p, self._masses, p.tobytes(), kinetic)
        return p

    #: the momenta, masses and bytes of the momenta of the last kinetic sum, and the sum
    _last_kinetic = None

    def _kinetic_function(self, p):
        """ASE's ``np.sum(p**2 / masses)`` as a function of ``p``: the same element-wise
        operations and sum, in a reused buffer, dividing by the masses repeated along the three
        components (a broadcast division is several times slower). The repeated masses are
        remade when ``_masses`` is another array (ASE never changes it in place)."""
        if not p.flags.c_contiguous:
            return lambda p: float(np.sum(p**2 / self._masses))
        cached = getattr(self, "_kinetic_buffers", None)
        if cached is None or cached[0] is not self._masses or cached[1].shape != p.shape:
            masses = np.ascontiguousarray(np.broadcast_to(self._masses, p.shape))
            buffer = np.empty_like(p)
            square, divide, add = np.square, np.divide, np.add.reduce

            def kinetic_sum(p):
                # buffer.sum() without its Python wrapper
                return float(add(divide(square(p, buffer), masses, buffer), None))

            cached = self._kinetic_buffers = (self._masses, buffer, kinetic_sum)
        return cached[2]


class _ExactNVTUpdates:
    """ASE's position and momentum updates of ``NoseHooverChainNVT`` (``q += δ p / m``,
    ``p += δ F``): the same operations, in reused buffers, dividing by the masses repeated
    along the three components."""

    def _buffers(self):
        cached = getattr(self, "_update_buffers", None)
        if cached is None or cached[0] is not self.masses or cached[1].shape != self._p.shape:
            cached = self._update_buffers = (
                self.masses, np.empty_like(self._p),
                np.ascontiguousarray(np.broadcast_to(self.masses, self._p.shape)))
        return cached[1], cached[2]

    def _integrate_q(self, delta):
        """Integrate ``exp(i L_1 delta)``."""
        buffer, masses = self._buffers()
        np.multiply(delta, self._p, out=buffer)
        np.divide(buffer, masses, out=buffer)
        self._q += buffer

    def _integrate_p(self, delta):
        """Integrate ``exp(i L_2 delta)``."""
        forces = self._get_forces()
        buffer, _ = self._buffers()
        if forces.dtype != buffer.dtype:  # in the forces' precision, as ASE computes it
            self._p += delta * forces
            return
        np.multiply(delta, forces, out=buffer)
        self._p += buffer


def _with_exact_thermostat(cls, *mixins):
    """Subclass of an ASE integrator whose particle thermostat is an :class:`ExactThermostat`."""

    def __init__(self, *args, **kwargs):
        cls.__init__(self, *args, **kwargs)
        self._thermostat.__class__ = ExactThermostat  # same attributes, faster method

    doc = f"ASE's :class:`ase.md.nose_hoover_chain.{cls.__name__}` with :class:`ExactThermostat`."
    return type(f"Fast{cls.__name__}", (*mixins, cls), {"__init__": __init__, "__doc__": doc,
                                                         "__module__": __name__})


FastNoseHooverChainNVT = _with_exact_thermostat(NoseHooverChainNVT, _ExactNVTUpdates)
FastIsotropicMTKNPT = _with_exact_thermostat(IsotropicMTKNPT)
FastMTKNPT = _with_exact_thermostat(MTKNPT)
