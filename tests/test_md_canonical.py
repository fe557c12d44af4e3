"""NVT of :func:`aseml_zif.md.run` (Nosé–Hoover chain) samples the canonical ensemble: on EMT Cu
the mean temperature and the variance of the kinetic energy take their canonical values.

In the canonical ensemble the kinetic energy K of f momentum degrees of freedom is
Gamma-distributed with shape f/2: ⟨K⟩ = f kT/2 and Var(K) = f (kT)²/2. The runner zeroes the
total momentum, which the thermostat conserves, so f = 3N − 3; ASE's chain drives 2K towards
g kT with g = 3N (its dp_η/dt = 2K − g kT averages to zero). Hence ⟨K⟩ = g kT/2 (ASE's
temperature 2K/(3N k) averages to T) and the momenta are canonical at T' = gT/f:
Var(K) = f (kT')²/2 = g² (kT)²/(2f). A velocity-rescaling thermostat gets ⟨T⟩ right but
suppresses the fluctuations: Berendsen (τ = 100 fs) on this system gives Var(K) ≈ 0.3 of it.
"""
import csv

import numpy as np
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT

from aseml_zif.md import Stage, run

TEMPERATURE_K = 300.0


def block_estimates(series, reference_mean, n_blocks=20):
    """Mean and variance (about ``reference_mean``) of a correlated series, each with its
    standard error from the spread of ``n_blocks`` contiguous blocks."""
    blocks = np.array_split(np.asarray(series, dtype=float), n_blocks)
    means = np.array([b.mean() for b in blocks])
    squares = np.array([((b - reference_mean) ** 2).mean() for b in blocks])
    sem = np.sqrt(n_blocks)
    return (means.mean(), means.std(ddof=1) / sem), (squares.mean(), squares.std(ddof=1) / sem)


def canonical_ratios(kinetic_eV, n_atoms, temperature_K):
    """(⟨K⟩, Var K) over their canonical values for a momentum-conserving thermostat with
    g = 3N (module docstring), each as (ratio, standard error of the ratio)."""
    kT = units.kB * temperature_K
    g, f = 3 * n_atoms, 3 * n_atoms - 3
    mean_expected, var_expected = g * kT / 2, g**2 * kT**2 / (2 * f)
    (mean, mean_err), (var, var_err) = block_estimates(kinetic_eV, np.mean(kinetic_eV))
    return ((mean / mean_expected, mean_err / mean_expected),
            (var / var_expected, var_err / var_expected))


def test_nvt_samples_canonical_kinetic_energy(tmp_path):
    """32 Cu atoms, 10 ps at 5 fs with the paper's 100 fs thermostat damping (~15 s)."""
    atoms = bulk("Cu", cubic=True).repeat(2)
    steps = 2000
    run(atoms, EMT(), [Stage("nvt", steps * 5.0e-3, TEMPERATURE_K)], tmp_path, timestep_fs=5.0,
        save_every=steps, checkpoint_every=steps, log_every=2, watchdog=False, seed=3,
        progress=False)
    with open(tmp_path / "thermo.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == steps // 2 + 1
    rows = rows[len(rows) // 10:]  # 1 ps to equilibrate
    kinetic = np.array([float(r["kinetic_energy_eV"]) for r in rows])
    temperature = np.array([float(r["temperature_K"]) for r in rows])
    assert np.allclose(temperature, kinetic / (1.5 * len(atoms) * units.kB))

    (mean, mean_err), (var, var_err) = canonical_ratios(kinetic, len(atoms), TEMPERATURE_K)
    # conclusive (the errors are small enough to tell a wrong ensemble) and consistent
    assert mean_err < 0.03 and var_err < 0.15
    assert abs(mean - 1.0) < 4 * mean_err
    assert abs(var - 1.0) < 4 * var_err
