"""``examples/teacher_along_path.py``: student vs teacher along the student's own path through a
new Zn–N bond.

A fake validate300 folder: in a 12 Å periodic cube, Zn 0 loses N 1 for good at frame 3, N 3
passes within 2.5 Å at frame 5 only, and N 2 comes from 3.35 Å (across the cell boundary) to
2.25 Å in 0.1 Å steps, bonded from frame 9 on. The frames hold the energy and forces of a Zn 0–N 2
spring (the student), so with a spring of other stiffness and rest length as the teacher every
value has a closed form.
"""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.lj import LennardJones
from ase.io import Trajectory

from aseml_zif.analysis.glass import bond_changes
from bond_spring import Spring

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "teacher_along_path.py"
ZN, LOST, GAINED, PASSING = 0, 1, 2, 3
DISTANCES = 3.35 - 0.1 * np.arange(12)  # Zn 0 - N 2 in frame k, Å
K_STUDENT, R0_STUDENT = 2.0, 2.0  # eV/Å², Å


def script():
    spec = importlib.util.spec_from_file_location("teacher_along_path", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class CountingSpring(Spring):
    """A :class:`Spring` that counts its calculations."""

    calls = 0

    def calculate(self, *args, **kwargs):
        self.calls += 1
        super().calculate(*args, **kwargs)


def student():
    return Spring(ZN, GAINED, K_STUDENT, R0_STUDENT)


def frame(k):
    """Frame ``k`` (``k = -1``: the start): Zn at x = 0.5 Å, N 2 at x = 12.5 Å - d (mic: -d)."""
    atoms = Atoms("ZnN3", cell=[12.0] * 3, pbc=True,
                  positions=[[0.5, 6, 6], [0.5, 8.0 if k < 3 else 9.0, 6],
                             [12.5 - (DISTANCES[k] if k >= 0 else 3.45), 6, 6],
                             [0.5, 6, 8.3 if k == 5 else 9.0]])
    atoms.info = {"step": 100 * k, "stage": "nvt300"} if k >= 0 else {}
    return atoms


def write_run(workdir, frames):
    """trajectory.traj of ``frames`` with the student's energy and forces, as aseml_zif.md.run
    writes it."""
    workdir.mkdir(parents=True)
    with Trajectory(str(workdir / "trajectory.traj"), "w") as traj:
        for atoms in frames:
            atoms.calc = student()
            atoms.get_forces()
            traj.write(atoms)


@pytest.fixture
def validate300(tmp_path):
    """A validate300 folder: glassA (the frames above), glassB (their first three: no Zn–N bond
    changes) and glassC (glassA's frames, its change lasting from a step the trajectory lacks)."""
    moving, still = [frame(k) for k in range(12)], [frame(k) for k in range(3)]
    changes = bond_changes(frame(-1), moving, steps=[a.info["step"] for a in moving])
    wrong = [dict(c, lasting_from_step=12345) for c in changes]
    entries = []
    runs = [("glassA", moving, changes), ("glassB", still, bond_changes(frame(-1), still)),
            ("glassC", moving, wrong)]
    for glass, frames, zn_n in runs:
        write_run(tmp_path / glass, frames)
        entries.append({"glass": glass, "workdir": str(tmp_path / glass), "zn_n_changes": zn_n})
    (tmp_path / "validate300.json").write_text(json.dumps({"model": "spring", "glasses": entries}))
    return tmp_path


def glass_a(folder):
    """frames, steps and change of glassA, as the script reads them."""
    module = script()
    _, entries = module.read_validate300(folder, ["glassA"])
    return module.run_event(folder / "glassA", entries[0])


@pytest.mark.parametrize("event, n_frames, before, after, stride, expected", [
    (50, 201, 10, 10, 2, list(range(40, 61, 2))),
    (9, 12, 10, 10, 2, [1, 3, 5, 7, 9, 11]),  # clipped at both ends, the event's frame kept
    (5, 201, 5, 4, 2, [1, 3, 5, 7, 9]),
    (199, 201, 10, 10, 2, list(range(189, 200, 2))),
    (1, 3, 10, 10, 1, [0, 1, 2]),
    (7, 20, 0, 0, 3, [7]),
])
def test_path_frames(event, n_frames, before, after, stride, expected):
    assert script().path_frames(event, n_frames, before, after, stride) == expected


def test_the_last_lasting_change_is_the_gained_bond(validate300):
    changes = json.loads((validate300 / "validate300.json").read_text())["glasses"][0]["zn_n_changes"]
    assert [c["atoms"] for c in changes] == [[ZN, LOST], [ZN, GAINED], [ZN, PASSING]]
    change = script().last_lasting_change(changes)
    assert change["atoms"] == [ZN, GAINED] and change["lasting_from_step"] == 900
    assert script().last_lasting_change([c for c in changes if c["atoms"] == [ZN, PASSING]]) is None


def test_along_path_against_closed_forms(validate300):
    frames, steps, change = glass_a(validate300)
    k, r0 = 5.0, 2.4  # the teacher spring
    result = script().along_path(frames, steps, change, Spring(ZN, GAINED, k, r0))
    assert result["event"] == {"zn": ZN, "n": GAINED, "at_start": False, "at_end": True,
                               "frames_present": 3, "stable_from_frame": 9, "stable_from_step": 900}
    rows = result["rows"]
    assert [r["frame"] for r in rows] == [1, 3, 5, 7, 9, 11]
    assert [r["step"] for r in rows] == [100, 300, 500, 700, 900, 1100]
    for row in rows:
        d = DISTANCES[row["frame"]]
        assert row["d_ZnN"] == pytest.approx(d, abs=1e-12)
        assert row["d_ZnN"] == pytest.approx(frames[row["frame"]].get_distance(ZN, GAINED, mic=True))
        assert row["E_fast_minus_teacher_eV"] == pytest.approx(
            K_STUDENT * (d - R0_STUDENT) ** 2 / 2 - k * (d - r0) ** 2 / 2, abs=1e-12)
        assert row["pair_force_fast"] == pytest.approx(-K_STUDENT * (d - R0_STUDENT), abs=1e-12)
        assert row["pair_force_teacher"] == pytest.approx(-k * (d - r0), abs=1e-12)
    assert rows[0]["pair_force_teacher"] < 0 < rows[-1]["pair_force_teacher"]  # pulls, then pushes


def test_pair_force_projection_by_hand(validate300):
    """A teacher with forces on every atom, none along Zn→N: the row of the event's frame."""
    frames, steps, change = glass_a(validate300)
    teacher = LennardJones(sigma=2.0, epsilon=0.1, rc=5.0)
    row = script().along_path(frames, steps, change, teacher, before=0, after=0)["rows"][0]
    atoms = frames[9].copy()
    atoms.calc = LennardJones(sigma=2.0, epsilon=0.1, rc=5.0)
    forces = atoms.get_forces()
    u = np.array([-1.0, 0.0, 0.0])  # Zn -> N 2 across the boundary
    assert abs(forces[ZN] @ [0, 1, 0]) > 0.01  # not along u
    assert row["pair_force_teacher"] == pytest.approx((forces[GAINED] - forces[ZN]) @ u / 2, rel=1e-12)
    assert row["E_fast_minus_teacher_eV"] == pytest.approx(
        K_STUDENT * (DISTANCES[9] - R0_STUDENT) ** 2 / 2 - atoms.get_potential_energy(), rel=1e-12)


def test_the_student_as_teacher_agrees_with_itself(validate300):
    rows = script().along_path(*glass_a(validate300), student())["rows"]
    assert len(rows) == 6
    for row in rows:
        assert row["E_fast_minus_teacher_eV"] == pytest.approx(0.0, abs=1e-12)
        assert row["pair_force_fast"] == pytest.approx(row["pair_force_teacher"], abs=1e-12)


def test_main_writes_each_glass_once_and_resumes(validate300, capsys):
    out = validate300 / "along.json"
    first = CountingSpring(ZN, GAINED, 5.0, 2.2)
    data = script().main([str(validate300), "--glasses", "glassA", "--out", str(out)], teacher=first)
    written = json.loads(out.read_text())
    assert written == json.loads(json.dumps(data))
    assert set(written) == {"about", "settings", "glasses"} and list(written["glasses"]) == ["glassA"]
    assert written["settings"] == {"student": "spring", "teacher": str(script().TEACHER), "before": 10,
                                   "after": 10, "stride": 2}
    assert first.calls == len(written["glasses"]["glassA"]["rows"]) == 6
    printed = capsys.readouterr().out
    assert "glassA frame 9 step 900: d 2.450 Å" in printed and "+Zn0-N2@900" in printed

    again = CountingSpring(ZN, GAINED, 5.0, 2.2)
    script().main([str(validate300), "--out", str(out)], teacher=again)
    printed = capsys.readouterr().out
    assert again.calls == 0 and json.loads(out.read_text()) == written
    assert "glassA: done already" in printed
    assert "glassB: no lasting Zn-N change in validate300.json: skipped" in printed
    assert "glassC: no frame at step 12345" in printed

    with pytest.raises(SystemExit, match="along.json was made with"):
        script().main([str(validate300), "--stride", "1", "--out", str(out)], teacher=again)


def test_a_missing_validate300_json_is_named(tmp_path):
    with pytest.raises(SystemExit, match=f"{tmp_path / 'validate300.json'}: no such file"):
        script().main([str(tmp_path)], teacher=student())
