"""``benchmarks/student_architectures.py --quick``: the table lists the architecture asked for
and the current student, with positive times and the neighbour counts that
``ase.neighborlist`` finds on the same cell."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

from ase.neighborlist import neighbor_list

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "student_architectures.py"


def quick_cell():
    spec = importlib.util.spec_from_file_location("student_architectures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.quick_cell()


def table_rows(stdout):
    """Rows of the markdown table as dicts of cells by column title, keyed by architecture."""
    lines = [[cell.strip() for cell in line.strip("|").split("|")]
             for line in stdout.splitlines() if line.startswith("| ")]
    header, rows = lines[0], lines[2:]
    return {row[0]: dict(zip(header, row)) for row in rows}


def test_quick_run_times_the_architecture_and_counts_its_neighbours():
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--arch", "layers=1,features=8,l_max=1,r_max=3.0"],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    rows = table_rows(result.stdout)
    small = rows["NequIP 1×8 l1 r3.0 radial 1×64"]
    student = rows["NequIP 2×32 l1 r4.0 radial 1×64 (current student)"]
    atoms = quick_cell()
    for row, r_max in ((small, 3.0), (student, 4.0)):
        assert float(row["eager (ms/call)"]) > 0
        expected = len(neighbor_list("i", atoms, r_max)) / len(atoms)
        assert abs(float(row["neighbours/atom"]) - expected) < 0.006, (row, expected)
    assert 0 < int(small["parameters"]) < int(student["parameters"])
    assert student["× student"] == "1.00"


def test_pair_cutoffs_reach_the_deployed_model(tmp_path):
    """``cut_H=2.5``: the untrained package carries the pair cut-offs, the calculator keeps only
    the edges within them, and the table counts those edges."""
    import aseml_zif
    from aseml_zif.calculator.current import nequip_global_state

    nequip_global_state()  # nequip builds models only after this (the benchmark's main does it)
    spec = importlib.util.spec_from_file_location("student_architectures", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    architecture, values = module.parse_arch("layers=1,features=8,l_max=1,r_max=3.0,cut_H=2.5")
    assert values["pair_cutoffs"] == {"H": 2.5}
    cand = module.candidate(architecture, values, module.student_hyperparameters())
    atoms = module.quick_cell()
    calc = aseml_zif.load_potential(module.write_untrained_package(cand, atoms, tmp_path / "m.nequip.zip"),
                                    device="cpu")
    i, j, d = neighbor_list("ijd", atoms, 3.0)
    symbols = atoms.get_chemical_symbols()
    kept = [(a, b) for a, b, r in zip(i, j, d) if r < (2.5 if "H" in (symbols[a], symbols[b]) else 3.0)]
    assert 0 < len(kept) < len(i)  # the H cut-off removes some edges of this cell
    edges = calc.inputs(atoms)["edge_index"].numpy()
    assert sorted(map(tuple, edges.T.tolist())) == sorted((int(a), int(b)) for a, b in kept)
    assert module.neighbours_per_atom(atoms, 3.0, cand.block["per_edge_type_cutoff"]) == \
        len(kept) / len(atoms)
