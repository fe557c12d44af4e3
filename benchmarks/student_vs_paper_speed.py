"""Speed of a shipped student model next to the paper's NequIP model, measured in one run.

Protocol of Castel et al. (2024): wall time per energy+forces+stress call on the 272-atom ZIF-4
crystal, after warm-up calls, in µs/atom/call. The paper's legacy TorchScript model costs
seconds per call here, so it gets fewer calls by default. The student is timed eagerly (its
``.nequip.zip``) and, with ``--compile``, as its AOTInductor build (``load_potential(...,
compile=True)``, cached). Issue 13's bar: the student ≥ 30× faster than the legacy model,
eager. Usage::

    OMP_NUM_THREADS=1 python benchmarks/student_vs_paper_speed.py --model fast --compile
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
    parser.add_argument("--model", default="demo", help="student: 'demo' or a model file")
    parser.add_argument("--compile", action="store_true", help="also time its AOTInductor build")
    parser.add_argument("--calls", type=int, default=300, help="timed calls of the student")
    parser.add_argument("--paper-calls", type=int, default=10, help="timed calls of the paper model")
    args = parser.parse_args()
    atoms = read_structure(SHARED / "structures" / "zif4_crystal.lmp")
    models = [(f"{args.model} (eager)", dict(path=args.model), args.calls, 6)]
    if args.compile:
        models.append((f"{args.model} (AOTInductor)", dict(path=args.model, compile=True),
                       args.calls, 6))
    models.append(("paper NequIP l2r6 (legacy)",
                   dict(path=SHARED / "model" / "nequip_l2r6stress0.pth"), args.paper_calls, 2))
    rows = []
    for name, kwargs, calls, warmup in models:
        calc = aseml_zif.load_potential(device="cpu", **kwargs)
        rows.append({"model": name, "us_per_atom_per_call": efficiency(calc, atoms, calls, warmup)})
    print(results_table(rows))
    paper = rows[-1]["us_per_atom_per_call"]
    for row in rows:
        print(f"{row['model']}: {row['us_per_atom_per_call'] * len(atoms) / 1000:.1f} ms per call, "
              f"{paper / row['us_per_atom_per_call']:.1f}x faster than the paper model")
