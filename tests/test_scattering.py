"""X-ray F(Q) and D(r): sum rules, ideal gas, readers, and the measured ZIF-4 data."""
import json

import matplotlib
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from scipy.signal import find_peaks

from aseml_zif.analysis.scattering import (
    GUDRUN_LORCH_WIDTH,
    DataFileError,
    XRayScattering,
    differential_correlation,
    r_w,
    read_dofr,
    read_int01,
    xray_form_factor,
)
from aseml_zif.errors import AsemlZifError, StructureError

matplotlib.use("Agg")

ZIF_PEAKS = (1.36, 2.0, 3.0, 4.2, 6.0)  # Å: C-C/C-N, Zn-N, Zn-C, Zn-N(2nd), Zn-Zn


@pytest.fixture(scope="module")
def experiment(shared_dir):
    def load(temperature_c):
        stem = shared_dir / "experiment" / f"ZIF4glassa_{temperature_c}"
        return read_int01(stem.with_suffix(".int01")), read_dofr(stem.with_suffix(".dofr"))

    return load


def peak_positions(r, d, prominence=0.1):
    return r[find_peaks(d, prominence=prominence)[0]]


def assert_peaks_near(found, expected=ZIF_PEAKS, tol=0.15):
    for target in expected:
        assert np.min(np.abs(found - target)) < tol, f"no D(r) peak within {tol} Å of {target} Å: {found}"


def test_form_factors_at_zero_q_count_electrons_and_decay():
    q = np.linspace(0, 25, 101)
    for symbol, z in [("H", 1), ("C", 6), ("N", 7), ("Zn", 30)]:
        f = xray_form_factor(symbol, q)
        assert f[0] == pytest.approx(z, abs=0.02)
        assert np.all(np.diff(f) < 0)
    assert xray_form_factor("H", 4 * np.pi * 1.0) < 0.1  # s = 1/Å: the lone electron is gone
    with pytest.raises(StructureError, match="'Cu'.*available: H, C, N, Zn"):
        xray_form_factor("Cu", 1.0)


def test_ideal_gas_structure_factor_vanishes():
    rng = np.random.default_rng(0)
    symbols = ["Zn"] * 60 + ["N"] * 240 + ["C"] * 350 + ["H"] * 350  # ZIF-4 fractions
    frames = [Atoms(symbols, scaled_positions=rng.random((1000, 3)), cell=np.eye(3) * 25.0, pbc=True)
              for _ in range(2)]
    q = np.arange(1.0, 24.0, 0.025)
    f_gas = XRayScattering(r_max=12.0).compute(frames).structure_factor(q)
    zif_like = XRayScattering(r_max=12.0).compute(bulk("ZnN", "rocksalt", a=4.6, cubic=True).repeat(3))
    assert np.sqrt(np.mean(f_gas**2)) < 0.02
    assert np.sqrt(np.mean(zif_like.structure_factor(q) ** 2)) > 10 * np.sqrt(np.mean(f_gas**2))


@pytest.mark.parametrize("formula, lattice, a", [("Zn", "fcc", 4.2), ("ZnN", "rocksalt", 4.6)])
def test_low_r_slope_of_d_is_minus_4_pi_rho_f_mean_squared_over_f_squared_mean(formula, lattice, a):
    """Sum rule D(r) = −4πρ₀ (⟨f⟩²/⟨f²⟩) r below the first neighbour, after r -> Q -> r."""
    rng = np.random.default_rng(1)
    base = bulk(formula, lattice, a=a, cubic=True).repeat(4)
    frames = []
    for _ in range(2):
        atoms = base.copy()
        atoms.positions += rng.normal(scale=0.15, size=atoms.positions.shape)
        frames.append(atoms)
    xs = XRayScattering(r_max=8.0, r_window=False, lorch_width=np.pi / 60,
                        q_dependent_form_factors=False).compute(frames)
    z = np.array([30.0, 7.0]) if formula == "ZnN" else np.array([30.0])
    f0 = np.array([xray_form_factor(s, 0.0) for s in ("Zn", "N")[: z.size]])
    expected = -4 * np.pi * xs.number_density * f0.mean() ** 2 / np.mean(f0**2)
    r = np.arange(0.3, 1.6, 0.02)
    d = xs.differential_correlation(r, np.arange(0.005, 60.0, 0.01))
    slope, intercept = np.polyfit(r, d, 1)
    assert slope == pytest.approx(expected, rel=0.005)
    assert abs(intercept) < 0.005


