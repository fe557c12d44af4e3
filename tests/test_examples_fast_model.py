"""The data pipeline of the fast student, ``examples/make_fast_model.py``, stage by stage on tiny
settings: toy legacy models as student and teacher (different well depths), 32-atom Zn cells as
"crystals" and "glasses" and a random H/C/N/Zn cell whose linkers the watchdog finds broken."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SCRIPT = EXAMPLES / "make_fast_model.py"
FRAMES = EXAMPLES / "fast_model_frames.py"  # its stages 3 (label, merge) and 4 (pack, unpack)
TEACHER_DEPTHS = {"Zn": 0.3, "N": 0.1}
HELD_OUT = {"ZIF4_15glass07", "crystal_exp"}
N_STATIC = 1 + 3 * 2 + 2  # the structure, 2 rattled copies per σ, 2 strained copies
CANDIDATES = ["--no-progress", "--test-groups", "ZIF4_15glass07", "crystal_exp",
              "--hot-starts", "crystal_lmp", "ZIF4_15glass02", "--test-hot-starts", "ZIF4_15glass07",
              "--volumes", "0.92", "1.0", "--test-volumes", "1.0", "--rattled", "2", "--strained", "2",
              "--cold-ps", "0.01", "--heat-ps", "0.005", "--hold-ps", "0.01", "--every", "5"]


def fast_model(path=SCRIPT):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def stage(world, *args, check=True):
    env = {**os.environ, "ASEML_ZIF_SHARED_DATA": str(world / "shared"), "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=world, env=env,
                            capture_output=True, text=True, timeout=300)
    if check:
        assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr[-3000:]}"
    return result


def read(path):
    from aseml_zif.data import read_frames

    return read_frames(path)


def rms_displacement(a, b):
    """Per-component rms displacement between two frames of the same cell (minimum image)."""
    d = np.linalg.solve(b.cell[:].T, (a.positions - b.positions).T).T
    d -= np.round(d)
    return np.sqrt(((d @ b.cell[:]) ** 2).mean())


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from ase.build import bulk
    from ase.io import write

    from aseml_zif.testing.toy_model import toy_zif_cell, write_toy_legacy_model

    root = tmp_path_factory.mktemp("fast_model")
    structures = root / "shared" / "structures"
    (structures / "abinitio_glasses").mkdir(parents=True)
    fcc = bulk("Zn", "fcc", a=3.4, cubic=True) * (2, 2, 2)
    write(structures / "zif4_crystal.lmp", fcc, format="lammps-data", masses=True)
    exp = fcc.copy()
    exp.set_cell(fcc.cell * 1.01, scale_atoms=True)
    write(structures / "zif4_crystal_exp.cif", exp)
    for k in (1, 7):
        glass = fcc.copy()
        glass.rattle(0.1, seed=k)
        write(structures / "abinitio_glasses" / f"ZIF4_15glass{k:02d}.cif", glass)
    # no intact imidazolate: the watchdog stops every MD run of it at once
    write(structures / "abinitio_glasses" / "ZIF4_15glass02.cif", toy_zif_cell())
    write_toy_legacy_model(root / "student.pth")
    write_toy_legacy_model(root / "teacher.pth", well_depths=TEACHER_DEPTHS)
    stage(root, "candidates", "out", "--student", "student.pth", *CANDIDATES)
    return root


def test_candidates_are_tagged_and_unlabelled(world):
    from ase.io import read as ase_read

    out = world / "out"
    plan = json.loads((out / "plan.json").read_text())
    bases = {name: ase_read(world / "out" / f"static_{name}.xyz", 0) for name in plan["structures"]}
    summary = json.loads((out / "summary.json").read_text())
    assert len(plan["runs"]) == 5 + 5 + 2 * 2 + 1
    for run in plan["runs"]:
        frames = read(out / f"{run['name']}.xyz")
        assert frames, run["name"]
        for f in frames:
            assert f.info["source"] == run["name"] and f.info["group"] == run["group"]
            assert f.calc is None and set(f.arrays) == {"numbers", "positions"}  # nothing of the student's
            if run["type"] == "hot":
                assert f.info["kind"] == ("hot" if f.info["target_temperature_K"] >= 1000 else "warm")
            else:
                assert f.info["kind"] == "cold"
        stopped = run["group"] == "ZIF4_15glass02" and run["type"] != "static"
        assert (summary[run["name"]]["stop"] is not None) == stopped
        if stopped:  # the watchdog snapshot and 3 copies rattled by σ = 0.05 Å
            assert [f.info["origin"] for f in frames] == ["watchdog"] + ["watchdog_rattle0.05"] * 3
            for copy in frames[1:]:
                assert 0.03 < rms_displacement(copy, frames[0]) < 0.07
        elif run["type"] == "static":
            assert len(frames) == N_STATIC
            base = frames[0]
            for f, sigma in zip(frames[1:7], [0.03, 0.03, 0.06, 0.06, 0.1, 0.1]):
                assert f.info["origin"] == f"rattle{sigma:g}"
                assert 0.5 * sigma < rms_displacement(f, base) < 1.6 * sigma
            for f in frames[7:]:
                strain = np.linalg.solve(base.cell[:], f.cell[:])
                assert np.allclose(strain, strain.T, atol=1e-6) and not np.allclose(strain, np.eye(3))
                assert np.abs(np.diag(strain) - 1).max() <= 0.04 + 1e-6
                assert np.abs(strain - np.diag(np.diag(strain))).max() <= 0.02 + 1e-6
        else:
            assert [f.info["step"] for f in frames] == ([5, 10, 15, 20] if run["type"] == "cold"
                                                        else [5, 10, 15, 20, 25, 30])
            assert all(f.info["origin"] == "md" for f in frames)
            volume = bases[run["group"]].get_volume() * run["volume"]
            assert all(f.get_volume() == pytest.approx(volume) for f in frames)
    kinds = [f.info["kind"] for f in read(out / "hot_crystal_lmp_v0.92.xyz")]
    assert kinds == ["warm"] + ["hot"] * 5  # 300 -> 1500 K over 10 steps: 900 K at step 5


def test_candidates_resume_skips_finished_runs(world):
    out = world / "out"
    runs = [r["name"] for r in json.loads((out / "plan.json").read_text())["runs"]]
    before = {f"{r}.xyz": ((out / f"{r}.xyz").stat().st_mtime_ns, (out / f"{r}.xyz").read_bytes())
              for r in runs}
    redo = ["static_crystal_lmp.xyz", "hot_crystal_lmp_v1.00.xyz"]
    for name in redo:
        (out / name).unlink()  # as if killed before they were written (md.run resumes its run)
    result = stage(world, "candidates", "out", "--student", "student.pth", *CANDIDATES)
    assert result.stdout.count("done, skipped") == len(before) - len(redo)
    for name, (mtime, text) in before.items():
        assert (out / name).read_bytes() == text, name  # same frames again: seeds of their own
        if name not in redo:
            assert (out / name).stat().st_mtime_ns == mtime, name
    changed = stage(world, "candidates", "out", "--student", "student.pth", *CANDIDATES,
                    "--every", "10", check=False)
    assert changed.returncode != 0 and "other settings" in changed.stderr


def test_a_later_round_makes_only_the_runs_asked_for(world):
    """``--runs hot`` with no ``--test-hot-starts``: the training hot runs only, none held out."""
    later = ["candidates", "round2", "--student", "student.pth", "--no-progress", "--runs", "hot",
             "--test-groups", "ZIF4_15glass07", "crystal_exp", "--hot-starts", "crystal_lmp",
             "ZIF4_15glass02", "--test-hot-starts", "--volumes", "0.96", "--heat-ps", "0.005",
             "--hold-ps", "0.01", "--every", "5"]
    lines = stage(world, *later, "--dry-run").stdout.splitlines()
    assert lines[0].startswith("2 runs (0 held out)")
    assert [line.split()[0] for line in lines[1:]] == ["hot_crystal_lmp_v0.96",
                                                       "hot_ZIF4_15glass02_v0.96"]
    assert not (world / "round2").exists()  # a dry run writes nothing
    stage(world, *later)
    stage(world, "select", "round2")
    pool = read(world / "round2" / "train_pool.xyz")
    assert {f.info["source"] for f in pool} == {"hot_crystal_lmp_v0.96", "hot_ZIF4_15glass02_v0.96"}
    assert not list((world / "round2").glob("test_*.xyz"))  # nothing held out: no test sets


def test_before_stop_keeps_the_path_into_each_failure():
    """Only runs that ended in a watchdog stop, and only their last frames before the stop."""
    from ase import Atoms

    def frame(source, step, origin="md"):
        return Atoms("H", info={"source": source, "step": step, "origin": origin})

    frames = ([frame("held", s) for s in range(5, 500, 5)]
              + [frame("broke", s) for s in range(5, 100, 5)]
              + [frame("broke", 103, "watchdog"), frame("broke", 103, "watchdog_rattle0.05")])
    kept = fast_model().frames_before_stops(frames, 20)
    assert [(f.info["step"], f.info["origin"]) for f in kept] == [
        (85, "md"), (90, "md"), (95, "md"), (103, "watchdog"), (103, "watchdog_rattle0.05")]


def test_select_before_stop_on_a_later_round(world):
    """In round 2 the toy glass 02 stops at once and the crystal holds: only glass 02 is kept."""
    stage(world, "select", "round2", "--before-stop", "10")
    pool = read(world / "round2" / "train_pool.xyz")
    assert pool and {f.info["source"] for f in pool} == {"hot_ZIF4_15glass02_v0.96"}
    stage(world, "select", "round2")  # as the other tests expect it


def test_snapshots_of_other_runs_get_rattled_copies(world):
    """A melt-quench's watchdog snapshots: kept as they are, each followed by its copies."""
    from ase.io import write

    from aseml_zif.testing.toy_model import toy_zif_cell

    snaps = [toy_zif_cell(), toy_zif_cell()]
    snaps[1].positions += 0.2
    for k, s in enumerate(snaps):
        s.info = {"source": f"meltquench_seed{k}", "group": "crystal", "kind": "hot",
                  "origin": "watchdog", "step": 10 * k, "target_temperature_K": 1300.0 + k}
    write(world / "snaps.xyz", snaps, format="extxyz")
    stage(world, "snapshots", "snaps.xyz", "snap_pool.xyz", "--copies", "2", "--sigma", "0.05")
    frames = read(world / "snap_pool.xyz")
    assert len(frames) == 6
    for k, s in enumerate(snaps):
        kept, copies = frames[3 * k], frames[3 * k + 1:3 * k + 3]
        assert rms_displacement(kept, s) < 1e-6 and kept.info == s.info  # wrapped, not moved
        for c in copies:
            assert c.info == {**s.info, "origin": "watchdog_rattle0.05"}
            assert 0.03 < rms_displacement(c, s) < 0.07  # σ = 0.05 Å per component
        assert not np.allclose(copies[0].positions, copies[1].positions)
    again = world / "snap_pool_again.xyz"
    stage(world, "snapshots", "snaps.xyz", again.name, "--copies", "2", "--sigma", "0.05")
    assert again.read_text() == (world / "snap_pool.xyz").read_text()  # remade identically


