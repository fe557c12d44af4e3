"""Fuzzed readers: every file reader of the package, fed truncated and garbled copies of a valid
file, returns a valid result or raises an AsemlZifError whose message names the file; never
a dependency's exception (ValueError, IndexError, KeyError, UnicodeDecodeError ... from numpy,
ASE or the standard library)."""
import json
import os
import shutil

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.emt import EMT
from ase.io import write

from aseml_zif.analysis.frames import as_frame_list
from aseml_zif.analysis.scattering import read_dofr, read_int01
from aseml_zif.data import read_cp2k
from aseml_zif.data.store import read_frames, with_labels, write_frames
from aseml_zif.errors import AsemlZifError
from aseml_zif.io import read_structure
from aseml_zif.lammps import read_lammps_dump
from aseml_zif.md import RUN_FILES, Stage, run
from aseml_zif.md.checkpoint import read_checkpoint, write_checkpoint
from aseml_zif.md.output import FrameWriter

from conftest import SHARED

#: mutations per file; a deeper search: ASEML_ZIF_FUZZ_SEEDS=2000 pytest tests/test_fuzz_readers.py
N_SEEDS = int(os.environ.get("ASEML_ZIF_FUZZ_SEEDS", 40))

# ASE's CIF parser warns about the rows a mutation broke before the reader refuses the file
pytestmark = pytest.mark.filterwarnings("ignore::UserWarning:ase.io.cif")

#: tokens written over a field by the "garble" mutation: junk, signs, overflows, NaN, bad UTF-8
JUNK = [b"x", b"-", b"-7", b"0", b"99999999999", b"1e999", b"nan", b"inf", b"\xff\xfe", b"",
        b"  ", b"\x00", b"#", b"ITEM:", b"loop_", b"Zq"]


# ----------------------------------------------------------------- mutations
def _lines(data):
    return data.splitlines(keepends=True)


def mutate(data, rng):
    """One random mutation of ``data`` (bytes) and its description."""
    kind = rng.choice(["truncate", "flip", "delete lines", "garble field", "duplicate line"])
    if kind == "truncate":
        cut = int(rng.integers(0, len(data)))
        return data[:cut], f"truncated at byte {cut}"
    if kind == "flip":
        out = bytearray(data)
        where = rng.integers(0, len(data), size=int(rng.integers(1, 9)))
        for k in where:
            out[k] = int(rng.integers(0, 256))
        return bytes(out), f"bytes {sorted(where.tolist())} replaced"
    lines = _lines(data)
    k = int(rng.integers(0, len(lines)))
    if kind == "delete lines":
        n = int(rng.integers(1, 4))
        return b"".join(lines[:k] + lines[k + n:]), f"lines {k + 1}-{k + n} deleted"
    if kind == "duplicate line":
        return b"".join(lines[:k + 1] + lines[k:]), f"line {k + 1} duplicated"
    fields = lines[k].split(b" ")
    j = int(rng.integers(0, len(fields)))
    token = JUNK[int(rng.integers(0, len(JUNK)))]
    fields[j] = token
    return b"".join(lines[:k] + [b" ".join(fields)] + lines[k + 1:]), \
        f"line {k + 1} field {j + 1} -> {token!r}"


def _finite_frames(frames):
    assert len(frames) > 0
    for atoms in frames:
        assert isinstance(atoms, Atoms) and len(atoms) > 0
        assert np.isfinite(atoms.positions).all() and np.isfinite(atoms.cell[:]).all()
        if atoms.calc is not None:
            for value in atoms.calc.results.values():
                assert np.isfinite(value).all()


def _periodic(atoms):
    _finite_frames([atoms])
    assert atoms.pbc.all() and atoms.cell.rank == 3


