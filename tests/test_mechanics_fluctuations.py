"""Strain-fluctuation estimator fed synthetic cells drawn from a known compliance."""
import numpy as np
import pytest
from ase import units
from scipy.spatial.transform import Rotation

from aseml_zif.mechanics import (
    MechanicsError,
    bulk_modulus_from_volume_fluctuations,
    running_stiffness,
    stiffness_error_from_blocks,
    stiffness_from_cell_fluctuations,
    voigt_strains,
)

T = 300.0
# a soft, anisotropic (monoclinic-like) stiffness in GPa, of the order of ZIF-4's
C_TRUE = np.array([
    [8.0, 4.0, 3.5, 0.0, 0.5, 0.0],
    [4.0, 7.0, 3.0, 0.0, 0.0, 0.0],
    [3.5, 3.0, 9.0, 0.0, 0.3, 0.0],
    [0.0, 0.0, 0.0, 1.5, 0.0, 0.2],
    [0.5, 0.0, 0.3, 0.0, 2.0, 0.0],
    [0.0, 0.0, 0.0, 0.2, 0.0, 1.2],
])
# triclinic reference cell (ASE rows), Å
CELL0 = np.array([[15.4, 0.0, 0.0], [1.2, 15.1, 0.0], [-0.8, 0.9, 18.2]])


def synthetic_cells(n, C_GPa=C_TRUE, seed=0, rotation_deg=2.0):
    """Cells whose Lagrangian strains w.r.t. CELL0 are Gaussian with cov = k_B T S / V.

    Each cell is the stretch U = sqrt(I + 2ε) of CELL0 followed by a random rigid rotation,
    which the estimator must ignore.
    """
    rng = np.random.default_rng(seed)
    V = abs(np.linalg.det(CELL0))
    cov = units.kB * T / V * np.linalg.inv(C_GPa * units.GPa)
    e = rng.multivariate_normal(np.zeros(6), cov, size=n)
    eps = np.zeros((n, 3, 3))
    for k, (i, j) in enumerate([(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]):
        factor = 1.0 if i == j else 0.5
        eps[:, i, j] = eps[:, j, i] = factor * e[:, k]
    w, v = np.linalg.eigh(np.eye(3) + 2.0 * eps)
    U = np.einsum("nij,nj,nkj->nik", v, np.sqrt(w), v)
    R = Rotation.from_rotvec(rng.normal(scale=np.radians(rotation_deg), size=(n, 3))).as_matrix()
    F = R @ U
    h0 = CELL0.T
    return np.transpose(F @ h0, (0, 2, 1)), e  # ASE rows: (F h0)^T


def test_voigt_strains_recover_imposed_strains():
    cells, e = synthetic_cells(50, seed=1)
    np.testing.assert_allclose(voigt_strains(cells, reference_cell=CELL0), e, atol=1e-12)
    # default reference: zero mean strain (the frames are randomly rotated)
    np.testing.assert_allclose(voigt_strains(cells).mean(axis=0), 0.0, atol=1e-12)


def test_stiffness_recovered_from_synthetic_fluctuations():
    cells, _ = synthetic_cells(100_000, seed=2)
    C = stiffness_from_cell_fluctuations(cells, T)
    # sampling error of a covariance from 1e5 samples is ~0.5 %
    np.testing.assert_allclose(C, C_TRUE, atol=0.03 * np.abs(C_TRUE).max())
    for i in range(6):
        assert C[i, i] == pytest.approx(C_TRUE[i, i], rel=0.02)


def test_shear_factors_matter():
    """A cubic tensor with C44 != (C11 - C12)/2: a wrong shear factor would give 4x or 1/4 C44."""
    C_cubic = np.zeros((6, 6))
    C_cubic[:3, :3] = 3.0
    C_cubic[[0, 1, 2], [0, 1, 2]] = 10.0
    C_cubic[[3, 4, 5], [3, 4, 5]] = 2.0
    cells, _ = synthetic_cells(50_000, C_GPa=C_cubic, seed=3)
    C = stiffness_from_cell_fluctuations(cells, T)
    np.testing.assert_allclose(np.diag(C)[3:], 2.0, rtol=0.03)
    np.testing.assert_allclose(np.diag(C)[:3], 10.0, rtol=0.03)


def test_block_errors_cover_the_truth():
    cells, _ = synthetic_cells(50_000, seed=4)
    C, err = stiffness_error_from_blocks(cells, T, n_blocks=10)
    pull = (C - C_TRUE)[np.abs(C_TRUE) > 1.0] / err[np.abs(C_TRUE) > 1.0]
    assert np.all(np.abs(pull) < 4.0)
    assert 0.2 < np.sqrt(np.mean(pull**2)) < 2.5  # errors neither tiny nor huge


def test_running_estimate_converges():
    cells, _ = synthetic_cells(20_000, seed=5)
    run = running_stiffness(cells, T, n_points=10)
    assert run.C_GPa.shape == (len(run.n_frames), 6, 6) and run.n_frames[-1] == 20_000
    early = abs(run.C_GPa[0, 0, 0] - C_TRUE[0, 0])
    late = abs(run.C_GPa[-1, 0, 0] - C_TRUE[0, 0])
    assert late < 0.05 * C_TRUE[0, 0] and late < early
    import matplotlib

    matplotlib.use("Agg")
    ax = run.plot(time_per_frame_ps=0.01)
    assert len(ax.lines) == 5


def test_bulk_modulus_from_synthetic_volumes():
    rng = np.random.default_rng(6)
    K, V0 = 7.5, 4000.0  # GPa, Å^3
    volumes = rng.normal(V0, np.sqrt(units.kB * T * V0 / (K * units.GPa)), size=100_000)
    assert bulk_modulus_from_volume_fluctuations(volumes, T) == pytest.approx(K, rel=0.02)


def test_volume_fluctuations_match_tensor_reuss_bulk_modulus():
    """δV/V = tr ε to first order, so k_B T <V>/<δV²> is the Reuss bulk modulus of C."""
    cells, _ = synthetic_cells(50_000, seed=7, rotation_deg=0.0)
    K = bulk_modulus_from_volume_fluctuations(np.abs(np.linalg.det(cells)), T)
    K_R = 1.0 / np.linalg.inv(C_TRUE)[:3, :3].sum()
    assert K == pytest.approx(K_R, rel=0.03)


@pytest.mark.parametrize("cells, match", [
    (np.zeros((5, 3, 3)), "at least 10"),
    (np.zeros((20, 2, 3)), "shape"),
    (np.repeat(CELL0[None], 20, axis=0), "singular"),
])
def test_bad_cell_series(cells, match):
    with pytest.raises(MechanicsError, match=match):
        stiffness_from_cell_fluctuations(cells, T)


def test_bad_temperature_and_volumes():
    cells, _ = synthetic_cells(20, seed=8)
    with pytest.raises(MechanicsError, match="temperature"):
        stiffness_from_cell_fluctuations(cells, 0.0)
    with pytest.raises(MechanicsError, match="never fluctuates"):
        bulk_modulus_from_volume_fluctuations(np.full(20, 100.0), T)
    bad = cells.copy()
    bad[7, 0, 0] = np.nan
    with pytest.raises(MechanicsError, match="frame 7"):
        stiffness_from_cell_fluctuations(bad, T)