def test_select_holds_out_whole_groups(world):
    out = world / "out"
    stage(world, "select", "out")
    train, cold, hot = (read(out / f"{n}.xyz") for n in ("train_pool", "test_cold", "test_hot"))
    train_groups = {f.info["group"] for f in train}
    assert not train_groups & HELD_OUT  # no trajectory or structure on both sides
    assert {f.info["group"] for f in cold} == HELD_OUT
    assert {f.info["group"] for f in hot} == {"ZIF4_15glass07"}
    assert {f.info["kind"] for f in cold} == {"cold"} and {f.info["kind"] for f in hot} == {"hot"}
    assert {f.info["source"] for f in hot} == {"hot_ZIF4_15glass07_v1.00"}
    plan = json.loads((out / "plan.json").read_text())
    everything = [f for r in plan["runs"] for f in read(out / f"{r['name']}.xyz")]
    assert len(train) == sum(f.info["group"] not in HELD_OUT for f in everything)
    for kind, frames in (("cold", cold), ("hot", hot)):
        assert len(frames) == sum(f.info["group"] in HELD_OUT and f.info["kind"] == kind
                                  for f in everything)
    assert train_groups == {"crystal_lmp", "ZIF4_15glass01", "ZIF4_15glass02"}
    assert {f.info["kind"] for f in train} == {"cold", "warm", "hot"}