def test_readers_and_the_gudrun_transform_convention(experiment):
    fq, dr = experiment(31)
    assert fq.q[0] == pytest.approx(0.6125) and fq.q[-1] == pytest.approx(23.96228)
    assert len(fq.q) == 935 and np.all(fq.error > 0)  # the zero padding is dropped
    assert dr.r[0] == 0.0 and dr.r[-1] == 40.0 and len(dr.r) == 2001
    # third column of .dofr is sqrt(max(D, 0)), not an error bar
    np.testing.assert_allclose(dr.sqrt_d, np.sqrt(np.clip(dr.d, 0, None)), atol=1e-5)
    # our D(r) of the measured F(Q) reproduces the measured D(r): same convention and scale
    sel = (dr.r > 0.5) & (dr.r < 20)
    ours = differential_correlation(fq.q, fq.f, dr.r[sel], GUDRUN_LORCH_WIDTH)
    assert r_w(ours, dr.d[sel]) < 0.2
    assert r_w(2 * ours, dr.d[sel]) > 0.5
    assert_peaks_near(peak_positions(dr.r[sel], dr.d[sel]))


def test_reader_errors(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        read_int01(tmp_path / "missing.int01")
    bad = tmp_path / "bad.dofr"
    bad.write_text("# header\n1.0 2.0\n3.0 4.0\n")
    with pytest.raises(DataFileError, match="3 columns"):
        read_dofr(bad)
    with pytest.raises(DataFileError, match="expected a .int01"):
        read_int01(bad)
    garbage = tmp_path / "x.int01"
    garbage.write_text("a b c\n")
    with pytest.raises(DataFileError, match="not a table"):
        read_int01(garbage)


def test_r_w_definition():
    y = np.array([1.0, -2.0, 3.0])
    assert r_w(y, y) == 0.0
    assert r_w(np.zeros(3), y) == pytest.approx(1.0)
    assert r_w(y + [0.1, 0.0, 0.0], y, error=[0.1, 1.0, 1.0]) == pytest.approx(np.sqrt(1 / (100 + 4 + 9)))
    with pytest.raises(AsemlZifError, match="one grid"):
        r_w(y, y[:2])


def test_crystal_and_glasses_against_measurements(crystal_lmp, glasses, experiment):
    crystal = XRayScattering(r_max=15.0).compute(crystal_lmp)
    glass = XRayScattering(r_max=15.0).compute(glasses)
    fq31, dr31 = experiment(31)
    r = dr31.r[(dr31.r > 0.5) & (dr31.r < 8.0)]
    for model in (crystal, glass):
        assert_peaks_near(peak_positions(r, model.differential_correlation(r, fq31.q)))
    # the amorphous measurement (403 °C) is closer to the ab initio glasses than to the crystal
    fq, dr = experiment(403)
    crystal_fit, glass_fit = crystal.agreement(fq, dr), glass.agreement(fq, dr)
    assert glass_fit["r_w_fq"] < crystal_fit["r_w_fq"]
    assert glass_fit["r_w_dr"] < crystal_fit["r_w_dr"]
    axes = glass.plot(fq, dr)
    assert len(axes) == 2 and axes[1].get_xlabel() == "r (Å)"
    data = json.loads(json.dumps(glass.to_dict(q=fq.q[:5])))
    assert set(data["partial_rdfs"]) == {"H-H", "H-C", "H-N", "H-Zn", "C-C", "C-N", "C-Zn", "N-N",
                                          "N-Zn", "Zn-Zn"}
    assert sum(data["concentrations"].values()) == pytest.approx(1.0)


def test_structure_errors():
    cell = np.eye(3) * 10
    with pytest.raises(StructureError, match="'Cu'"):
        XRayScattering(r_max=5.0).compute(Atoms("Cu", cell=cell, pbc=True))
    frames = [Atoms("ZnN", positions=[[0, 0, 0], [2, 0, 0]], cell=cell, pbc=True),
              Atoms("ZnN2", positions=[[0, 0, 0], [2, 0, 0], [0, 2, 0]], cell=cell, pbc=True)]
    with pytest.raises(StructureError, match="frame 1: composition"):
        XRayScattering(r_max=5.0).compute(frames)
    with pytest.raises(AsemlZifError):
        XRayScattering(r_max=1.0, dr=2.0)


def test_broadening_equals_averaging_over_random_thermal_displacements():
    """Debye–Waller: a static lattice with u = 0.1 Å ≈ snapshots with 0.1 Å Gaussian noise."""
    rng = np.random.default_rng(3)
    lattice = bulk("ZnN", "rocksalt", a=4.6, cubic=True).repeat(3)
    snapshots = []
    for _ in range(6):
        atoms = lattice.copy()
        atoms.positions += rng.normal(scale=0.1, size=atoms.positions.shape)
        snapshots.append(atoms)
    q = np.arange(1.0, 24.0, 0.025)
    thermal = XRayScattering(r_max=8.0).compute(snapshots).structure_factor(q)
    broadened = XRayScattering(r_max=8.0, broadening=0.1).compute(lattice).structure_factor(q)
    static = XRayScattering(r_max=8.0).compute(lattice).structure_factor(q)
    assert r_w(broadened, thermal) < 0.05
    assert r_w(static, thermal) > 0.3
