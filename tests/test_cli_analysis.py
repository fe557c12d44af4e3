"""``aseml-zif analyze`` on LAMMPS files (dumps without element column, data files) with
``--species`` in type order, and one ``--zn-n-cutoff`` for coordination, angles and linkers."""
import json

from aseml_zif.cli import main
from aseml_zif.structures import zif4_crystal


def write_dump(path, frames, type_order, columns=("id", "type", "x", "y", "z")):
    """Frames as a LAMMPS ``dump custom`` of an orthorhombic box, with ``columns`` per atom (as
    the paper's input writes: ``id type x y z``, no element column)."""
    with open(path, "w") as fh:
        for step, atoms in enumerate(frames):
            fh.write(f"ITEM: TIMESTEP\n{50 * step}\nITEM: NUMBER OF ATOMS\n{len(atoms)}\n"
                     "ITEM: BOX BOUNDS pp pp pp\n")
            fh.writelines(f"0.0 {length}\n" for length in atoms.cell.lengths())
            fh.write(f"ITEM: ATOMS {' '.join(columns)}\n")
            for k, (symbol, pos) in enumerate(zip(atoms.get_chemical_symbols(), atoms.positions)):
                values = {"id": k + 1, "type": type_order.index(symbol) + 1, "element": symbol,
                          "x": pos[0], "y": pos[1], "z": pos[2]}
                fh.write(" ".join(str(values[c]) for c in columns) + "\n")
    return path


def test_analyze_lammps_dump_with_species(tmp_path, capsys):
    """A dump without element column (types 1-4 = C H N Zn) analysed with --species."""
    crystal = zif4_crystal()
    shifted = crystal.copy()
    shifted.positions += 0.01
    path = write_dump(tmp_path / "dump_vel", [crystal, shifted], ["C", "H", "N", "Zn"])
    out = tmp_path / "analysis"
    assert main(["analyze", str(path), "--species", "C", "H", "N", "Zn", "--out", str(out),
                 "--no-rings", "--no-pores"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["n_frames"] == 2 and report["formula"] == crystal.get_chemical_formula()
    assert report["coordination"]["mean"] == 4.0
    assert report["linkers"]["n_intact_per_frame"] == [32, 32]

    # types read as H, He, Li, Be without --species: refused, saying what to pass
    assert main(["analyze", str(path), "--out", str(tmp_path / "no_species")]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert str(path) in error and "--species C H N Zn" in error and "element" in error
    assert not (tmp_path / "no_species" / "report.json").exists()

    assert main(["analyze", str(path), "--species", "C", "H", "N", "--out", str(out)]) == 2
    assert "atom type 4" in capsys.readouterr().err


def test_analyze_truncated_dump_is_one_clean_line(tmp_path, capsys):
    path = write_dump(tmp_path / "dump_vel", [zif4_crystal()], ["C", "H", "N", "Zn"])
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:20]))
    assert main(["analyze", str(path), "--species", "C", "H", "N", "Zn"]) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and str(path) in error[0] and "LAMMPS dump" in error[0]


def test_analyze_lammps_dump_with_element_column_needs_no_species(tmp_path, capsys):
    path = write_dump(tmp_path / "dump.lammpstrj", [zif4_crystal()], ["Zn", "N", "C", "H"],
                      columns=("id", "type", "element", "x", "y", "z"))
    out = tmp_path / "analysis"
    assert main(["analyze", str(path), "--out", str(out), "--no-rings", "--no-pores"]) == 0
    assert json.loads((out / "report.json").read_text())["coordination"]["mean"] == 4.0
    # --species would be ignored by the reader: refused rather than silently dropped
    assert main(["analyze", str(path), "--species", "C", "H", "N", "Zn", "--out", str(out)]) == 2
    assert "'element' column" in capsys.readouterr().err


def test_analyze_lammps_data_file_with_species(tmp_path, capsys):
    """A LAMMPS data file without Masses section: elements from --species in type order."""
    from ase.io.lammpsdata import write_lammps_data

    path = tmp_path / "crystal.data"
    with open(path, "w") as fh:
        write_lammps_data(fh, zif4_crystal(), specorder=["C", "H", "N", "Zn"], masses=False,
                          units="metal", atom_style="atomic")
    out = tmp_path / "analysis"
    assert main(["analyze", str(path), "--species", "C", "H", "N", "Zn", "--out", str(out),
                 "--no-rings", "--no-pores"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["formula"] == "C96H96N64Zn16" and report["coordination"]["mean"] == 4.0
    assert main(["analyze", str(path), "--out", str(out)]) == 2
    assert "Masses" in capsys.readouterr().err


def test_analyze_species_only_for_lammps_files(tmp_path, capsys):
    from ase.io import write

    path = tmp_path / "crystal.extxyz"
    write(path, zif4_crystal())
    assert main(["analyze", str(path), "--species", "C", "H", "N", "Zn"]) == 2
    assert "--species is only for LAMMPS" in capsys.readouterr().err
    assert main(["analyze", str(path), "--species", "C", "Hx"]) == 2
    assert "Hx is not an element" in capsys.readouterr().err


def test_analyze_zn_n_cutoff_applies_to_linkers(tmp_path):
    """--zn-n-cutoff 2.03 Å keeps 40 of the crystal's 64 Zn–N bonds (2.014–2.037 Å): the
    coordination, the angles and the linker check all see the same 40 bonds."""
    from ase.io import write

    path = tmp_path / "crystal.extxyz"
    write(path, zif4_crystal())
    out = tmp_path / "analysis"
    assert main(["analyze", str(path), "--zn-n-cutoff", "2.03", "--out", str(out), "--no-rings",
                 "--no-pores"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["coordination"]["mean"] == 2.5
    assert report["angles"]["n_angles"] == 8 * 1 + 8 * 3  # 8 Zn with 2 bonds, 8 with 3
    linkers = report["linkers"]["last_frame"]
    assert linkers["n_zn_im_bonds"] == 40 and linkers["mean_coordination"] == 2.5
    assert len(linkers["undercoordinated_zn"]) == 16
