"""CP2K AIMD readers on small hand-written files in CP2K's formats."""
import numpy as np
import pytest
from ase import units

from aseml_zif.data import read_cp2k
from aseml_zif.data.cp2k import Cp2kFormatError
from aseml_zif.errors import AsemlZifError

SYMBOLS = ["Zn", "N", "H"]
CELL = np.array([[10.0, 0.0, 0.0], [0.5, 11.0, 0.0], [0.2, 0.3, 12.0]])


def _xyz_block(step, energy, rows):
    lines = [f"{len(rows):8d}", f" i = {step:8d}, time = {0.5 * step:12.3f}, E = {energy:24.10f}"]
    lines += [f"  {s:2s} {x:16.10f} {y:16.10f} {z:16.10f}" for s, (x, y, z) in zip(SYMBOLS, rows)]
    return "\n".join(lines) + "\n"


def write_run(prefix, steps, energy=None, stress_bar=None, skip_frc_step=None, ener_shift=0.0):
    """Write pos/frc xyz and ener/cell/stress tables of a 3-atom run, as CP2K does."""
    energy = energy or (lambda s: -100.0 - 0.001 * s)
    pos, frc = "", ""
    ener = ["#     Step Nr.          Time[fs]        Kin.[a.u.]          Temp[K]            "
            "Pot.[a.u.]        Cons Qty[a.u.]        UsedTime[s]"]
    cell = ["#   Step   Time [fs]       Ax [Angstrom]       Ay [Angstrom]       Az [Angstrom]"
            "       Bx       By       Bz       Cx       Cy       Cz      Volume [Angstrom^3]"]
    stress = ["#   Step   Time [fs]        xx [bar]        xy [bar]        xz [bar]        "
              "yx [bar]        yy [bar]        yz [bar]        zx [bar]        zy [bar]        zz [bar]"]
    for s in steps:
        xyz = np.array([[1.0, 1.0, 1.0], [3.0, 1.0, 1.0], [1.0, 2.0, 1.0]]) + 0.01 * s
        f = np.array([[0.01, 0.0, -0.02], [-0.01, 0.005, 0.02], [0.0, -0.005, 0.0]]) * (1 + s)
        pos += _xyz_block(s, energy(s), xyz)
        if s != skip_frc_step:
            frc += _xyz_block(s, energy(s), f)
        ener.append(f"{s:10d} {0.5 * s:18.6f} {0.01:18.9f} {300.0 + s:18.9f} "
                    f"{energy(s) + ener_shift:22.12f} {-99.0:22.12f} {1.0:12.3f}")
        cell.append(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{v:19.10f}" for v in CELL.ravel())
                    + f" {np.linalg.det(CELL):19.10f}")
        p = stress_bar if stress_bar is not None else np.arange(9.0).reshape(3, 3) * 100 + s
        stress.append(f"{s:8d} {0.5 * s:12.3f} " + " ".join(f"{v:15.6f}" for v in np.ravel(p)))
    for suffix, text in (("-pos-1.xyz", pos), ("-frc-1.xyz", frc), ("-1.ener", "\n".join(ener)),
                         ("-1.cell", "\n".join(cell)), ("-1.stress", "\n".join(stress))):
        with open(f"{prefix}{suffix}", "a") as handle:
            handle.write(text if suffix.endswith("xyz") else text + "\n")


def test_units_and_conventions(tmp_path):
    prefix = tmp_path / "ZIF4-300K"
    p = np.array([[1000.0, 10.0, 20.0], [10.0, -500.0, 30.0], [20.0, 30.0, 250.0]])
    write_run(prefix, [0, 1], stress_bar=p)
    frames = read_cp2k(prefix)
    assert len(frames) == 2
    a = frames[1]
    assert a.get_chemical_symbols() == SYMBOLS
    assert np.allclose(a.cell[:], CELL)
    assert a.get_potential_energy() == pytest.approx(-100.001 * 27.211386, rel=1e-6)
    # Hartree/Bohr -> eV/Å: 1 Ha/Bohr = 51.42208619 eV/Å
    assert a.get_forces()[0, 2] == pytest.approx(-0.02 * 2 * 51.42208619, rel=1e-6)
    # pressure 1000 bar (compressive, CP2K sign) -> ASE stress -0.1 GPa
    sxx = a.get_stress(voigt=False)[0, 0]
    assert sxx / units.GPa == pytest.approx(-0.1, rel=1e-9)
    assert a.get_stress()[3] / units.GPa == pytest.approx(-30e-4, rel=1e-9)  # yz
    assert a.info["source"] == "ZIF4-300K" and a.info["step"] == 1
    assert a.info["time_fs"] == pytest.approx(0.5) and a.info["temperature_K"] == pytest.approx(301)


def test_restart_duplicates_keep_later_occurrence(tmp_path):
    prefix = tmp_path / "run"
    write_run(prefix, [0, 1, 2])
    # restart from step 1 with slightly different energies (a new trajectory branch)
    write_run(prefix, [1, 2, 3], energy=lambda s: -200.0 - s)
    frames = read_cp2k(prefix)
    assert [f.info["step"] for f in frames] == [0, 1, 2, 3]
    assert frames[1].get_potential_energy() == pytest.approx(-201 * units.Hartree)
    assert frames[0].get_potential_energy() == pytest.approx(-100 * units.Hartree)


def test_several_runs_tagged_by_source(tmp_path):
    write_run(tmp_path / "T600", [0, 1])
    write_run(tmp_path / "T900", [0, 1, 2])
    frames = read_cp2k([tmp_path / "T600", tmp_path / "T900"])
    assert [f.info["source"] for f in frames] == ["T600"] * 2 + ["T900"] * 3


def test_truncated_xyz_names_file_and_step(tmp_path):
    prefix = tmp_path / "cut"
    write_run(prefix, [0, 1, 2])
    path = tmp_path / "cut-pos-1.xyz"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-2]) + "\n")
    with pytest.raises(Cp2kFormatError, match=r"cut-pos-1\.xyz: step 2 is truncated"):
        read_cp2k(prefix)


def test_truncated_table_row(tmp_path):
    prefix = tmp_path / "cut"
    write_run(prefix, [0, 1, 2])
    path = tmp_path / "cut-1.stress"
    path.write_text(path.read_text().rstrip("\n").rsplit(" ", 3)[0] + "\n")
    with pytest.raises(Cp2kFormatError, match=r"cut-1\.stress: step 2 .*truncated"):
        read_cp2k(prefix)


def test_missing_force_step_is_an_error(tmp_path):
    prefix = tmp_path / "gap"
    write_run(prefix, [0, 1, 2, 3], skip_frc_step=2)
    with pytest.raises(Cp2kFormatError, match=r"gap-frc-1\.xyz.*step 2 missing"):
        read_cp2k(prefix)


def test_energy_disagreement_between_files(tmp_path):
    prefix = tmp_path / "bad"
    write_run(prefix, [0, 1], ener_shift=0.01)
    with pytest.raises(Cp2kFormatError, match=r"bad-1\.ener: step 0"):
        read_cp2k(prefix)


def test_missing_positions_and_cell(tmp_path):
    with pytest.raises(AsemlZifError, match="pos-1.xyz"):
        read_cp2k(tmp_path / "nothing")
    prefix = tmp_path / "nocell"
    write_run(prefix, [0])
    (tmp_path / "nocell-1.cell").unlink()
    with pytest.raises(Cp2kFormatError, match="cell="):
        read_cp2k(prefix)
    frames = read_cp2k(prefix, cell=CELL)
    assert np.allclose(frames[0].cell[:], CELL)
