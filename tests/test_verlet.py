"""The reused (Verlet) neighbour list of MD gives the pairs of a fresh one, with one cut-off or
with cut-offs by pair of atom types."""
import math

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule
from ase.geometry import cellpar_to_cell

from aseml_zif.errors import StructureError
from aseml_zif.neighbors import neighbor_list
from aseml_zif.structures import zif4_crystal
from aseml_zif.verlet import VerletList, squared_limit

# --- VerletList: the same pairs as a fresh list, reused while atoms move little -------------


def _assert_same_pairs(found, expected):
    """Same pairs ``(i, j, S)`` (in any order) at the same distances (Å)."""
    pairs = [{(a, b, tuple(s)): r for a, b, s, r in zip(i.tolist(), j.tolist(), S.tolist(), d)}
             for i, j, S, d in (found, expected)]
    assert pairs[0].keys() == pairs[1].keys()
    keys = list(pairs[1])
    np.testing.assert_allclose([pairs[0][k] for k in keys], [pairs[1][k] for k in keys], atol=1e-12)


@pytest.mark.parametrize(
    "atoms",
    [
        zif4_crystal(),
        Atoms("ZnN2C2H", cell=cellpar_to_cell([2.9, 3.1, 3.3, 70.0, 110.0, 95.0]), pbc=True,
              scaled_positions=np.random.default_rng(3).uniform(size=(6, 3))),  # many images
        molecule("CH3CH2OH"),
    ],
    ids=["zif4", "small-triclinic", "molecule"],
)
def test_verlet_list_gives_a_fresh_lists_pairs_and_rebuilds_only_after_moves(atoms, monkeypatch):
    import aseml_zif.verlet as verlet_module

    builds = []
    vesin = verlet_module._vesin
    monkeypatch.setattr(verlet_module, "_vesin", lambda *a, **k: builds.append(1) or vesin(*a, **k))
    atoms = atoms.copy()
    verlet = VerletList(3.0, skin=0.6)
    rng = np.random.default_rng(0)
    for step in range(12):
        if step == 5:
            atoms.positions[0] += 0.31  # one atom beyond skin / 2: rebuild
        elif step in (8, 10) and atoms.pbc.all():
            strain = 0.01 if step == 8 else 0.1  # 0.6 Å skin: 10 % at 3 Å needs a rebuild
            atoms.set_cell(atoms.cell[:] * (1 + strain), scale_atoms=True)
        else:
            atoms.positions += rng.normal(scale=0.01, size=atoms.positions.shape)
        expected = neighbor_list(atoms, 3.0)
        _assert_same_pairs(verlet.compute(atoms, "ijSd"), expected)
    assert len(builds) == (3 if atoms.pbc.all() else 2)


def test_verlet_list_order_does_not_depend_on_when_it_was_rebuilt():
    atoms = zif4_crystal()
    used = VerletList(4.0)
    used.compute(atoms)
    atoms.positions += np.random.default_rng(1).normal(scale=0.05, size=atoms.positions.shape)
    for reused, fresh in zip(used.compute(atoms, "ijSdD"), VerletList(4.0).compute(atoms, "ijSdD")):
        np.testing.assert_array_equal(reused, fresh)


def test_verlet_list_refuses_a_nan_position_after_a_reuse():
    atoms = bulk("Cu", cubic=True).repeat(2)
    verlet = VerletList(3.0)
    verlet.compute(atoms)
    atoms.positions[5, 0] = np.nan
    with pytest.raises(StructureError, match=r"non-finite position of 1 atom\(s\) \(of 32\): Cu5$"):
        verlet.compute(atoms)


def test_verlet_list_between_full_evaluations_gives_a_fresh_lists_pairs_bit_for_bit():
    """MD-like moves: only the candidates near the cut-off are evaluated again, same answer."""
    atoms = zif4_crystal()
    verlet = VerletList(4.0)
    full_evaluations = []
    evaluate_all = verlet._full_test
    verlet._full_test = lambda *args: full_evaluations.append(1) or evaluate_all(*args)
    velocities = np.random.default_rng(2).normal(scale=0.003, size=atoms.positions.shape)
    changes, last = 0, None
    for _ in range(30):
        atoms.positions += velocities  # Å per step
        found = verlet.compute(atoms, "ijSdD")
        for reused, fresh in zip(found, VerletList(4.0).compute(atoms, "ijSdD")):
            np.testing.assert_array_equal(reused, fresh)
        changes += last is not None and not np.array_equal(found[0], last)
        last = found[0]
    assert changes >= 10  # pairs crossed the cut-off between calls
    assert verlet.generation == 1 and len(full_evaluations) <= 3


