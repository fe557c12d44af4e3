"""Physical conformance checks for any ASE calculator, and a pytest mixin that applies them.

Each ``check_*`` function evaluates a calculator on a structure and raises ``AssertionError``
with the measured discrepancy when the calculator violates a law every interatomic potential
must obey:

* forces are minus the gradient of the energy (central finite differences);
* the stress is the strain derivative of the energy divided by the volume (ASE sign and
  Voigt order ``[xx, yy, zz, yz, xz, xy]``);
* energy, forces and stress are invariant (covariant) under rigid translation, rotation and
  atom permutation;
* energy is extensive (a supercell has ``n`` times the energy);
* velocity-Verlet NVE dynamics conserves the total energy.

:class:`CalculatorConformance` runs them as pytest tests, in the spirit of nequip ≥ 0.7's
``nequip.utils.unittests`` model-test mixins. Derivative checks use *directional* derivatives
(one random direction over all atoms, or one random symmetric strain) so that a full check of
all components costs two energy evaluations, which matters for a 3.5 s-per-call potential.
"""
import weakref

import numpy as np
from ase import units

__all__ = [
    "CalculatorConformance",
    "check_forces_are_energy_gradient",
    "check_stress_is_strain_derivative",
    "check_translation_invariance",
    "check_rotation_covariance",
    "check_permutation_invariance",
    "check_extensivity",
    "check_nve_energy_conservation",
    "nve_energy_error_bound",
    "random_rotation",
]


#: per calculator object (weakly held: entries vanish with it), reference results of the last
#: few unperturbed structures: every check starts from the same structure, and a potential may
#: cost seconds per call
_REFERENCES = weakref.WeakKeyDictionary()
_MAX_REFERENCES = 4


def _fingerprint(atoms):
    arrays = (atoms.positions, atoms.numbers, atoms.cell[:], atoms.pbc)
    return tuple(np.ascontiguousarray(a).tobytes() for a in arrays)


def _evaluate(calculator, atoms, stress=False):
    """Energy (eV), forces (eV/Å) and optionally stress (eV/Å³, Voigt) of a copy of ``atoms``.

    Results are memoised per calculator object and structure (a calculator must not change
    its parameters between checks).
    """
    cache = _REFERENCES.setdefault(calculator, {})
    key = _fingerprint(atoms)
    cached = cache.get(key)
    if cached is None or (stress and cached[2] is None):
        atoms = atoms.copy()
        atoms.calc = calculator
        with_stress = stress or "stress" in calculator.implemented_properties
        cached = (atoms.get_potential_energy(), atoms.get_forces(),
                  atoms.get_stress() if with_stress else None)
        if len(cache) >= _MAX_REFERENCES:
            cache.pop(next(iter(cache)))
        cache[key] = cached
    return cached


def _energy(calculator, atoms):
    atoms = atoms.copy()
    atoms.calc = calculator
    return atoms.get_potential_energy()


def _assert_close(name, measured, expected, atol):
    error = float(np.max(np.abs(np.asarray(measured) - np.asarray(expected))))
    assert error <= atol, f"{name}: max deviation {error:.3g} exceeds tolerance {atol:.3g}"


def random_rotation(rng):
    """Uniformly random proper rotation matrix (3×3, det +1) drawn with ``rng``."""
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def _displaced(atoms, direction, step):
    moved = atoms.copy()
    moved.positions = atoms.positions + step * direction
    return moved


def _strained(atoms, strain):
    """Copy of ``atoms`` deformed homogeneously by ``I + strain`` (cell and positions)."""
    deformation = np.eye(3) + strain
    strained = atoms.copy()
    strained.set_cell(atoms.cell[:] @ deformation, scale_atoms=False)
    strained.positions = atoms.positions @ deformation
    return strained


