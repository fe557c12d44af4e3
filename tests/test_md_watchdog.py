"""The MD watchdog (a linker pulled apart, atoms collapsing, runaway heating) and the checks of
every step (non-finite positions or model outputs, a failing model), which stop a run the same
way: a snapshot of the failed step, the last good checkpoint kept, a rerun resumes."""
import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.calculator import Calculator, all_changes
from ase.calculators.emt import EMT
from ase.io import read

from aseml_zif.analysis import find_linkers
from aseml_zif.errors import AsemlZifError, ModelError, SettingsError, StructureError
from aseml_zif.md import RUN_FILES, Stage, Watchdog, WatchdogError, run
from aseml_zif.md.checkpoint import read_checkpoint
from aseml_zif.structures import zif4_crystal
from bond_spring import Spring


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
    """The break is confirmed after ``linker_confirm_fs`` of checks that all find it; no
    checkpoint is written meanwhile, so the last one kept is from before the break."""
    import re

    crystal = zif4_crystal()
    assert len(find_linkers(crystal).broken) == 0
    a, b = _cn_bond(crystal)
    stages = [Stage("nvt", 0.2, 10.0)]
    with pytest.raises(WatchdogError) as info:
        run(crystal, PullApart(a, b, force=5.0), stages, tmp_path, timestep_fs=0.5,
            save_every=5, checkpoint_every=4, watchdog=Watchdog(every=2, linker_confirm_fs=6.0),
            seed=0, progress=False)
    err = info.value
    assert isinstance(err, AsemlZifError)
    print("watchdog stopped at step", err.step)
    assert 0 < err.step < 80 and err.step % 2 == 0
    message = str(err)
    assert f"step {err.step}" in message and "T = " in message and "stage 'nvt'" in message
    assert "broken linker" in message and str(a) in message and str(b) in message
    since = float(re.search(r"for 6\.0 fs \(every check since t = ([0-9.]+) fs\)", message)[1])
    assert err.step * 0.5 - since == 6.0
    snap = read(tmp_path / RUN_FILES["snapshot"])
    assert snap.info["step"] == err.step
    assert snap.get_distance(a, b, mic=True) > 1.6  # the bond really is torn
    meta = read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]
    assert meta["step"] < since / 0.5  # the last good checkpoint: before the break was seen
    # log-only mode reports the same break and carries on to the end
    with pytest.warns(UserWarning, match="broken linker") as warned:
        final = run(crystal, PullApart(a, b, force=5.0), [Stage("nvt", 0.04, 10.0)], tmp_path / "log",
                    timestep_fs=0.5, save_every=100, checkpoint_every=100,
                    watchdog=Watchdog(every=2, action="log", linker_confirm_fs=6.0), seed=0,
                    progress=False)
    assert final.get_distance(a, b, mic=True) > 2.0
    assert len(warned) < 10  # each problem is reported when it appears, not at every check


def _broken_frames(crystal):
    """Frames whose linkers are broken in three ways: a lost H, a ring opened, two fused."""
    report = find_linkers(crystal)
    symbols = np.array(crystal.get_chemical_symbols())
    lost_h, opened, fused = crystal.copy(), crystal.copy(), crystal.copy()
    h = next(int(a) for a in report.linkers[0] if symbols[a] == "H")
    lost_h.positions[h] += [0.0, 0.0, 2.5]
    a, b = _cn_bond(crystal)
    opened.positions[b] += 1.2 * (crystal.positions[b] - crystal.positions[a])
    first, second = report.linkers[0], report.linkers[1]
    d = fused.get_all_distances(mic=True, vector=True)[np.ix_(first, second)]
    k = np.unravel_index(np.argmin(np.linalg.norm(d, axis=2)), d.shape[:2])
    gap = d[k]  # shortest vector from linker 0 to linker 1: bring them 0.8 Å close, rigidly
    fused.positions[second] -= gap * (1 - 0.8 / np.linalg.norm(gap))
    return {"lost H": lost_h, "opened ring": opened, "fused linkers": fused}


