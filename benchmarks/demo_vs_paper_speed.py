"""Speed of the shipped demo model next to the paper's NequIP model, measured in one run.

Protocol of Castel et al. (2024): wall time per energy+forces+stress call on the 272-atom ZIF-4
crystal, after warm-up calls, in µs/atom/call. The paper's model costs seconds per call here, so
it gets fewer calls by default. Usage::

    OMP_NUM_THREADS=1 python benchmarks/demo_vs_paper_speed.py [--compiled demo.nequip.pt2]
"""
import argparse
import os
from pathlib import Path

import aseml_zif
from aseml_zif.io import read_structure
from aseml_zif.training import efficiency, results_table

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"))

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300, help="timed calls of the demo model")
    parser.add_argument("--paper-calls", type=int, default=10, help="timed calls of the paper model")
    parser.add_argument("--compiled", help="also time an AOTInductor .nequip.pt2 of the demo")
    args = parser.parse_args()
    atoms = read_structure(SHARED / "structures" / "zif4_crystal.lmp")
    models = [("demo (.nequip.zip)", "demo", args.calls, 6)]
    if args.compiled:
        models.append(("demo (.nequip.pt2)", args.compiled, args.calls, 6))
    models.append(("paper NequIP l2r6", SHARED / "model" / "nequip_l2r6stress0.pth",
                   args.paper_calls, 2))
    rows = []
    for name, path, calls, warmup in models:
        calc = aseml_zif.load_potential(path, device="cpu")
        rows.append({"model": name, "us_per_atom_per_call": efficiency(calc, atoms, calls, warmup)})
    print(results_table(rows))
    paper = rows[-1]["us_per_atom_per_call"]
    for row in rows[:-1]:
        print(f"{row['model']}: {paper / row['us_per_atom_per_call']:.1f}x faster than the paper model")
