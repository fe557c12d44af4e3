"""Load the paper's NequIP model and run Nosé–Hoover NVT on one of the ab initio ZIF-4 glasses.

    python examples/nvt_glass_paper_model.py --model nequip_l2r6stress0.pth \\
        --glass ZIF4_15glass01.cif --time-ps 10

Writes WORKDIR/trajectory.traj (open with ``ase gui``) and WORKDIR/thermo.csv; rerunning the same
command resumes an interrupted run. ``--quick`` (or ASEML_ZIF_EXAMPLE_QUICK=1) runs 2 steps.
The paper's model costs seconds per step on a CPU: use a GPU for real runs.
"""
import argparse
import os
from pathlib import Path

from aseml_zif import load_potential
from aseml_zif.io import read_structure
from aseml_zif.md import Stage, run

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA", "../shared/data/castel2024"))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--model", default=SHARED / "model" / "nequip_l2r6stress0.pth", help="deployed model")
parser.add_argument("--glass", default=SHARED / "structures" / "abinitio_glasses" / "ZIF4_15glass01.cif")
parser.add_argument("--temperature", type=float, default=300.0, help="K")
parser.add_argument("--time-ps", type=float, default=10.0, help="duration in ps")
parser.add_argument("--workdir", default="nvt_glass", help="run folder")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("ASEML_ZIF_EXAMPLE_QUICK")))
args = parser.parse_args()

atoms = read_structure(args.glass)
atoms.calc = load_potential(args.model)  # CUDA when available; dtype="float64" for exact checks
print(f"{len(atoms)} atoms, E = {atoms.get_potential_energy() / len(atoms):.4f} eV/atom")

time_ps = 0.001 if args.quick else args.time_ps  # 0.001 ps = 2 steps of 0.5 fs
stage = Stage("nvt", time_ps, args.temperature)  # Nosé–Hoover chain, 100 fs damping (paper)
final = run(atoms, atoms.calc, [stage], args.workdir, timestep_fs=0.5,
            save_every=1 if args.quick else 100, checkpoint_every=1 if args.quick else 1000)
print(f"final T = {final.get_temperature():.0f} K, "
      f"E = {final.get_potential_energy() / len(final):.4f} eV/atom; frames in {args.workdir}")