# --- cut-offs by pair of atom types ---------------------------------------------------------


@pytest.mark.parametrize("cutoff, largest", [(3.0, 4.0), (4.0, 4.0), (3.7312, 4.0), (4.5, 4.0),
                                             (2.0, 2.0 + 2**-51)])
def test_squared_limit_is_the_distance_test_bit_for_bit(cutoff, largest):
    """``d² < squared_limit(c, R)`` answers ``sqrt(d²) < c and d² < R²`` for every float64 d²
    within 300 ulps of c² and of R² (where the two could part), and for random ones."""
    near = [np.nextafter(x, np.inf * k, dtype=np.float64) for x in (cutoff**2, largest**2)
            for k in (1, -1)]
    squares = [cutoff**2, largest**2]
    for start, direction in zip(np.repeat([cutoff**2, largest**2], 2), [1, -1] * 2):
        s = start
        for _ in range(300):
            s = math.nextafter(s, math.inf * direction)
            squares.append(s)
    squares += list(np.random.default_rng(5).uniform(0.8, 1.2, 2000) * cutoff**2) + near
    squares = np.array(squares, dtype=np.float64)
    expected = (np.sqrt(squares) < cutoff) & (squares < largest**2)
    np.testing.assert_array_equal(squares < squared_limit(cutoff, largest), expected)
    assert expected.any() and not expected.all()


def _edges_of_a_fresh_list(atoms, cutoff, table, types):
    """The edges ``i → j`` (keys ``(i, j, S)``) of a fresh list kept by ``d < table[ti, tj]``."""
    i, j, shifts, d = VerletList(cutoff).compute(atoms, "ijSd")
    kept = d < table[types[i], types[j]]
    return {(a, b, tuple(s)) for a, b, s in zip(i[kept].tolist(), j[kept].tolist(),
                                               shifts[kept].tolist())}


def _edges(verlet, atoms, types):
    forward, backward = verlet.edges(atoms, types)
    (i, j), shifts = verlet.candidates
    return ({(a, b, tuple(s)) for a, b, s in zip(i[forward].tolist(), j[forward].tolist(),
                                                 shifts[forward].tolist())}
            | {(b, a, tuple(s)) for a, b, s in zip(i[backward].tolist(), j[backward].tolist(),
                                                   (-shifts[backward]).tolist())})


@pytest.mark.parametrize("symmetric", [True, False])
def test_edges_by_pair_types_are_a_fresh_lists_after_many_moves(symmetric):
    """MD-like moves over many calls (band tests between full evaluations, and rebuilds), an H
    pushed across its 3 Å cut-off, and the types of an H and a Zn swapped in place: the directed
    edges are those of a fresh list pruned by the table, pair for pair."""
    atoms = zif4_crystal()
    names = ("H", "C", "N", "Zn")
    types = np.array([names.index(s) for s in atoms.get_chemical_symbols()])
    table = np.full((4, 4), 4.0)
    table[0, :] = table[:, 0] = 3.0
    if not symmetric:
        table[2, 3], table[3, 1] = 3.6, 3.3
    verlet = VerletList(4.0, skin=1.0, shell=1.0, pair_cutoffs=table)
    counts = {"band": 0, "full": 0}
    for name in counts:
        method = getattr(verlet, f"_{name}_test")
        setattr(verlet, f"_{name}_test",
                lambda *a, name=name, method=method: counts.__setitem__(name, counts[name] + 1)
                or method(*a))
    velocities = np.random.default_rng(6).normal(scale=0.01, size=atoms.positions.shape)
    # the H nearest to 3 Å (beyond) from another atom, and that atom
    i, j, d = neighbor_list(atoms, 3.2, "ijd")
    close = np.flatnonzero((types[i] == 0) & (d > 3.0))
    h, other = (int(k[close[np.argmin(d[close])]]) for k in (i, j))
    edges = []
    for step in range(80):
        atoms.positions += velocities * np.sin(step / 7)  # back and forth
        if step == 40:  # pushed 0.4 Å towards the other atom: within 3 Å
            gap = atoms.get_distance(h, other, mic=True, vector=True)
            atoms.positions[h] += 0.4 * gap / np.linalg.norm(gap)
        if step == 60:  # in place: the same candidates, other cut-offs
            types[np.array([h, np.flatnonzero(types == 3)[0]])] = [3, 0]
        edges.append(_edges(verlet, atoms, types))
        assert edges[-1] == _edges_of_a_fresh_list(atoms, 4.0, table, types)
    pushed = {(a, b) for a, b, _ in edges[40] - edges[39]}
    assert (h, other) in pushed and (other, h) in pushed
    assert counts["band"] > 50 and counts["full"] >= 3
    forward, backward = verlet.edges(atoms, types)
    assert (forward is backward) == symmetric