def test_watchdog_that_saw_intact_linkers_still_reports_each_break_as_the_full_analysis():
    crystal = zif4_crystal()
    crystal.set_momenta(np.zeros((len(crystal), 3)))
    watchdog = Watchdog()
    assert watchdog.check(crystal, 300.0) == ([], 0)  # intact: later checks may skip the analysis
    for name, frame in _broken_frames(crystal).items():
        expected = len(find_linkers(frame).broken)
        problems, broken = watchdog.check(frame, 300.0)
        assert broken == expected > 0, name
        assert any(p.startswith(f"{expected} broken linker(s)") for p in problems), name
        assert watchdog.check(crystal, 300.0) == ([], 0)  # and intact again


def test_a_break_in_a_run_counts_once_every_check_has_found_it_for_linker_confirm_fs():
    """With times, a break must be found at every check over ``linker_confirm_fs``; one intact
    check clears it; an earlier time (a resumed run) starts it again; without a time, or with
    ``linker_confirm_fs=0``, each frame is judged alone."""
    crystal = zif4_crystal()
    crystal.set_momenta(np.zeros((len(crystal), 3)))
    for name, frame in _broken_frames(crystal).items():
        expected = len(find_linkers(frame).broken)
        watchdog = Watchdog(linker_confirm_fs=100.0)
        assert watchdog.check(crystal, 300.0, time_fs=0.0) == ([], 0)
        assert watchdog.check(frame, 300.0, time_fs=10.0) == ([], 0), name
        assert watchdog.pending_since_fs == 10.0
        assert watchdog.check(crystal, 300.0, time_fs=15.0) == ([], 0)  # healed
        assert watchdog.pending_since_fs is None
        for time_fs in (20.0, 60.0, 119.5):
            assert watchdog.check(frame, 300.0, time_fs=time_fs) == ([], 0), name
        assert watchdog.check(frame, 300.0, time_fs=5.0) == ([], 0)  # resumed: from t = 5 fs
        assert watchdog.check(frame, 300.0, time_fs=104.5) == ([], 0), name
        problems, broken = watchdog.check(frame, 300.0, time_fs=105.0)
        assert broken == expected, name
        assert problems[0].startswith(f"{expected} broken linker(s) for 100.0 fs (every check "
                                      "since t = 5.0 fs)"), name
        assert watchdog.pending_since_fs is None
        assert Watchdog().check(frame, 300.0)[1] == expected
        assert Watchdog(linker_confirm_fs=0).check(frame, 300.0, time_fs=1.0)[1] == expected
    with pytest.raises(SettingsError, match="linker_confirm_fs must be >= 0 fs"):
        Watchdog(linker_confirm_fs=-1.0)