def fuzz(target, read, check, restore=(), named=None, min_errors=0.25):
    """Mutate ``target`` (a file) N_SEEDS times; ``read()`` must pass ``check`` or raise an
    AsemlZifError naming ``target`` (or ``named``, a path that locates it).

    ``restore``: other files put back before every read. ``min_errors``: fraction of the
    mutations that must be refused (binary formats without checksums refuse fewer).
    """
    named = str(named or target.name)
    original = target.read_bytes()
    kept = [(p, p.read_bytes()) for p in restore]
    failures, refused = [], 0
    for seed in range(N_SEEDS):
        data, how = mutate(original, np.random.default_rng(seed))
        target.write_bytes(data)
        for path, content in kept:
            path.write_bytes(content)
        try:
            result = read()
        except AsemlZifError as exc:
            if named not in str(exc):
                failures.append(f"seed {seed} ({how}): message does not name {named}: {exc}")
            refused += 1
            continue
        except Exception as exc:  # noqa: BLE001 - the leak this test exists to find
            failures.append(f"seed {seed} ({how}): {type(exc).__name__}: {exc}")
            continue
        try:
            check(result)
        except AssertionError:
            failures.append(f"seed {seed} ({how}): returned an invalid result")
    target.write_bytes(original)
    assert not failures, "\n".join(failures)
    assert refused >= min_errors * N_SEEDS  # the mutations do break the file


# ----------------------------------------------------------------- valid inputs
def _crystal():
    return Atoms("ZnN2C3H3", cell=[[7.1, 0, 0], [0.4, 7.3, 0], [0.2, 0.3, 7.6]], pbc=True,
                 scaled_positions=np.random.default_rng(0).random((9, 3)))


def _cp2k_run(prefix):
    """Positions, forces, energies, cells and stresses of a 3-atom, 3-step CP2K MD run."""
    rows = {"pos": [], "frc": []}
    ener = ["#     Step Nr.          Time[fs]        Kin.[a.u.]          Temp[K]          Pot.[a.u.]"
            "        Cons Qty[a.u.]        UsedTime[s]"]
    cell = ["#   Step   Time [fs]       Ax [Angstrom] ... Volume [Angstrom^3]"]
    stress = ["#   Step   Time [fs]        xx [bar] ... zz [bar]"]
    box = np.array([[10.0, 0, 0], [0.5, 11.0, 0], [0.2, 0.3, 12.0]])
    for s in range(3):
        energy = -100.0 - 0.001 * s
        for kind, values in (("pos", [[1.0, 1.0, 1.0], [3.0, 1.0, 1.0], [1.0, 2.0, 1.0]]),
                             ("frc", [[0.01, 0.0, -0.02], [-0.01, 0.005, 0.02], [0.0, -0.005, 0.0]])):
            rows[kind] += ["       3", f" i = {s:8d}, time = {0.5 * s:12.3f}, E = {energy:24.10f}"]
            rows[kind] += [f"  {el:2s} {x + 0.01 * s:16.10f} {y:16.10f} {z:16.10f}"
                           for el, (x, y, z) in zip(["Zn", "N", "H"], values)]
        ener.append(f"{s:10d} {0.5 * s:18.6f} {0.01:18.9f} {300.0 + s:18.9f} {energy:22.12f} "
                    f"{-99.0:22.12f} {1.0:12.3f}")
        cell.append(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{v:19.10f}" for v in box.ravel())
                    + f" {np.linalg.det(box):19.10f}")
        stress.append(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{100.0 * k + s:15.6f}" for k in range(9)))
    files = {"-pos-1.xyz": rows["pos"], "-frc-1.xyz": rows["frc"], "-1.ener": ener,
             "-1.cell": cell, "-1.stress": stress}
    paths = []
    for suffix, lines in files.items():
        path = prefix.parent / f"{prefix.name}{suffix}"
        path.write_text("\n".join(lines) + "\n")
        paths.append(path)
    return paths


def _lammps_dump(path, element_column):
    atoms = _crystal()
    lines = []
    for step in (0, 100):
        lines += ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(atoms)),
                  "ITEM: BOX BOUNDS xy xz yz pp pp pp",
                  "0.0 7.7 0.4", "0.0 7.6 0.2", "0.0 7.6 0.3",
                  "ITEM: ATOMS id type " + ("element " if element_column else "") + "x y z"]
        types = {"C": 1, "H": 2, "N": 3, "Zn": 4}
        for k, (symbol, xyz) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions)):
            element = f"{symbol} " if element_column else ""
            lines.append(f"{k + 1} {types[symbol]} {element}" + " ".join(f"{v:.6f}" for v in xyz + step / 1e3))
    path.write_text("\n".join(lines) + "\n")
    return path


