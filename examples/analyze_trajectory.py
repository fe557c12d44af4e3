"""Structural analysis of a ZIF trajectory, as in the paper's Figs. 4–7: Zn–N coordination,
N–Zn–N angles, RDF/PMF, linker integrity per frame, rings and pores, plus the one-call report.

    python examples/analyze_trajectory.py md_run/trajectory.traj --stride 10
    python examples/analyze_trajectory.py                 # the ten ab initio glasses as frames

``--quick`` (or ASEML_ZIF_EXAMPLE_QUICK=1) analyses two frames.
"""
import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from aseml_zif.analysis import (RDF, BondAngles, Coordination, analyze,  # noqa: E402
                                as_frame_list, find_linkers)
from aseml_zif.io import read_structure  # noqa: E402

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA", "../shared/data/castel2024"))

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("trajectory", nargs="?", help="ASE .traj, extxyz, LAMMPS dump, CIF ... "
                    "(default: the ab initio glasses in the shared data)")
parser.add_argument("--stride", type=int, default=1, help="analyse every n-th frame")
parser.add_argument("--out", default="analysis_example", help="output folder of the report")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("ASEML_ZIF_EXAMPLE_QUICK")))
args = parser.parse_args()

if args.trajectory:
    frames = as_frame_list(args.trajectory, stride=args.stride)
else:
    frames = [read_structure(p) for p in sorted((SHARED / "structures" / "abinitio_glasses").glob("*.cif"))]
if args.quick:
    frames = frames[:2]
print(f"{len(frames)} frames of {len(frames[0])} atoms")

# the building blocks, one object per quantity (compute accumulates over frames)
cn = Coordination("Zn", "N", cutoff=2.5).compute(frames)
angles = BondAngles("Zn", "N", cutoff=2.5).compute(frames)
rdf = RDF(("Zn", "N"), r_max=8.0).compute(frames)
print(f"Zn–N coordination {cn.mean:.4f}, distribution {cn.distribution}")
print(f"N–Zn–N angle mean {angles.mean:.1f}°, most probable {angles.most_probable:.1f}°")
print(f"Zn–N RDF first peak at {rdf.bin_centers[rdf.rdf.argmax()]:.2f} Å")
for k, atoms in enumerate(frames):
    report = find_linkers(atoms)
    print(f"frame {k}: {report.n_intact} intact imidazolates, {len(report.broken)} broken")

# everything at once, with the paper's figures
report = analyze(frames, outdir=args.out)
print(f"report keys: {sorted(report)}; figures in {args.out}")
