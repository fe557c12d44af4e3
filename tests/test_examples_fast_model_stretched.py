"""Hot frames with one linker bond stretched (``examples/fast_model_frames.py`` and the ``stretched``
stage of ``examples/make_fast_model.py``), on rattled copies of the ZIF-4 crystal: no model, no MD."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RING = {("C", "C"), ("C", "N")}


def example(name):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def frames_module():
    return example("fast_model_frames")


def hot_frames(group="crystal_lmp", kind="hot", count=3, seed=0):
    """Rattled ZIF-4 crystals tagged as the candidates stage tags a hot run's MD frames, with
    momenta (which the stretched copies must not keep)."""
    from aseml_zif.structures import zif4_crystal

    rng = np.random.default_rng(seed)
    frames = []
    for k in range(count):
        atoms = zif4_crystal()
        atoms.positions += rng.normal(0.0, 0.03, atoms.positions.shape)
        atoms.set_momenta(rng.normal(0.0, 1.0, atoms.positions.shape))
        atoms.info = {"source": f"hot_{group}_v1.00", "group": group, "kind": kind, "origin": "md",
                      "step": 100 * (k + 1) + seed, "target_temperature_K": 1500.0}
        frames.append(atoms)
    return frames


@pytest.fixture(scope="module")
def made(frames_module):
    frames = hot_frames()
    return frames, frames_module.stretched_bond_frames(frames, 40, np.random.default_rng(7))


def source_of(frame, frames):
    (source,) = [f for f in frames if f.info["step"] == frame.info["step"]]
    return source


def test_one_linker_bond_is_set_to_its_target(frames_module, made):
    from aseml_zif.analysis import find_linkers
    from aseml_zif.analysis.linker_bonds import DEFAULT_BOND_CUTOFFS

    frames, stretched = made
    kinds = set()
    for f in stretched:
        source = source_of(f, frames)
        i, j = f.info["stretched_atoms"]
        pair = tuple(sorted(source.get_chemical_symbols()[a] for a in (i, j)))
        assert i < j and pair in RING | {("C", "H")}
        assert source.get_distance(i, j, mic=True) < DEFAULT_BOND_CUTOFFS[pair]  # bonded before
        assert any({i, j} <= set(linker) for linker in find_linkers(source).linkers)
        kind = "CH" if "H" in pair else "ring"
        kinds.add(kind)
        low, high = frames_module.STRETCH_RANGES[kind]
        assert low <= f.info["stretched_to"] <= high
        assert abs(f.get_distance(i, j, mic=True) - f.info["stretched_to"]) < 1e-9
        others = np.ones(len(f), bool)
        others[[i, j]] = False
        assert np.array_equal(f.positions[others], source.positions[others])
        move = f.positions[[i, j]] - source.positions[[i, j]]
        assert np.allclose(move[0], -move[1], atol=1e-12)  # symmetric, along the bond
        assert np.allclose(np.cross(move[1], source.get_distance(i, j, mic=True, vector=True)), 0,
                           atol=1e-12)
        assert np.array_equal(f.cell[:], source.cell[:]) and np.array_equal(f.numbers, source.numbers)
        assert f.info == {**source.info, "origin": "stretched", "stretched_atoms": (i, j),
                          "stretched_to": f.info["stretched_to"]}
        assert f.calc is None and set(f.arrays) == {"numbers", "positions"}  # no momenta
    assert kinds == {"ring", "CH"}
    assert {f.info["step"] for f in stretched} == {f.info["step"] for f in frames}


def test_same_seed_same_frames(frames_module, made):
    frames, stretched = made
    again = frames_module.stretched_bond_frames(frames, 40, np.random.default_rng(7))
    other = frames_module.stretched_bond_frames(frames, 40, np.random.default_rng(8))
    for a, b in zip(stretched, again):
        assert np.array_equal(a.positions, b.positions) and a.info == b.info
    assert [f.info["stretched_to"] for f in other] != [f.info["stretched_to"] for f in stretched]


def test_ranges_override_one_kind(frames_module, made):
    frames, _ = made
    stretched = frames_module.stretched_bond_frames(frames, 20, np.random.default_rng(1),
                                                    ranges={"CH": (1.0, 1.1)})
    for f in stretched:
        pair = {f.get_chemical_symbols()[a] for a in f.info["stretched_atoms"]}
        low, high = (1.0, 1.1) if "H" in pair else frames_module.STRETCH_RANGES["ring"]
        assert low <= f.info["stretched_to"] <= high


def test_a_frame_without_intact_linkers_is_refused(frames_module):
    from ase import Atoms

    zn = Atoms("Zn2", positions=[[0, 0, 0], [2, 2, 2]], cell=[8, 8, 8], pbc=True,
               info={"source": "nothing", "step": 5})
    with pytest.raises(ValueError, match="nothing step 5"):
        frames_module.stretched_bond_frames([zn], 1, np.random.default_rng(0))


def test_stage_uses_hot_training_frames_only(frames_module, tmp_path):
    """The ``stretched`` stage: warm frames and held-out groups (``TEST_GROUPS`` by default) are
    not used; the file is readable, keeps the tags through the label stage's reader, and is
    remade identically."""
    from aseml_zif.data import write_frames

    fast = example("make_fast_model")
    assert "ZIF4_15glass07" in fast.TEST_GROUPS
    write_frames(hot_frames() + hot_frames(kind="warm", seed=1), tmp_path / "hot_a.xyz")
    write_frames(hot_frames("ZIF4_15glass07", seed=2), tmp_path / "hot_b.xyz")
    inputs = [str(tmp_path / "hot_a.xyz"), str(tmp_path / "hot_b.xyz")]
    fast.main(["stretched", *inputs, str(tmp_path / "out.xyz"), "--n", "12", "--seed", "3"])
    fast.main(["stretched", *inputs, str(tmp_path / "again.xyz"), "--n", "12", "--seed", "3"])
    assert (tmp_path / "out.xyz").read_text() == (tmp_path / "again.xyz").read_text()
    out = frames_module.unlabelled(tmp_path / "out.xyz")  # as the label stage reads it
    assert len(out) == 12
    assert {f.info["step"] for f in out} <= {100, 200, 300}  # the hot training frames only
    for f in out:
        assert f.info["group"] == "crystal_lmp" and f.info["kind"] == "hot"
        assert f.info["origin"] == "stretched" and len(f.info["stretched_atoms"]) == 2
        i, j = f.info["stretched_atoms"]
        assert abs(f.get_distance(i, j, mic=True) - f.info["stretched_to"]) < 1e-6  # 8 decimals
    fast.main(["stretched", *inputs, str(tmp_path / "all.xyz"), "--n", "30", "--seed", "3",
               "--groups-exclude"])
    groups = {f.info["group"] for f in frames_module.unlabelled(tmp_path / "all.xyz")}
    assert groups == {"crystal_lmp", "ZIF4_15glass07"}
    with pytest.raises(SystemExit, match="no hot frames"):
        fast.main(["stretched", inputs[1], str(tmp_path / "none.xyz")])


def test_pack_keeps_the_stretched_bond(frames_module, made, tmp_path):
    """Labelled stretched frames packed and unpacked keep their tags; other frames get none."""
    from aseml_zif.data import with_labels, write_frames

    frames, stretched = made
    labelled = [with_labels(f, energy=-1.0, forces=np.zeros((len(f), 3)), stress=np.zeros(6))
                for f in [frames[0]] + stretched[:3]]
    write_frames(labelled, tmp_path / "stretched_labelled.xyz")
    frames_module.pack(tmp_path / "frames.npz", [tmp_path / "stretched_labelled.xyz"])
    rows = frames_module.unpack_frames(tmp_path / "frames.npz")
    assert [f.info.get("origin") for _, f in rows] == ["md"] + ["stretched"] * 3
    assert "stretched_atoms" not in rows[0][1].info and "stretched_to" not in rows[0][1].info
    for (_, f), o in zip(rows[1:], stretched[:3]):
        assert f.info["stretched_atoms"] == o.info["stretched_atoms"]
        assert f.info["stretched_to"] == o.info["stretched_to"]
        assert {k: v for k, v in f.info.items() if not k.startswith("stretched")} == \
            {k: v for k, v in o.info.items() if not k.startswith("stretched")}


def test_detached_h_copies_move_only_the_h_along_its_bond_into_free_space(frames_module):
    """``detached_h_frames``: one intact linker's H moved along its C→H direction to the drawn
    distance, at least ``min_clearance`` from every other atom; nothing else changes."""
    from aseml_zif.analysis import find_linkers

    frames = hot_frames(count=2, seed=1)
    detached = frames_module.detached_h_frames(frames, 12, np.random.default_rng(3))
    for f in detached:
        source = source_of(f, frames)
        c, h = f.info["stretched_atoms"]
        assert (source[c].symbol, source[h].symbol) == ("C", "H")
        assert any({c, h} <= set(linker) for linker in find_linkers(source).linkers)
        assert source.get_distance(c, h, mic=True) < 1.6  # bonded before
        assert 1.9 <= f.info["stretched_to"] <= 4.5
        assert abs(f.get_distance(c, h, mic=True) - f.info["stretched_to"]) < 1e-9
        before = source.get_distance(c, h, mic=True, vector=True)
        after = f.positions[h] - f.positions[c]
        assert np.allclose(np.cross(before, after), 0, atol=1e-9) and before @ after > 0
        others = np.ones(len(f), bool)
        others[h] = False
        assert np.array_equal(f.positions[others], source.positions[others])
        rest = [i for i in range(len(f)) if i not in (c, h)]
        assert f.get_distances(h, rest, mic=True).min() >= 1.6
        assert f.info == {**source.info, "origin": "detached_H", "stretched_atoms": (c, h),
                          "stretched_to": f.info["stretched_to"]}
        assert not f.has("momenta")
    with pytest.raises(ValueError, match="no H placed"):
        frames_module.detached_h_frames(frames, 1, np.random.default_rng(3), min_clearance=50.0,
                                        tries=5)


def test_detached_stage_takes_the_intact_frames_of_one_stage_of_a_run(frames_module, tmp_path):
    """``make_fast_model.py detached RUN OUT --md-stage plateau``: copies made only from the frames
    of that stage whose linkers are all intact, tagged as candidates of the run folder, each H
    at least ``--min-clearance`` from every atom but its own C."""
    from ase.io import read

    frames = hot_frames(count=4, seed=2)
    run = run_folder(tmp_path / "mq_seed9", frames_module, frames,
                     ["heat", "plateau", "plateau", "plateau"], [1500.0] * 4, broken=2)
    out = tmp_path / "detached.xyz"
    make = example("make_fast_model")
    make.main(["detached", str(run), str(out), "--n", "12", "--seed", "1", "--md-stage", "plateau",
               "--min-clearance", "2.2"])
    made = read(out, ":")
    assert len(made) == 12
    assert {f.info["step"] for f in made} <= {100, 300}  # plateau, intact: not 0 (heat), not 200
    for f in made:
        assert f.info["group"] == f.info["source"] == "mq_seed9" and f.info["kind"] == "hot"
        assert f.info["origin"] == "detached_H"
        c, h = f.info["stretched_atoms"]
        rest = [i for i in range(len(f)) if i not in (c, h)]
        assert f.get_distances(h, rest, mic=True).min() >= 2.2


def run_folder(path, frames_module, frames, stages, targets, broken=None):
    """An :func:`aseml_zif.md.run` folder whose trajectory holds ``frames`` (steps 0, 100, ...)
    with the given stage labels and target temperatures (K); frame ``broken`` loses an H."""
    from ase.io import Trajectory

    from aseml_zif.md import RUN_FILES

    path.mkdir()
    if broken is not None:
        pair = frames_module.linker_bonds(frames[broken])["CH"][0]
        (h,) = [int(a) for a in pair if frames[broken][int(a)].symbol == "H"]
        frames[broken].positions[h] += 3.0  # 5.2 Å off its C: the linker is broken
    with Trajectory(str(path / RUN_FILES["trajectory"]), "w") as traj:
        for k, (f, stage, target) in enumerate(zip(frames, stages, targets)):
            f.info = {"step": 100 * k, "stage": stage, "target_temperature_K": target}
            traj.write(f)
    return path


def test_stretched_stage_takes_the_hot_intact_frames_of_run_folders(frames_module, tmp_path):
    """``make_fast_model.py stretched RUN OUT``: from a run folder, only the intact frames at a
    target of 1000 K or more of the stage asked (default: all stages) are stretched."""
    from ase.io import read

    frames = hot_frames(count=5, seed=4)
    run = run_folder(tmp_path / "mq_seed8", frames_module, frames,
                     ["heat", "heat", "plateau", "plateau", "quench"],
                     [600.0, 1200.0, 1500.0, 1500.0, 1400.0], broken=3)
    make = example("make_fast_model")
    out = tmp_path / "stretched.xyz"
    make.main(["stretched", str(run), str(out), "--n", "30", "--seed", "2"])
    made = read(out, ":")
    assert len(made) == 30
    # not 0 (600 K: cold), not 300 (broken)
    assert {f.info["step"] for f in made} == {100, 200, 400}
    assert all(f.info["origin"] == "stretched" and f.info["group"] == "mq_seed8" for f in made)
    make.main(["stretched", str(run), str(out), "--n", "10", "--seed", "2", "--md-stage", "plateau"])
    assert {f.info["step"] for f in read(out, ":")} == {200}


def test_a_folder_without_frames_is_named_not_a_traceback(tmp_path):
    """``make_fast_model.py stretched EMPTY_DIR OUT``: exit status 1 and one line naming the folder."""
    import subprocess
    import sys

    empty = tmp_path / "no_run_here"
    empty.mkdir()
    done = subprocess.run([sys.executable, str(EXAMPLES / "make_fast_model.py"), "stretched",
                           str(empty), str(tmp_path / "out.xyz")], capture_output=True, text=True)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert "no_run_here: not a run folder with frames" in done.stderr