@pytest.fixture(scope="module")
def labelled(world):
    """Labels of the training pool, given to the label stage with fake student labels on."""
    from aseml_zif.data import with_labels, write_frames

    stage(world, "select", "out")
    pool = read(world / "out" / "train_pool.xyz")
    faked = [with_labels(f, energy=1.0, forces=np.ones((len(f), 3)), stress=np.zeros(6),
                         info={"student_energy": 1.0}) for f in pool]
    write_frames(faked, world / "with_student.xyz")
    stage(world, "label", "with_student.xyz", "single.xyz", "--teacher", "teacher.pth")
    return pool, world / "single.xyz"


def test_labels_come_from_the_teacher(labelled):
    from aseml_zif.testing.toy_model import toy_pair_energy

    pool, path = labelled
    frames = read(path)
    assert len(frames) == len(pool)
    for f, p in zip(frames, pool):
        assert np.allclose(f.positions, p.positions) and f.info == p.info  # tags kept, no student key
        teacher = toy_pair_energy(f, well_depths=TEACHER_DEPTHS)
        assert f.get_potential_energy() == pytest.approx(teacher, rel=1e-9, abs=1e-9)
        assert toy_pair_energy(f) != pytest.approx(teacher, rel=1e-3)  # the student would differ
        assert not np.allclose(f.get_forces(), 1.0)


