"""Voigt/Reuss/Hill averages, stability and directional moduli against hand-computed values."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from aseml_zif.errors import AsemlZifError
from aseml_zif.mechanics import (
    MechanicalInstabilityError,
    MechanicsError,
    compliance_tensor,
    directional_linear_compressibility,
    directional_young_modulus,
    elastic_moduli,
)
from aseml_zif.mechanics.elastic import _VOIGT


def cubic(c11, c12, c44):
    C = np.zeros((6, 6))
    C[:3, :3] = c12
    C[[0, 1, 2], [0, 1, 2]] = c11
    C[[3, 4, 5], [3, 4, 5]] = c44
    return C


ORTHO = np.array([
    [10.0, 4.0, 3.0, 0, 0, 0],
    [4.0, 8.0, 2.5, 0, 0, 0],
    [3.0, 2.5, 12.0, 0, 0, 0],
    [0, 0, 0, 2.0, 0, 0],
    [0, 0, 0, 0, 1.5, 0],
    [0, 0, 0, 0, 0, 3.0],
])


def rotate(C, R):
    """Voigt stiffness of the crystal rotated by R (via the full 4th-rank tensor)."""
    full = C[_VOIGT[:, :, None, None], _VOIGT[None, None, :, :]]
    rotated = np.einsum("ai,bj,ck,dl,ijkl->abcd", R, R, R, R, full)
    pairs = [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)]
    return np.array([[rotated[i, j, k, l] for k, l in pairs] for i, j in pairs])


def test_cubic_hand_computed():
    # C11 = 200, C12 = 100, C44 = 80 GPa
    m = elastic_moduli(cubic(200.0, 100.0, 80.0))
    assert m["K_V"] == pytest.approx(400.0 / 3.0)
    assert m["K_R"] == pytest.approx(400.0 / 3.0)
    assert m["G_V"] == pytest.approx((100.0 + 240.0) / 5.0)  # (C11 - C12 + 3 C44) / 5 = 68
    assert m["G_R"] == pytest.approx(5 * 100.0 * 80.0 / (4 * 80.0 + 3 * 100.0))  # 64.516
    G_H = 0.5 * (68.0 + 40000.0 / 620.0)
    K = 400.0 / 3.0
    assert m["G_H"] == pytest.approx(G_H)
    assert m["E_H"] == pytest.approx(9 * K * G_H / (3 * K + G_H))
    assert m["nu_H"] == pytest.approx((3 * K - 2 * G_H) / (2 * (3 * K + G_H)))
    # eigenvalues: C11 + 2 C12 = 400, C11 - C12 = 100 (x2), C44 = 80 (x3)
    np.testing.assert_allclose(m["eigenvalues"], [80, 80, 80, 100, 100, 400])
    # E[100] = 1/S11 = 133.3 GPa (minimum), E[111] = 200 GPa (maximum) for this anisotropy
    assert m["E_min"] == pytest.approx(400.0 / 3.0, rel=1e-6)
    assert m["E_max"] == pytest.approx(200.0, rel=1e-6)
    # cubic linear compressibility is isotropic: 1/(3K) = 2.5 /TPa
    assert m["beta_min"] == pytest.approx(2.5, rel=1e-6)
    assert m["beta_max"] == pytest.approx(2.5, rel=1e-6)
    assert directional_young_modulus(cubic(200.0, 100.0, 80.0), [1, 1, 1])[0] == pytest.approx(200.0)


def test_isotropic_tensor_gives_its_lame_moduli():
    K, G = 100.0, 50.0
    C = cubic(K + 4 * G / 3, K - 2 * G / 3, G)
    m = elastic_moduli(C)
    for key in ("K_V", "K_R", "K_H"):
        assert m[key] == pytest.approx(K)
    for key in ("G_V", "G_R", "G_H"):
        assert m[key] == pytest.approx(G)
    assert m["E_H"] == pytest.approx(45000.0 / 350.0)
    assert m["nu_H"] == pytest.approx(2.0 / 7.0)
    assert m["E_min"] == pytest.approx(m["E_max"], rel=1e-6)


def test_orthorhombic_hand_computed_voigt_and_reuss():
    m = elastic_moduli(ORTHO)
    # Voigt, written out: diag 30, off-diagonal 9.5, shear 6.5
    assert m["K_V"] == pytest.approx((30.0 + 2 * 9.5) / 9.0)
    assert m["G_V"] == pytest.approx((30.0 - 9.5 + 3 * 6.5) / 15.0)
    # Reuss bulk modulus = response to a hydrostatic stress: K_R = p / (e1 + e2 + e3)
    strain = np.linalg.solve(ORTHO, [1.0, 1, 1, 0, 0, 0])
    assert m["K_R"] == pytest.approx(1.0 / strain[:3].sum())
    # Reuss shear modulus from the invariants of the 4th-rank compliance:
    # 1/G_R = (2/5) (S_ijij - S_iijj / 3)
    S = compliance_tensor(ORTHO)
    inv_G_R = 0.4 * (np.einsum("ijij", S) - np.einsum("iijj", S) / 3.0)
    assert m["G_R"] == pytest.approx(1.0 / inv_G_R)
    assert m["K_R"] < m["K_H"] < m["K_V"]
    assert m["G_R"] < m["G_H"] < m["G_V"]
    # uniaxial stress along x: E_x = 1 / S11, inside [E_min, E_max]
    E_x = 1.0 / np.linalg.inv(ORTHO)[0, 0]
    assert directional_young_modulus(ORTHO, [[2.0, 0, 0]])[0] == pytest.approx(E_x)
    assert m["E_min"] <= E_x <= m["E_max"]
    # linear compressibility along x under hydrostatic stress = strain e1 per unit pressure
    assert directional_linear_compressibility(ORTHO, [1, 0, 0])[0] == pytest.approx(strain[0])
    assert m["beta_min"] <= 1e3 * strain[:3].min() + 1e-9
    assert m["beta_max"] >= 1e3 * strain[:3].max() - 1e-9


def test_averages_and_extrema_are_rotation_invariant():
    R = Rotation.from_euler("zyx", [0.3, -0.7, 1.1]).as_matrix()
    a, b = elastic_moduli(ORTHO), elastic_moduli(rotate(ORTHO, R))
    for key in ("K_V", "K_R", "G_V", "G_R", "E_H", "nu_H", "E_min", "E_max", "beta_min", "beta_max"):
        assert b[key] == pytest.approx(a[key], rel=1e-5), key
    # Voigt-matrix eigenvalues are not rotation invariant, but their sign (stability) is
    assert a["stable"] and b["stable"] and b["eigenvalues"][0] > 0


def test_unstable_tensor_raises_or_flags():
    C = cubic(100.0, 120.0, 30.0)  # C11 - C12 < 0: violates the Born criterion
    with pytest.raises(MechanicalInstabilityError, match="not positive definite"):
        elastic_moduli(C)
    m = elastic_moduli(C, require_stable=False)
    assert m["stable"] is False and m["eigenvalues"][0] < 0 and np.isnan(m["E_min"])


@pytest.mark.parametrize("bad, match", [
    (np.eye(3), "6x6"),
    (np.full((6, 6), np.nan), "NaN"),
    (cubic(200.0, 100.0, 80.0) + np.triu(np.ones((6, 6)), 1) * 20, "not symmetric"),
])
def test_bad_tensors_raise_package_errors(bad, match):
    with pytest.raises(MechanicsError, match=match) as info:
        elastic_moduli(bad)
    assert isinstance(info.value, AsemlZifError)