NACL_CIF = (
    "data_NaCl\n_symmetry_space_group_name_H-M 'F m -3 m'\n_symmetry_Int_Tables_number 225\n"
    "_cell_length_a 5.64\n_cell_length_b 5.64\n_cell_length_c 5.64\n"
    "_cell_angle_alpha 90\n_cell_angle_beta 90\n_cell_angle_gamma 90\n"
    "loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n"
    "_atom_site_fract_y\n_atom_site_fract_z\nNa1 Na 0 0 0\nCl1 Cl 0.5 0.5 0.5\n"
)


def _labelled_frames():
    frames = []
    for k in range(3):
        atoms = _crystal()
        atoms.rattle(0.05, seed=k)
        rng = np.random.default_rng(k)
        frames.append(with_labels(atoms, energy=-10.0 - k, forces=rng.normal(size=(9, 3)),
                                  stress=rng.normal(size=6) * 1e-3, info={"source": f"f{k}"}))
    return frames


def _scattering_table(path):
    q = np.linspace(0.6, 20.0, 60)
    rows = [f"{x:12.5f} {np.sin(x) / x:14.6e} {0.01:12.4e}" for x in q]
    path.write_text("# Q F(Q) error\n" + "\n".join(rows) + "\n")
    return path


# ----------------------------------------------------------------- the readers
def test_cp2k_readers(tmp_path):
    prefix = tmp_path / "ZIF4-300K"
    paths = _cp2k_run(prefix)
    assert len(read_cp2k(prefix)) == 3
    for path in paths:
        fuzz(path, lambda: read_cp2k(prefix), _finite_frames)


@pytest.mark.parametrize("suffix", [".cif", ".extxyz", ".lmp"])
def test_read_structure(tmp_path, suffix):
    path = tmp_path / f"crystal{suffix}"
    if suffix == ".lmp":
        write(path, _crystal(), format="lammps-data", masses=True, units="metal",
              specorder=["C", "H", "N", "Zn"])
    else:
        write(path, _crystal())
    assert read_structure(path).get_chemical_formula() == "C3H3N2Zn"
    fuzz(path, lambda: read_structure(path), _periodic)


def test_read_structure_lammps_data_with_species(tmp_path):
    path = tmp_path / "crystal.data"
    write(path, _crystal(), format="lammps-data", units="metal", specorder=["C", "H", "N", "Zn"])
    species = ["C", "H", "N", "Zn"]
    assert read_structure(path, species=species).get_chemical_formula() == "C3H3N2Zn"
    fuzz(path, lambda: read_structure(path, species=species), _periodic)


def test_read_structure_symmetric_cif(tmp_path):
    path = tmp_path / "nacl.cif"
    path.write_text(NACL_CIF)
    assert len(read_structure(path)) == 8
    fuzz(path, lambda: read_structure(path), _periodic)


@pytest.mark.parametrize("name", ["zif4_crystal.lmp", "abinitio_glasses/ZIF4_15glass01.cif"])
def test_read_published_structures(tmp_path, name):
    source = SHARED / "structures" / name
    if not source.exists():
        pytest.skip(f"published structure not found: {source} (set ASEML_ZIF_SHARED_DATA)")
    path = tmp_path / source.name
    shutil.copy(source, path)
    assert len(read_structure(path)) == 272
    fuzz(path, lambda: read_structure(path), _periodic)


def test_extxyz_frame_readers(tmp_path):
    path = tmp_path / "frames.extxyz"
    write_frames(_labelled_frames(), path)
    assert len(read_frames(path)) == 3 and len(as_frame_list(path)) == 3
    fuzz(path, lambda: read_frames(path), _finite_frames)
    fuzz(path, lambda: as_frame_list(path, stride=2), _finite_frames)


@pytest.mark.parametrize("element_column", [True, False], ids=["element", "types"])
def test_lammps_dump(tmp_path, element_column):
    path = _lammps_dump(tmp_path / "dump.lammpstrj", element_column)
    elements = None if element_column else ["C", "H", "N", "Zn"]
    frames = read_lammps_dump(path, elements=elements)
    assert [f.info["step"] for f in frames] == [0, 100]
    assert frames[0].get_chemical_formula() == "C3H3N2Zn"
    fuzz(path, lambda: read_lammps_dump(path, elements=elements), _finite_frames)