def check_forces_are_energy_gradient(calculator, atoms, step=1e-3, atol=1e-3, n_components=2, seed=0):
    """Forces equal −∂E/∂r by central finite differences.

    Checks the directional derivative along one random unit displacement of all atoms
    (``−dE/dh = Σ F·u``) and ``n_components`` single Cartesian components of random atoms.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
    atoms : ase.Atoms
    step : float
        Finite-difference displacement in Å (truncation error ∝ step²).
    atol : float
        Tolerance in eV/Å on each compared force (component or directional derivative).
    n_components : int
        Number of single force components compared.
    seed : int
        Seed of the random direction and components.
    """
    rng = np.random.default_rng(seed)
    _, forces, _ = _evaluate(calculator, atoms)
    direction = rng.normal(size=atoms.positions.shape)
    direction /= np.linalg.norm(direction)
    derivative = (
        _energy(calculator, _displaced(atoms, direction, step))
        - _energy(calculator, _displaced(atoms, direction, -step))
    ) / (2 * step)
    _assert_close("directional force −dE/dh vs Σ F·u", -derivative, np.sum(forces * direction), atol)
    for _ in range(n_components):
        index, axis = int(rng.integers(len(atoms))), int(rng.integers(3))
        unit = np.zeros_like(atoms.positions)
        unit[index, axis] = 1.0
        fd = -(
            _energy(calculator, _displaced(atoms, unit, step))
            - _energy(calculator, _displaced(atoms, unit, -step))
        ) / (2 * step)
        _assert_close(f"force on atom {index} along {'xyz'[axis]}", fd, forces[index, axis], atol)


def _voigt_to_matrix(voigt):
    xx, yy, zz, yz, xz, xy = voigt
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def check_stress_is_strain_derivative(calculator, atoms, step=1e-4, atol=1e-5, seed=0, split=True):
    """Stress equals (1/V) ∂E/∂ε (ASE sign: positive under tension) by central differences.

    Uses directional derivatives along random symmetric strain directions ``A``:
    ``dE/dh = V Σ_ab σ_ab A_ab`` for the deformation ``I + h A``. With ``split`` two
    directions are checked, one diagonal (``xx, yy, zz``) and one off-diagonal
    (``yz, xz, xy``), 4 energy calls; otherwise one general direction, 2 calls.

    Parameters
    ----------
    step : float
        Strain amplitude (dimensionless).
    atol : float
        Tolerance in eV/Å³ on ``Σ σ_ab A_ab`` (``A`` has unit Frobenius norm).
    split : bool
        Check diagonal and off-diagonal components separately.
    """
    rng = np.random.default_rng(seed)
    _, _, stress = _evaluate(calculator, atoms, stress=True)
    sigma = _voigt_to_matrix(stress)
    volume = atoms.get_volume()
    diagonal = np.diag(rng.normal(size=3))
    off = np.zeros((3, 3))
    off[np.triu_indices(3, 1)] = rng.normal(size=3)
    off = off + off.T
    directions = {"diagonal": diagonal, "off-diagonal": off} if split else {"mixed": diagonal + off}
    for name, shape in directions.items():
        shape = shape / np.linalg.norm(shape)
        derivative = (
            _energy(calculator, _strained(atoms, step * shape))
            - _energy(calculator, _strained(atoms, -step * shape))
        ) / (2 * step * volume)
        _assert_close(f"{name} strain derivative (1/V) dE/dε vs σ:A", derivative, np.sum(sigma * shape), atol)


def check_translation_invariance(calculator, atoms, energy_atol, force_atol, seed=0):
    """A rigid translation (atoms then wrapped into the cell) changes neither E nor F.

    Parameters
    ----------
    energy_atol : float
        Tolerance in eV on the total energy.
    force_atol : float
        Tolerance in eV/Å on every force component.
    """
    rng = np.random.default_rng(seed)
    energy, forces, _ = _evaluate(calculator, atoms)
    moved = atoms.copy()
    moved.positions = atoms.positions + atoms.cell.cartesian_positions(rng.uniform(size=3))
    moved.wrap()
    moved_energy, moved_forces, _ = _evaluate(calculator, moved)
    _assert_close("energy after translation", moved_energy, energy, energy_atol)
    _assert_close("forces after translation", moved_forces, forces, force_atol)


