"""The faster Nosé–Hoover chain thermostat gives ASE's trajectories bit for bit."""
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.md.nose_hoover_chain import IsotropicMTKNPT, MTKNPT, NoseHooverChainNVT
from ase.md.velocitydistribution import thermalize_momenta

from aseml_zif.md import integrators
from aseml_zif.md.thermostat import FastIsotropicMTKNPT, FastMTKNPT, FastNoseHooverChainNVT

PAIRS = {
    "nvt": (NoseHooverChainNVT, FastNoseHooverChainNVT, {}),
    "npt": (IsotropicMTKNPT, FastIsotropicMTKNPT, dict(pressure_au=0.5 * units.GPa, pdamp=100 * units.fs)),
    "npt_flex": (MTKNPT, FastMTKNPT, dict(pressure_au=0.5 * units.GPa, pdamp=100 * units.fs)),
}


def _copper():
    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.rattle(0.05, seed=0)
    atoms.calc = EMT()
    thermalize_momenta(atoms, 600, rng=np.random.default_rng(0))
    return atoms


def _trajectory(cls, extra, tchain, tloop, retarget):
    atoms = _copper()
    dyn = cls(atoms, 2 * units.fs, temperature_K=300, tdamp=20 * units.fs, tchain=tchain,
              tloop=tloop, **extra)
    states = []
    for step in range(60):
        if retarget and step == 30:
            integrators.set_target_temperature(dyn, 900.0)
        dyn.step()
        th = dyn._thermostat
        states.append(np.concatenate([atoms.positions.ravel(), atoms.get_momenta().ravel(),
                                      atoms.cell[:].ravel(), th._eta, th._p_eta]))
    return np.array(states)


@pytest.mark.parametrize("ensemble", list(PAIRS))
@pytest.mark.parametrize("tchain, tloop, retarget", [(3, 1, False), (3, 1, True), (1, 1, False),
                                                      (5, 2, False)])
def test_trajectory_is_ases_bit_for_bit(ensemble, tchain, tloop, retarget):
    ase_cls, fast_cls, extra = PAIRS[ensemble]
    reference = _trajectory(ase_cls, extra, tchain, tloop, retarget)
    np.testing.assert_array_equal(_trajectory(fast_cls, extra, tchain, tloop, retarget), reference)
    assert np.ptp(reference[:, -2 * tchain:], axis=0).min() > 0  # the chain did move


def test_the_runner_builds_the_fast_integrators():
    from aseml_zif.md import Stage

    atoms = _copper()
    for ensemble, (_, fast_cls, _) in PAIRS.items():
        stage = Stage(ensemble, 1, 300, **({} if ensemble == "nvt" else dict(pressure_GPa=0.1)))
        dyn = integrators.make_integrator(atoms, stage, 1.0, 300.0, np.random.default_rng(0))
        assert type(dyn) is fast_cls


def test_momenta_changed_in_place_between_steps_are_summed_again():
    # the kinetic sum of the last call serves the next only while p keeps its bytes
    finals = []
    for cls in (NoseHooverChainNVT, FastNoseHooverChainNVT):
        atoms = _copper()
        dyn = cls(atoms, 2 * units.fs, temperature_K=300, tdamp=20 * units.fs)
        for step in range(6):
            dyn.step()
            dyn._p *= 1.5  # the same array, other momenta
        finals.append(np.concatenate([atoms.positions.ravel(), dyn._thermostat._p_eta]))
    np.testing.assert_array_equal(finals[1], finals[0])