def test_lammps_job_settings(tmp_path):
    """``job.json`` next to a dump (written by export_lammps_job) is read too."""
    path = _lammps_dump(tmp_path / "dump.lammpstrj", element_column=False)
    settings = tmp_path / "job.json"
    stages = [Stage("nvt", 0.05, 300.0).to_dict()]
    settings.write_text(json.dumps({"stages": stages, "timestep_fs": 1.0,
                                    "elements": ["C", "H", "N", "Zn"]}, indent=1))
    assert read_lammps_dump(path)[1].info["time_fs"] == 100.0
    fuzz(settings, lambda: read_lammps_dump(path), _finite_frames)


@pytest.mark.parametrize("suffix", [".int01", ".dofr"])
def test_xray_data_files(tmp_path, suffix):
    path = _scattering_table(tmp_path / f"glass{suffix}")
    read = read_int01 if suffix == ".int01" else read_dofr

    def check(data):
        columns = [np.asarray(c) for c in vars(data).values() if isinstance(c, np.ndarray)]
        assert len({c.shape for c in columns}) == 1 and all(np.isfinite(c).all() for c in columns)

    check(read(path))
    fuzz(path, lambda: read(path), check)


@pytest.mark.parametrize("suffix", [".int01", ".dofr"])
def test_measured_xray_files(tmp_path, suffix):
    source = SHARED / "experiment" / f"ZIF4glassa_31{suffix}"
    if not source.exists():
        pytest.skip(f"published measurement not found: {source} (set ASEML_ZIF_SHARED_DATA)")
    path = tmp_path / source.name
    shutil.copy(source, path)
    read = read_int01 if suffix == ".int01" else read_dofr
    fuzz(path, lambda: read(path), lambda data: None)


def test_checkpoint(tmp_path):
    path = tmp_path / "checkpoint.npz"
    write_checkpoint(path, {"positions": np.ones((4, 3)), "cell": np.eye(3)},
                     {"step": 10, "n_frames": 2, "rng_state": {"state": 1}})
    assert read_checkpoint(path)[1]["step"] == 10

    def check(result):
        arrays, meta = result
        assert isinstance(arrays, dict) and isinstance(meta, dict)

    fuzz(path, lambda: read_checkpoint(path), check)


# ----------------------------------------------------------------- a run resumed from its files
@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from ase.build import bulk

    workdir = tmp_path_factory.mktemp("run")
    atoms = bulk("Cu", cubic=True)
    stages = [Stage("nvt", 0.006, 300.0)]
    settings = dict(timestep_fs=1.0, save_every=1, checkpoint_every=3, seed=1, progress=False,
                    watchdog=False)
    run(atoms, EMT(), stages, workdir, **settings)
    return workdir, lambda: run(atoms, EMT(), stages, workdir, **settings)


@pytest.mark.parametrize("name", ["trajectory", "checkpoint", "settings"])
def test_resumed_run(finished_run, name):
    """Rerunning a finished run reads ``run.json``, the checkpoint and the trajectory back."""
    workdir, resume = finished_run
    others = [workdir / RUN_FILES[k] for k in ("trajectory", "checkpoint", "settings", "thermo")
              if k != name]
    # a damaged run.json reads as another run's settings: the refusal names the run folder
    named = workdir if name == "settings" else None
    fuzz(workdir / RUN_FILES[name], resume, _periodic, restore=others, named=named,
         min_errors=0.1 if name == "trajectory" else 0.25)


def test_trajectory_cut_back_on_resume(finished_run, tmp_path):
    """A resumed run drops the frames written after its checkpoint (``FrameWriter._cut_to``)."""
    workdir, _ = finished_run
    path = tmp_path / "trajectory.traj"
    shutil.copy(workdir / RUN_FILES["trajectory"], path)

    def cut():
        writer = FrameWriter(path, keep_frames=3)
        n = len(writer)
        writer.close()
        return n

    fuzz(path, cut, lambda n: None, min_errors=0.1)  # ASE's .traj has no checksums