def test_a_c_h_bond_stretched_past_the_criterion_for_a_few_fs_per_period_does_not_stop_a_run(
        tmp_path):
    """An H on a spring to its C swings between 0.9 and ~1.7 Å (20 fs period): past the 1.6 Å
    C–H criterion for ~5 fs of each period, as an H passing another linker at 1500 K. Judged
    frame by frame the run stops; with ``linker_confirm_fs`` = 10 fs it runs to the end."""
    from ase import units

    crystal = zif4_crystal()
    symbols = np.array(crystal.get_chemical_symbols())
    h = int(np.flatnonzero(symbols == "H")[0])
    d = crystal.get_distances(h, np.flatnonzero(symbols == "C"), mic=True)
    c = int(np.flatnonzero(symbols == "C")[np.argmin(d)])
    bond = crystal.get_distance(c, h, mic=True, vector=True)
    crystal.positions[h] += bond * (0.9 / np.linalg.norm(bond) - 1)  # compressed to 0.9 Å
    reduced = crystal[c].mass * crystal[h].mass / (crystal[c].mass + crystal[h].mass)
    k = reduced * units._amu / units._e * 1e-20 * (2 * np.pi / 20e-15) ** 2  # eV/Å², 20 fs
    spring = Spring(c, h, k, r0=1.3)
    stages = [Stage("nvt", 0.1, 1.0, tdamp_fs=1e6)]  # nearly NVE: the swing keeps its energy
    settings = dict(timestep_fs=0.5, save_every=1, checkpoint_every=7, seed=0, progress=False)
    with pytest.raises(WatchdogError, match=f"C3H2N2 fragment.*wrong number of H on atoms \\[{c}\\]"):
        run(crystal, spring, stages, tmp_path / "alone",
            watchdog=Watchdog(every=1, linker_confirm_fs=0), **settings)
    final = run(crystal, spring, stages, tmp_path / "confirmed",
                watchdog=Watchdog(every=1, linker_confirm_fs=10.0), **settings)
    swing = np.array([a.get_distance(c, h, mic=True)
                      for a in read(tmp_path / "confirmed" / RUN_FILES["trajectory"], ":")])
    assert swing.max() > 1.65 and 0.05 < (swing > 1.6).mean() < 0.4  # broken part of the time
    assert len(final) == len(crystal) and np.isclose(final.get_distance(c, h, mic=True), swing[-1])
    meta = read_checkpoint(tmp_path / "confirmed" / RUN_FILES["checkpoint"])[1]
    assert meta["step"] == 200


