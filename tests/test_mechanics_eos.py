"""Birch–Murnaghan fits, their uncertainties, P–V region selection, block and model averages."""
import numpy as np
import pytest

from aseml_zif.mechanics import (
    MechanicsError,
    birch_murnaghan_pressure,
    block_average,
    fit_birch_murnaghan,
    format_mean_std,
    mean_std_over_models,
    well_behaved_region,
)

V0, K0, KP = 4600.0, 7.4, 5.5  # Å^3, GPa, dimensionless (ZIF-4-like)
VOLUMES = V0 * np.linspace(0.985, 1.015, 9)


def test_bm_pressure_analytic_properties():
    # P(V0) = 0 and -V dP/dV = K0 at V0, dK/dP = K0' (numerical derivatives)
    assert birch_murnaghan_pressure(V0, V0, K0, KP) == pytest.approx(0.0, abs=1e-12)
    h = 1e-3 * V0

    def K(V):
        return -V * (birch_murnaghan_pressure(V + h, V0, K0, KP)
                     - birch_murnaghan_pressure(V - h, V0, K0, KP)) / (2 * h)

    assert K(V0) == pytest.approx(K0, rel=1e-5)

    dV = 0.01 * V0
    dKdP = (K(V0 - dV) - K(V0 + dV)) / (birch_murnaghan_pressure(V0 - dV, V0, K0, KP)
                                       - birch_murnaghan_pressure(V0 + dV, V0, K0, KP))
    assert dKdP == pytest.approx(KP, rel=1e-3)


@pytest.mark.parametrize("order", [2, 3])
def test_exact_data_recovered(order):
    kp = 4.0 if order == 2 else KP
    fit = fit_birch_murnaghan(VOLUMES, birch_murnaghan_pressure(VOLUMES, V0, K0, kp), order=order)
    assert fit.V0_A3 == pytest.approx(V0, rel=1e-8)
    assert fit.K0_GPa == pytest.approx(K0, rel=1e-6)
    assert fit.K0_prime == pytest.approx(kp, rel=1e-4)
    rho, rho_err = fit.density_g_cm3(mass_amu=2.0 * 6.02214076e23 / 1e24 * V0)  # 2 g/cm3 by construction
    assert rho == pytest.approx(2.0, rel=1e-6) and rho_err < 1e-6


def test_uncertainties_are_honest():
    """Over many noisy data sets, (fit - truth)/error has unit standard deviation."""
    rng = np.random.default_rng(0)
    sigma = np.full(len(VOLUMES), 0.01)  # GPa
    exact = birch_murnaghan_pressure(VOLUMES, V0, K0)
    pulls = []
    for _ in range(300):
        fit = fit_birch_murnaghan(VOLUMES, exact + rng.normal(0, sigma), pressure_errors_GPa=sigma)
        pulls.append([(fit.K0_GPa - K0) / fit.K0_GPa_err, (fit.V0_A3 - V0) / fit.V0_A3_err])
    pulls = np.array(pulls)
    np.testing.assert_allclose(pulls.std(axis=0), 1.0, atol=0.15)
    np.testing.assert_allclose(pulls.mean(axis=0), 0.0, atol=0.2)
    # unweighted: errors from the residual scatter, of the same size as with the true sigma
    noisy = exact + rng.normal(0, sigma)
    ratio = fit_birch_murnaghan(VOLUMES, noisy).K0_GPa_err / fit_birch_murnaghan(
        VOLUMES, noisy, pressure_errors_GPa=sigma).K0_GPa_err
    assert 0.4 < ratio < 1.8


def test_plot_and_bad_input():
    import matplotlib

    matplotlib.use("Agg")
    fit = fit_birch_murnaghan(VOLUMES, birch_murnaghan_pressure(VOLUMES, V0, K0),
                              pressure_errors_GPa=np.full(9, 0.01))
    ax = fit.plot()
    assert any("K0 = 7.40" in t.get_text() for t in ax.get_legend().get_texts())
    with pytest.raises(MechanicsError, match="order"):
        fit_birch_murnaghan(VOLUMES, VOLUMES, order=4)
    with pytest.raises(MechanicsError, match="does not decrease"):
        fit_birch_murnaghan(VOLUMES, np.linspace(-1, 1, 9))
    with pytest.raises(MechanicsError, match="at least 4"):
        fit_birch_murnaghan(VOLUMES[:3], np.array([1.0, 0.0, -1.0]), order=3)
    with pytest.raises(MechanicsError, match="positive"):
        fit_birch_murnaghan(VOLUMES, VOLUMES * 0, pressure_errors_GPa=np.zeros(9))


def test_well_behaved_region_drops_collapse():
    P = birch_murnaghan_pressure(VOLUMES, V0, K0)
    P[:2] = P[2] - [0.05, 0.02]  # the two most compressed states yield: pressure falls
    err = np.full(9, 0.005)
    mask = well_behaved_region(VOLUMES[::-1], P[::-1], err)[::-1]  # input order does not matter
    np.testing.assert_array_equal(mask, [False, False] + [True] * 7)
    assert well_behaved_region(VOLUMES, birch_murnaghan_pressure(VOLUMES, V0, K0)).all()


def test_block_average_error_matches_ar1_theory():
    """AR(1) series x_t = φ x_{t-1} + noise: var(mean) = σ²/N (1+φ)/(1-φ)."""
    rng = np.random.default_rng(1)
    phi, n, m = 0.9, 20_000, 60
    noise = rng.normal(size=(m, n))
    x = np.empty((m, n))
    x[:, 0] = noise[:, 0] / np.sqrt(1 - phi**2)
    for t in range(1, n):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    errors = np.array([block_average(row, 20)[1] for row in x])
    expected = np.sqrt(1 / (1 - phi**2) / n * (1 + phi) / (1 - phi))
    assert np.mean(errors) == pytest.approx(expected, rel=0.15)
    # the naive error (no blocking) would be sqrt(19) times too small
    assert np.mean(errors) > 3 * np.sqrt(1 / (1 - phi**2) / n)
    with pytest.raises(MechanicsError, match="blocks"):
        block_average([1.0, 2.0], 10)


def test_mean_std_over_models():
    models = [{"K_H": k, "G_H": g, "stable": True, "eigenvalues": np.ones(6)}
              for k, g in [(3.0, 1.0), (4.0, 1.5), (5.0, 2.0)]]
    table = mean_std_over_models(models)
    assert set(table) == {"K_H", "G_H"}
    assert table["K_H"] == pytest.approx((4.0, 1.0))
    assert table["G_H"] == pytest.approx((1.5, 0.5))
    assert "K_H = 4.00 ± 1.00" in format_mean_std(table)
    fits = [fit_birch_murnaghan(VOLUMES, birch_murnaghan_pressure(VOLUMES, V0, k)) for k in (7.0, 8.0)]
    assert mean_std_over_models(fits, keys=["K0_GPa"])["K0_GPa"][0] == pytest.approx(7.5)
    with pytest.raises(MechanicsError, match="two models"):
        mean_std_over_models(models[:1])
