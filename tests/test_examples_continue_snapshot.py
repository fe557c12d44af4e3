"""``examples/continue_snapshot.py``: continuing a watchdog snapshot without the watchdog.

The verdict is judged on hand-made sequences of broken-linker counts; end to end, a ZIF-4
crystal with one H pulled 0.75 Å off its C (one broken linker) is continued with a C–H spring
alone, which brings the H back within the 1.6 Å criterion in ~2.5 fs (quarter period of
~20 fs), so the run must report the linker healed and the steps it recorded.
"""
import importlib.util
from pathlib import Path

import numpy as np
import pytest
from ase.io import Trajectory, read, write

from aseml_zif.analysis import find_linkers
from aseml_zif.structures import zif4_crystal
from bond_spring import Spring

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "continue_snapshot.py"


def script():
    spec = importlib.util.spec_from_file_location("continue_snapshot", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("counts, first, rebroken, at_end, words", [
    ([1, 1, 0, 0, 0], 5.0, 0, False, "healed after 5 fs and stayed intact for the remaining 5 fs"),
    ([2, 1, 1, 1, 1], None, 0, True, "still broken at the end (10 fs)"),
    ([2, 0, 1, 0, 1, 1], 2.5, 2, True, "healed after 2.5 fs, broke again 2 time(s), still broken"),
    ([1, 0, 3, 0, 1, 0], 2.5, 2, False, "broke again 2 time(s), intact at the end (12.5 fs)"),
    ([0, 0, 0, 0, 0], 0.0, 0, False, "intact at the start and stayed intact for the remaining 10 fs"),
    ([0, 1, 0, 0, 0], 0.0, 1, False, "intact at the start, broke 1 time(s), intact at the end"),
])
def test_verdict(counts, first, rebroken, at_end, words):
    times = [2.5 * k for k in range(len(counts))]
    text, summary = script().verdict(times, counts)
    assert summary == {"first_healed_fs": first, "rebroken": rebroken, "broken_at_end": at_end}
    assert words in text


def test_verdict_needs_matching_records():
    with pytest.raises(ValueError):
        script().verdict([0.0, 2.5], [1])
    with pytest.raises(ValueError):
        script().verdict([], [])


@pytest.fixture
def stretched(tmp_path):
    """A snapshot of the crystal with its first H 0.75 Å further from its C, at rest; and the C
    and H indices."""
    atoms = zif4_crystal()
    h = int(np.flatnonzero(atoms.numbers == 1)[0])
    carbons = np.flatnonzero(atoms.numbers == 6)
    c = int(carbons[atoms.get_distances(h, carbons, mic=True).argmin()])
    bond = atoms.get_distance(c, h, mic=True, vector=True)
    atoms.positions[h] += 0.75 * bond / np.linalg.norm(bond)
    assert atoms.get_distance(c, h, mic=True) > 1.6
    assert len(find_linkers(atoms).broken) == 1
    atoms.set_momenta(np.zeros((len(atoms), 3)))
    atoms.info = {"step": 1200, "time_fs": 600.0, "watchdog": "1 broken linker(s)"}
    path = tmp_path / "watchdog_snapshot.traj"
    write(path, atoms)
    return path, c, h


def test_stretched_h_heals(stretched, tmp_path, capsys):
    path, c, h = stretched
    out = tmp_path / "continued.traj"
    summary = script().main([str(path), "--steps", "30", "--every", "2", "--timestep-fs", "0.5",
                             "--out", str(out)], calculator=Spring(c, h, k=10.0, r0=1.08))
    printed = capsys.readouterr().out
    assert summary["first_healed_fs"] is not None and 1.0 <= summary["first_healed_fs"] <= 5.0
    assert summary["rebroken"] == 0 and not summary["broken_at_end"]
    assert "verdict: healed after" in printed and "stayed intact" in printed
    assert "broken at the start: C3H2N2" in printed
    steps = [int(line.split()[1]) for line in printed.splitlines() if line.startswith("step ")]
    assert steps == list(range(0, 31, 2))
    assert " broken 1 " in printed.splitlines()[2] and " broken 0 " in printed.splitlines()[-2]
    frames = read(out, index=":")
    assert [f.info["step"] for f in frames] == steps
    assert frames[-1].get_distance(c, h, mic=True) < 1.6


def test_missing_snapshot_names_the_file(tmp_path):
    missing = tmp_path / "nowhere" / "watchdog_snapshot.traj"
    with pytest.raises(SystemExit, match="nowhere/watchdog_snapshot.traj: no such snapshot file"):
        script().main([str(missing), "--model", "demo"])


def test_snapshot_without_momenta_names_the_file(tmp_path):
    path = tmp_path / "still.traj"
    with Trajectory(path, "w") as traj:
        traj.write(zif4_crystal())
    with pytest.raises(SystemExit, match="still.traj: the last frame has no momenta"):
        script().main([str(path), "--model", "demo"])
    garbage = tmp_path / "garbage.traj"
    garbage.write_text("not a trajectory")
    with pytest.raises(SystemExit, match="garbage.traj: cannot read a frame"):
        script().main([str(garbage), "--model", "demo"])