def test_lists_with_and_without_pair_types_answer_only_their_own_question():
    atoms = bulk("Cu", cubic=True).repeat(2)
    with pytest.raises(ValueError, match="edges"):
        VerletList(3.0, pair_cutoffs=[[2.0]]).within(atoms)
    with pytest.raises(ValueError, match="types"):
        VerletList(3.0, pair_cutoffs=[[2.0]]).edges(atoms)
    forward, backward = VerletList(3.0).edges(atoms)
    assert forward is backward
    np.testing.assert_array_equal(forward, VerletList(3.0).within(atoms))


def _move(atoms, how, which, by):
    if how == "atoms":
        atoms.positions[which] += by
    else:  # the cell scaled by ``by`` with the atoms
        atoms.set_cell(atoms.cell[:] * by, scale_atoms=True)


@pytest.mark.parametrize("case", ["symmetric", "asymmetric", "strained"])
def test_pairs_with_short_cut_offs_let_their_atoms_move_further_before_a_rebuild(case):
    """H pairs cut at 3 Å in a 4 Å list with a 1 Å skin: two atoms of a pair with an H may move
    2 Å towards each other before a pair of theirs could be missed, two heavy atoms 1 Å (less
    the stretch of the cell, 5 Å × its strain). The list is rebuilt exactly when the largest
    moves of two types exceed what their pair allows (the longer cut-off of both directions
    decides: H → C at 4 Å leaves H-C pairs 1 Å), and its edges stay a fresh list's."""
    atoms = zif4_crystal()
    names = ("H", "C", "N", "Zn")
    types = np.array([names.index(s) for s in atoms.get_chemical_symbols()])
    table = np.full((4, 4), 4.0)
    table[0, :] = table[:, 0] = 3.0
    hydrogens = np.flatnonzero(types == 0)[:8]
    carbon, zinc, nitrogen = (np.flatnonzero(types == t)[:1] for t in (1, 3, 2))
    moves = {  # (what moves, which atoms, by, the list's generation after it)
        "symmetric": [("atoms", hydrogens, [0.9, 0, 0], 1),  # H-H 1.8 of 2 Å
                      ("atoms", zinc, [0, 0.45, 0], 1),  # Zn-Zn 0.9 of 1 Å, H-Zn 1.35 of 2 Å
                      ("atoms", hydrogens, [0.2, 0, 0], 2),  # H-H 2.2 of 2 Å
                      ("atoms", nitrogen, [0, 0, 0.6], 3)],  # N-N 1.2 of 1 Å
        "asymmetric": [("atoms", hydrogens, [0.9, 0, 0], 1),  # H-C 0.9 of 1 Å
                       ("atoms", carbon, [0, 0, 0.15], 2)],  # H-C 1.05 of 1 Å
        "strained": [("atoms", zinc, [0, 0.45, 0], 1),  # Zn-Zn 0.9 + 5 × 0 of 1 Å
                     ("cell", None, 1.005, 1),  # 0.9 + 5 × 0.0087 (√3 × 0.005)
                     ("cell", None, 1.02, 2)],  # 0.92 + 5 × 0.043
    }[case]
    if case == "asymmetric":
        table[0, 1] = 4.0  # H → C edges to 4 Å, C → H ones to 3
    verlet = VerletList(4.0, skin=1.0, shell=1.0, pair_cutoffs=table)
    verlet.edges(atoms, types)
    for how, which, by, generation in moves:
        _move(atoms, how, which, by)
        assert _edges(verlet, atoms, types) == _edges_of_a_fresh_list(atoms, 4.0, table, types)
        assert verlet.generation == generation
    # one cut-off for every pair: the first H move is beyond skin / 2
    uniform = VerletList(4.0, skin=1.0, shell=1.0, pair_cutoffs=np.full((4, 4), 4.0))
    atoms = zif4_crystal()
    uniform.edges(atoms, types)
    atoms.positions[hydrogens] += [0.9, 0.0, 0.0]
    uniform.edges(atoms, types)
    assert uniform.generation == 2


def test_pair_types_outside_the_table_are_refused():
    atoms = bulk("Cu", cubic=True).repeat(2)
    verlet = VerletList(3.0, skin=0.5, pair_cutoffs=[[2.5, 2.5], [2.5, 3.0]])
    types = np.zeros(len(atoms), dtype=np.int64)
    verlet.edges(atoms, types)
    types[3] = -1
    atoms.positions[3] += 0.3  # beyond skin / 2: the staleness test sorts atoms by type
    with pytest.raises(ValueError, match="0..1"):
        verlet.edges(atoms, types)
