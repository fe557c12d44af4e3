"""Run outputs of a potential without stress: NVT runs, their frames carry no stress and
``thermo.csv`` has a NaN pressure (a ``nequip-deploy`` model without a stress output)."""
import csv

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.io import read

from aseml_zif.md import RUN_FILES, Stage, run

# argon, LJ parameters of Rowley et al. (sigma 3.4 Å, epsilon 10.4 meV)
LJ = dict(sigma=3.4, epsilon=0.0104, rc=8.0)
SETTINGS = dict(timestep_fs=2.0, save_every=5, checkpoint_every=10, log_every=5, seed=2,
                progress=False)


class StressListedNotComputedLJ(LennardJones):
    """Lists the stress but never computes it: a deployed model without a stress output."""

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.results.pop("stress", None)


class NoStressLJ(StressListedNotComputedLJ):
    """Lennard-Jones without the stress, as a calculator that says so."""

    implemented_properties = ["energy", "free_energy", "energies", "forces"]


def _argon():
    return bulk("Ar", "fcc", a=5.26, cubic=True).repeat(2)


@pytest.mark.parametrize("calculator", [NoStressLJ, StressListedNotComputedLJ])
def test_nvt_without_stress_logs_nan_pressure(tmp_path, calculator):
    run(_argon(), calculator(**LJ), [Stage("nvt", 0.04, 60.0)], tmp_path, **SETTINGS)
    with open(tmp_path / RUN_FILES["thermo"], newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["step"]) for r in rows] == list(range(0, 21, 5))
    assert all(np.isnan(float(r["pressure_GPa"])) for r in rows)
    assert all(np.isfinite(float(r["potential_energy_eV"])) for r in rows)
    frames = read(tmp_path / RUN_FILES["trajectory"], ":")
    assert len(frames) == 5
    assert "stress" not in frames[-1].calc.results
    assert np.isfinite(frames[-1].get_forces()).all() and abs(frames[-1].get_potential_energy()) > 0.1


def test_same_run_with_stress_logs_a_pressure(tmp_path):
    """The control: with the stress, the same run has a finite pressure in every row."""
    run(_argon(), LennardJones(**LJ), [Stage("nvt", 0.04, 60.0)], tmp_path, **SETTINGS)
    with open(tmp_path / RUN_FILES["thermo"], newline="") as fh:
        pressures = [float(r["pressure_GPa"]) for r in csv.DictReader(fh)]
    assert len(pressures) == 5 and np.isfinite(pressures).all()
    assert "stress" in read(tmp_path / RUN_FILES["trajectory"], -1).calc.results