def check_rotation_covariance(calculator, atoms, energy_atol, force_atol, stress_atol, seed=0):
    """Rotating atoms and cell rigidly by ``R`` leaves E, maps F → F Rᵀ and σ → R σ Rᵀ.

    Parameters
    ----------
    stress_atol : float
        Tolerance in eV/Å³ on every stress component.
    """
    rotation = random_rotation(np.random.default_rng(seed))
    energy, forces, stress = _evaluate(calculator, atoms, stress=True)
    turned = atoms.copy()
    turned.set_cell(atoms.cell[:] @ rotation.T, scale_atoms=False)
    turned.positions = atoms.positions @ rotation.T
    t_energy, t_forces, t_stress = _evaluate(calculator, turned, stress=True)
    _assert_close("energy after rotation", t_energy, energy, energy_atol)
    _assert_close("forces after rotation", t_forces, forces @ rotation.T, force_atol)
    sigma = rotation @ _voigt_to_matrix(stress) @ rotation.T
    _assert_close("stress after rotation", _voigt_to_matrix(t_stress), sigma, stress_atol)


def check_permutation_invariance(calculator, atoms, energy_atol, force_atol, seed=0):
    """Reordering the atoms leaves E and permutes forces and per-atom energies alike."""
    order = np.random.default_rng(seed).permutation(len(atoms))
    energy, forces, _ = _evaluate(calculator, atoms)
    p_energy, p_forces, _ = _evaluate(calculator, atoms[order])
    _assert_close("energy after permutation", p_energy, energy, energy_atol)
    _assert_close("forces after permutation", p_forces, forces[order], force_atol)


def check_extensivity(calculator, atoms, reps=(2, 2, 2), rtol=1e-6):
    """E(supercell) = n·E(cell) with ``n = prod(reps)``, to a relative tolerance ``rtol``.

    A periodic potential with a finite cut-off is exactly extensive; ``rtol = 1e-6`` is a few
    float32 rounding units of the per-atom energy.
    """
    n = int(np.prod(reps))
    energy = _energy(calculator, atoms)
    big = _energy(calculator, atoms.repeat(reps))
    error = abs(big / n - energy) / max(abs(energy), 1e-12 * len(atoms))
    assert error <= rtol, (
        f"extensivity: E({'×'.join(map(str, reps))})/{n} = {big / n:.8g} eV vs E = {energy:.8g} eV "
        f"(relative deviation {error:.3g} > {rtol:.3g})"
    )


def nve_energy_error_bound(temperature, timestep, max_frequency, fraction_floor=0.005):
    """Justified bound (eV/atom) on total-energy excursions of velocity-Verlet NVE dynamics.

    Velocity Verlet conserves a shadow Hamiltonian; the true energy oscillates around it with
    a relative amplitude of about ``(ω_max Δt)²/8`` of the kinetic energy ``(3/2) k_B T`` per
    atom (harmonic estimate), with no secular drift when forces are exactly −∇E. The bound
    allows twice that, with a floor of ``fraction_floor`` of the kinetic energy for
    floating-point noise. A force that is not the gradient of the energy, or an energy that is
    not smooth at the cut-off, produces a drift growing with time that exceeds it.

    Parameters
    ----------
    temperature : float
        Initial temperature in K.
    timestep : float
        Time step in ASE time units (e.g. ``0.5 * ase.units.fs``).
    max_frequency : float
        Highest vibrational wavenumber in cm⁻¹ (C–H stretch ≈ 3100 cm⁻¹ in ZIF-4).

    Returns
    -------
    float
        Maximum allowed ``|E_tot(t) − E_tot(0)| / N`` in eV/atom.
    """
    omega = 2 * np.pi * max_frequency * 100 * units._c  # rad/s
    omega_dt = omega * timestep / units.s
    kinetic = 1.5 * units.kB * temperature
    return kinetic * max(2 * omega_dt**2 / 8, fraction_floor)