def test_watchdog_bonds_are_the_organic_bonds_of_a_fresh_list_after_moves_and_new_elements():
    """The organic bonds the watchdog compares with its last intact frame (from bond cut-offs
    kept per candidate pair) are those of the analysis on a fresh list: after a rebuild of its
    pair list, and after an element changed in place (no rebuild: H turned to F, no bond)."""
    from aseml_zif.analysis.linker_bonds import organic_bond_keys
    from aseml_zif.neighbors import neighbor_list

    crystal = zif4_crystal()
    crystal.set_momenta(np.zeros((len(crystal), 3)))
    fluorine = crystal.copy()
    fluorine.numbers[np.flatnonzero(fluorine.numbers == 1)[0]] = 9
    watchdog = Watchdog(action="log")
    for frame in [crystal, *_broken_frames(crystal).values(), crystal, fluorine]:
        watchdog.check(frame, 300.0)
        generation = watchdog._pairs.generation
        keep = watchdog._pairs.within(frame)
        numbers, limits, keys = watchdog._candidate_bonds(frame)
        bonds = keys.take(keep)[watchdog._pairs.distances(frame, keep) < limits.take(keep)]
        fresh = organic_bond_keys(frame, neighbor_list(frame, watchdog._pairs.cutoff, "ijSd"))
        n = len(frame)
        assert bonds.tobytes() == fresh[fresh // n < fresh % n].tobytes()
        assert numbers == frame.numbers.tobytes() and watchdog._pairs.generation == generation
    assert watchdog._pairs.generation >= 2  # the moved H: a rebuild


class NaNAfter(EMT):
    """EMT whose force on atom 5 becomes NaN from its ``n``-th evaluation on."""

    def __init__(self, n):
        super().__init__()
        self.calls, self.n = 0, n

    def calculate(self, *args, **kwargs):
        super().calculate(*args, **kwargs)
        self.calls += 1
        if self.calls >= self.n:
            self.results["forces"][5] = np.nan


class FailingEMT(EMT):
    """EMT that raises ``error`` on its ``n``-th evaluation, as a model raising ModelError."""

    def __init__(self, n, error):
        super().__init__()
        self.calls, self.n, self.error = 0, n, error

    def calculate(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.n:
            raise self.error("model exploded")
        super().calculate(*args, **kwargs)


NVT = [Stage("nvt", 0.05, 300)]
STEPS = dict(timestep_fs=1.0, save_every=4, checkpoint_every=10, seed=0, progress=False)


def _copper():
    return bulk("Cu", cubic=True).repeat((2, 2, 2))


def test_nan_forces_stop_the_run_and_a_rerun_resumes_from_the_last_checkpoint(tmp_path):
    workdir = tmp_path / "run"
    with pytest.raises(ModelError) as info:  # the check does not depend on the watchdog
        run(_copper(), NaNAfter(25), NVT, workdir, watchdog=False, **STEPS)
    snap = read(workdir / RUN_FILES["snapshot"])
    step = snap.info["step"]
    message = str(info.value)
    assert f"at step {step} (t = {step:.1f} fs, stage 'nvt'" in message
    assert "non-finite forces on 1 atom(s): Cu5" in message and "Snapshot:" in message
    assert np.isnan(snap.get_forces()[5]).all() and np.isfinite(snap.get_forces()[:5]).all()
    assert np.isfinite(snap.positions).all()  # stopped before NaN reached the positions
    assert snap.info["error"] in message
    checkpoint_step = read_checkpoint(workdir / RUN_FILES["checkpoint"])[1]["step"]
    assert 0 < checkpoint_step < step and checkpoint_step % 10 == 0
    # rerun with the model fixed: resumes at the checkpoint and ends as an uninterrupted run
    final = run(_copper(), NaNAfter(10**9), NVT, workdir, watchdog=False, **STEPS)
    reference = run(_copper(), NaNAfter(10**9), NVT, tmp_path / "ref", watchdog=False, **STEPS)
    frames = read(workdir / RUN_FILES["trajectory"], ":")
    assert [f.info["step"] for f in frames] == list(range(0, 50, 4)) + [50]
    np.testing.assert_allclose(final.positions, reference.positions, rtol=0, atol=1e-10)


@pytest.mark.parametrize("error", [ModelError, StructureError])
def test_model_raising_mid_run_leaves_a_snapshot_and_the_checkpoint(tmp_path, error):
    with pytest.raises(error) as info:
        run(_copper(), FailingEMT(30, error), NVT, tmp_path, **STEPS)
    snap = read(tmp_path / RUN_FILES["snapshot"])
    step = snap.info["step"]
    assert str(info.value).startswith(f"at step {step} (t = ")
    assert "model exploded. Snapshot: " in str(info.value)
    assert "last good checkpoint kept" in str(info.value)
    assert read_checkpoint(tmp_path / RUN_FILES["checkpoint"])[1]["step"] < step


def test_nan_input_position_is_refused_naming_the_atom(tmp_path):
    atoms = _copper()
    atoms.positions[7, 2] = np.nan
    with pytest.raises(StructureError, match=r"non-finite position of 1 atom\(s\) \(of 32\): Cu7"):
        run(atoms, EMT(), NVT, tmp_path / "run", **STEPS)
    assert not (tmp_path / "run").exists()


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


def test_step_check_is_skipped_only_for_the_calculators_own_checked_state(monkeypatch, tmp_path):
    from aseml_zif.calculator import load_potential
    from aseml_zif.md import guards
    from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model

    general = []
    check_finite = guards.check_finite
    monkeypatch.setattr(guards, "check_finite", lambda atoms: general.append(1) or check_finite(atoms))
    atoms = toy_zif_cell()
    atoms.calc = load_potential(write_toy_legacy_model(tmp_path / "toy.pth"), device="cpu")
    atoms.get_forces()
    guards.check_step_finite(atoms)
    assert general == []  # proven: the state the calculator checked
    kept = atoms.positions[4, 2]
    atoms.positions[4, 2] = np.nan  # changed from outside after the calculation: checked again
    with pytest.raises(StructureError, match=r"non-finite position of 1 atom\(s\)"):
        guards.check_step_finite(atoms)
    assert general == [1]
    atoms.positions[4, 2] = kept
    guards.check_step_finite(atoms)
    assert general == [1]  # the calculated state again
    # results that are not the calculation's own: checked
    atoms.calc.results = {**atoms.calc.results, "forces": np.full((len(atoms), 3), np.nan)}
    with pytest.raises(ModelError, match="non-finite forces"):
        guards.check_step_finite(atoms)
    assert general == [1, 1]
