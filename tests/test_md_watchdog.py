"""The MD watchdog: a linker pulled apart, atoms collapsing, NaN forces, runaway heating."""
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.io import read

from aseml_zif.analysis import find_linkers
from aseml_zif.errors import AsemlZifError
from aseml_zif.md import RUN_FILES, Stage, Watchdog, WatchdogError, run
from aseml_zif.md.checkpoint import read_checkpoint
from aseml_zif.structures import zif4_crystal


class PullApart(Calculator):
    """Constant force ``force`` (eV/Å) pushing atoms ``a`` and ``b`` apart; nothing else.

    Energy ``E = -force * |r_b - r_a|`` (minimum image), a cheap way to tear one bond.
    """

    implemented_properties = ["energy", "free_energy", "forces"]

    def __init__(self, a, b, force):
        super().__init__()
        self.a, self.b, self.force = a, b, force

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes):
        super().calculate(atoms, properties, system_changes)
        d = self.atoms.get_distance(self.a, self.b, mic=True, vector=True)
        r = np.linalg.norm(d)
        forces = np.zeros((len(self.atoms), 3))
        forces[self.b] = self.force * d / r
        forces[self.a] = -forces[self.b]
        self.results = {"energy": -self.force * r, "free_energy": -self.force * r,
                        "forces": forces}


def _cn_bond(atoms):
    """One C–N bond of an intact imidazolate."""
    members = find_linkers(atoms).linkers[0]
    symbols = atoms.get_chemical_symbols()
    for a in members:
        for b in members:
            if symbols[a] == "C" and symbols[b] == "N" and atoms.get_distance(a, b, mic=True) < 1.5:
                return int(a), int(b)
    raise AssertionError("no C–N bond found")


def test_linker_torn_apart_stops_the_run_with_a_clear_message(tmp_path):
    crystal = zif4_crystal()
    assert len(find_linkers(crystal).broken) == 0
    a, b = _cn_bond(crystal)
    stages = [Stage("nvt", 0.2, 10.0)]
    with pytest.raises(WatchdogError) as info:
        run(crystal, PullApart(a, b, force=5.0), stages, tmp_path, timestep_fs=0.5,
            save_every=5, checkpoint_every=10, watchdog=Watchdog(every=2), seed=0,
            progress=False)
    err = info.value
    assert isinstance(err, AsemlZifError)
    print("watchdog stopped at step", err.step)
    assert 0 < err.step < 60 and err.step % 2 == 0
    message = str(err)
    assert f"step {err.step}" in message and "T = " in message and "stage 'nvt'" in message
    assert "broken linker" in message and str(a) in message and str(b) in message
    snap = read(tmp_path / RUN_FILES["snapshot"])
    assert snap.info["step"] == err.step
    assert snap.get_distance(a, b, mic=True) > 1.6  # the bond really is torn
    meta = read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]
    assert meta["step"] < err.step  # the last good checkpoint was kept
    # log-only mode reports the same break and carries on to the end
    with pytest.warns(UserWarning, match="broken linker") as warned:
        final = run(crystal, PullApart(a, b, force=5.0), [Stage("nvt", 0.04, 10.0)], tmp_path / "log",
                    timestep_fs=0.5, save_every=100, checkpoint_every=100,
                    watchdog=Watchdog(every=2, action="log"), seed=0, progress=False)
    assert final.get_distance(a, b, mic=True) > 2.0
    assert len(warned) < 10  # each problem is reported when it appears, not at every check


class NaNAfter(EMT):
    """EMT whose forces become NaN from its ``n``-th evaluation on."""

    def __init__(self, n):
        super().__init__()
        self.calls, self.n = 0, n

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.calls += 1
        if self.calls >= self.n:
            self.results["forces"] = np.full_like(self.results["forces"], np.nan)


def test_nan_forces_stop_the_run(tmp_path):
    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    with pytest.raises(WatchdogError, match="non-finite values in .*forces"):
        run(atoms, NaNAfter(8), [Stage("nvt", 0.05, 300)], tmp_path, timestep_fs=1.0,
            watchdog=Watchdog(every=5), seed=0, progress=False)


def test_collapsed_atoms_and_runaway_temperature_are_reported():
    atoms = bulk("Cu", cubic=True).repeat((2, 2, 2))
    atoms.positions[1] = atoms.positions[0] + [0.3, 0.0, 0.0]
    atoms.calc = EMT()
    atoms.get_forces()
    hot = np.random.default_rng(0).normal(size=(len(atoms), 3))
    atoms.set_momenta(hot * np.sqrt(atoms.get_masses()[:, None]) * 0.5)
    problems, _ = Watchdog(min_distance=0.5).check(atoms, target_temperature_K=300.0)
    text = " | ".join(problems)
    assert "atoms too close: Cu0–Cu1 at 0.300 Å" in text
    assert atoms.get_temperature() > 800 and "temperature runaway" in text
    assert Watchdog().linkers_checked(atoms) is False  # no Zn/imidazolate: linker check skipped
