"""Which Zn–N bonds of a structure change over later frames, and from when they last."""
import numpy as np

from aseml_zif.analysis.glass import bond_changes
from aseml_zif.structures import zif4_crystal


def _bonds_by_brute_force(atoms, cutoff=2.5):
    distances = atoms.get_all_distances(mic=True)
    symbols = np.array(atoms.get_chemical_symbols())
    zn, n = np.flatnonzero(symbols == "Zn"), np.flatnonzero(symbols == "N")
    return {(int(a), int(b)) for a in zn for b in n if distances[a, b] < cutoff}


def test_bond_changes_finds_a_lost_bond_a_gained_one_and_a_passing_contact():
    start = zif4_crystal()
    bonds = sorted(_bonds_by_brute_force(start))
    zn, n = bonds[0]
    direction = start.get_distance(zn, n, mic=True, vector=True)
    direction /= np.linalg.norm(direction)
    # another N, not bonded to this Zn: brought to 2.2 Å of it in the last two frames
    others = [b for a, b in bonds if a != zn]
    far = others[int(np.argmin([start.get_distance(zn, b, mic=True) for b in others]))]
    hydrogen = int(np.flatnonzero(start.numbers == 1)[0])
    frames = []
    for k in range(6):
        atoms = start.copy()
        if k in (1, 3, 4, 5):  # pulled 1 Å away in frame 1 (back in frame 2), then for good
            atoms.positions[n] += direction
        if k >= 4:
            gap = atoms.get_distance(zn, far, mic=True, vector=True)
            atoms.positions[far] -= gap * (1 - 2.2 / np.linalg.norm(gap))
        if k == 5:  # an H at 2.0 Å of the Zn: not a Zn–N bond
            gap = atoms.get_distance(zn, hydrogen, mic=True, vector=True)
            atoms.positions[hydrogen] -= gap * (1 - 2.0 / np.linalg.norm(gap))
        frames.append(atoms)
    steps = [100 * k for k in range(6)]
    changes = bond_changes(start, frames, steps=steps)
    by_pair = {tuple(c["atoms"]): c for c in changes}
    assert by_pair[(zn, n)] == {"atoms": [zn, n], "bonded_at_start": True, "bonded_at_end": False,
                                "frames_bonded": 2, "lasting_from_frame": 3, "lasting_from_step": 300}
    gained = by_pair[(zn, far)]
    assert gained["bonded_at_start"] is False and gained["bonded_at_end"] is True
    assert gained["lasting_from_frame"] == 4 and gained["lasting_from_step"] == 400
    # every pair reported, and only those, as a brute-force count of the same frames says
    series = [_bonds_by_brute_force(a) for a in frames]
    before = set(bonds)
    expected = {p for p in before.union(*series)
                if not all(p in s for s in series) or p not in before}
    assert set(by_pair) == expected
    for pair, change in by_pair.items():
        bonded = [pair in s for s in series]
        assert change["frames_bonded"] == sum(bonded) and change["bonded_at_end"] == bonded[-1]
        assert all(b == bonded[-1] for b in bonded[change["lasting_from_frame"]:])
        assert change["lasting_from_frame"] == 0 or bonded[change["lasting_from_frame"] - 1] != bonded[-1]


def test_bond_changes_is_empty_when_nothing_moves():
    start = zif4_crystal()
    assert bond_changes(start, [start.copy(), start.copy()]) == []
    assert bond_changes(start, []) == []