def test_worker_split_and_merge_reproduce_one_process(world, labelled):
    from aseml_zif.data import write_frames

    module = fast_model(FRAMES)
    procs = [subprocess.Popen([sys.executable, str(SCRIPT), "label", "with_student.xyz",
                               "split.xyz", "--teacher", "teacher.pth", "--worker", str(k),
                               "--workers", "2"], cwd=world, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env={**os.environ, "OMP_NUM_THREADS": "1"})
             for k in range(2)]
    assert all(p.wait(timeout=300) == 0 for p in procs)
    parts = [read(world / f"split.part{k}of2.xyz") for k in range(2)]
    assert min(map(len, parts)) > 0
    module.merge(world / "with_student.xyz", world / "split.xyz", 2)
    assert (world / "split.xyz").read_bytes() == labelled[1].read_bytes()
    write_frames(parts[1][: len(parts[1]) // 2], world / "split.part1of2.xyz")  # killed half-way
    with pytest.raises(SystemExit, match="finish worker 1"):
        module.merge(world / "with_student.xyz", world / "split.xyz", 2)


def test_pack_round_trip(world, labelled):
    from aseml_zif.data import write_frames

    module = fast_model(FRAMES)
    _, path = labelled
    write_frames(read(path)[:3], world / "second.xyz")
    original = read(path) + read(world / "second.xyz")
    packed = world / "frames.npz"
    module.pack(packed, [path, world / "second.xyz"])
    with np.load(packed) as data:
        for key in ("positions", "forces", "cell", "stress"):
            assert data[key].dtype == np.float32
    assert packed.stat().st_size < 0.5 * path.stat().st_size
    rows = module.unpack_frames(packed)
    assert [name for name, _ in rows] == ["single"] * (len(original) - 3) + ["second"] * 3
    for (_, f), o in zip(rows, original):
        assert np.array_equal(f.numbers, o.numbers) and f.info == o.info
        assert f.get_potential_energy() == o.get_potential_energy()
        for got, want in ((f.positions, o.positions), (f.cell[:], o.cell[:]),
                          (f.get_forces(), o.get_forces()), (f.get_stress(), o.get_stress())):
            assert np.array_equal(got, np.asarray(want, np.float32).astype(float))
    module.unpack(packed, world / "unpacked")
    unpacked = read(world / "unpacked" / "single.xyz") + read(world / "unpacked" / "second.xyz")
    assert len(unpacked) == len(original)
    for f, o in zip(unpacked, original):
        assert f.info == o.info and f.get_potential_energy() == o.get_potential_energy()
        assert np.allclose(f.positions, o.positions, rtol=2e-7, atol=1e-8)
        assert np.allclose(f.get_forces(), o.get_forces(), rtol=2e-7, atol=1e-8)


def test_pack_leaves_out_frames_with_absurd_teacher_forces(world, labelled, capsys):
    from aseml_zif.data import with_labels, write_frames

    module = fast_model(FRAMES)
    _, path = labelled
    frames = read(path)[:3]
    largest = max(np.abs(f.get_forces()).max() for f in frames)
    forces = frames[1].get_forces()
    forces[5, 2] = 1e5  # a collapsed structure's label
    frames[1] = with_labels(frames[1], frames[1].get_potential_energy(), forces,
                            frames[1].get_stress())
    write_frames(frames, world / "outlier.xyz")
    module.pack(world / "filtered.npz", [world / "outlier.xyz"], max_force=largest + 1.0)
    assert "left out" in capsys.readouterr().out
    kept = [f for _, f in module.unpack_frames(world / "filtered.npz")]
    assert len(kept) == 2
    assert [f.get_potential_energy() for f in kept] == [frames[0].get_potential_energy(),
                                                        frames[2].get_potential_energy()]
    module.pack(world / "all.npz", [world / "outlier.xyz"])  # no limit: all kept
    assert len(module.unpack_frames(world / "all.npz")) == 3