def check_nve_energy_conservation(
    calculator, atoms, steps=200, timestep=0.5 * units.fs, temperature=300.0, max_frequency=3100.0, seed=0
):
    """Velocity-Verlet NVE run: ``max |E_tot(t) − E_tot(0)| / N`` stays below
    :func:`nve_energy_error_bound`.

    Parameters
    ----------
    steps : int
        Number of MD steps.
    timestep : float
        Time step in ASE units (default 0.5 fs, the paper's MD time step).
    temperature : float
        Maxwell–Boltzmann temperature of the initial velocities in K.
    max_frequency : float
        Highest vibrational wavenumber of the system in cm⁻¹ (sets the bound).
    """
    from ase.md.velocitydistribution import Stationary, thermalize_momenta
    from ase.md.verlet import VelocityVerlet
    from .._progress import progress_bar

    system = atoms.copy()
    system.calc = calculator
    thermalize_momenta(system, temperature_K=temperature, rng=np.random.default_rng(seed))
    Stationary(system)
    totals = []
    dynamics = VelocityVerlet(system, timestep=timestep)
    with progress_bar(total=steps, desc="NVE conformance", leave=False) as bar:

        def record():
            totals.append(system.get_potential_energy() + system.get_kinetic_energy())
            bar.update(1)

        dynamics.attach(record, interval=1)
        dynamics.run(steps)
    excursion = float(np.max(np.abs(np.asarray(totals) - totals[0]))) / len(system)
    bound = nve_energy_error_bound(temperature, timestep, max_frequency)
    assert np.isfinite(excursion) and excursion <= bound, (
        f"NVE energy: max |E_tot(t) − E_tot(0)|/N = {excursion:.3g} eV/atom over {steps} steps "
        f"exceeds the bound {bound:.3g} eV/atom"
    )


class CalculatorConformance:
    """pytest mixin: subclass it in a ``Test*`` class to run every conformance check.

    The subclass provides two fixtures (any scope; session scope saves loading time):

    * ``calculator`` — the ASE calculator under test;
    * ``structure`` — a periodic :class:`ase.Atoms` (parametrise it to test several).

    and may override the tolerances below (defaults suit float64 models; float32 models need
    about ``force_atol = 2e-2``, ``stress_atol = 1e-4``, ``energy_atol_per_atom = 1e-5``).
    Expensive tests can be re-declared in the subclass with a mark, e.g.::

        @pytest.mark.slow
        def test_nve_energy_conservation(self, calculator, structure):
            super().test_nve_energy_conservation(calculator, structure)
    """

    #: finite-difference displacement in Å
    displacement = 1e-3
    #: finite-difference strain amplitude
    strain_step = 1e-4
    #: tolerance on forces, eV/Å
    force_atol = 1e-3
    #: tolerance on stress, eV/Å³
    stress_atol = 1e-5
    #: tolerance on energies, eV per atom
    energy_atol_per_atom = 1e-7
    #: number of single force components checked by finite differences
    force_components = 2
    #: check diagonal and off-diagonal strains separately (4 calls) rather than mixed (2 calls)
    stress_split_directions = True
    #: supercell of the extensivity check and its relative tolerance
    supercell_reps = (2, 2, 2)
    extensivity_rtol = 1e-6
    #: NVE run: number of steps, time step (ASE units), temperature (K), highest mode (cm⁻¹)
    nve_steps = 200
    nve_timestep = 0.5 * units.fs
    nve_temperature = 300.0
    nve_max_frequency = 3100.0

    def test_forces_are_energy_gradient(self, calculator, structure):
        check_forces_are_energy_gradient(
            calculator, structure, self.displacement, self.force_atol, self.force_components
        )

    def test_stress_is_strain_derivative(self, calculator, structure):
        check_stress_is_strain_derivative(
            calculator, structure, self.strain_step, self.stress_atol, split=self.stress_split_directions
        )

    def test_translation_invariance(self, calculator, structure):
        check_translation_invariance(
            calculator, structure, self.energy_atol_per_atom * len(structure), self.force_atol
        )

    def test_rotation_covariance(self, calculator, structure):
        check_rotation_covariance(
            calculator,
            structure,
            self.energy_atol_per_atom * len(structure),
            self.force_atol,
            self.stress_atol,
        )

    def test_permutation_invariance(self, calculator, structure):
        check_permutation_invariance(
            calculator, structure, self.energy_atol_per_atom * len(structure), self.force_atol
        )

    def test_extensivity(self, calculator, structure):
        check_extensivity(calculator, structure, self.supercell_reps, self.extensivity_rtol)

    def test_nve_energy_conservation(self, calculator, structure):
        check_nve_energy_conservation(
            calculator,
            structure,
            self.nve_steps,
            self.nve_timestep,
            self.nve_temperature,
            self.nve_max_frequency,
        )
