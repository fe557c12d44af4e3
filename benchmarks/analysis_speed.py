"""Speed of the structural analysis: aseml_zif versus aMOF 1.1.0, side by side in one run.

Workload (issue 8): a 100-frame, 272-atom trajectory made of thermal displacements of the ten
ab initio ZIF-4 glasses (10 frames each, Gaussian displacements of ``--sigma`` Å per
component), analysed per frame with Zn–N RDF, N–Zn–N angles, Zn–N coordination (2.5 Å) and
the linker-integrity check; then primitive rings of a 2×2×2 glass supercell (2176 atoms).

aMOF runs in its own virtual environment (its pins — ase 3.20, xarray 0.19, an old pymatgen —
conflict with ours), as a subprocess on the same frames written to an extxyz file; each analysis is timed over the
whole trajectory, in the same run, and ratios are printed. Without that environment the
script prints aMOF's per-frame times measured earlier on this machine (FIELD-NOTES), clearly
labelled as such.

Usage::

    python benchmarks/analysis_speed.py [--amof-python /work/amof-venv/bin/python]
                                        [--frames 100] [--glass-dir DIR]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from ase.io import write

from aseml_zif.analysis import RDF, BondAngles, Coordination, RingStatistics, find_linkers
from aseml_zif.io import read_structure
from aseml_zif.structures import supercell

DEFAULT_GLASSES = Path(__file__).resolve().parents[2] / "shared/data/castel2024/structures/abinitio_glasses"
R_MAX, DR = 7.5, 0.05

#: aMOF per-frame times (ms) on 272-atom ZIF-4 frames, measured earlier on this machine
#: (FIELD-NOTES "Analysis anchors"): ranges over the shared structures.
AMOF_FIELD_NOTES_MS = {"RDF": (6, 21), "angles": (33, 120), "CN": (12, 28),
                       "linkers": (170, 570)}

AMOF_SCRIPT = r"""
import json, sys, time, logging
logging.disable(logging.CRITICAL)
import warnings; warnings.filterwarnings("ignore")
from ase.io import read
path, = sys.argv[1:]
frames = read(path, ":")
out = {}
def timed(name, fn):
    try:
        t = time.perf_counter(); fn(); out[name] = (time.perf_counter() - t) / len(frames)
    except Exception as exc:  # report, keep going
        out[name] = "unavailable: " + type(exc).__name__ + ": " + str(exc)
def rdf():
    # frame by frame: aMOF's multi-frame path reuses one asap3 RDF object and fails with
    # asap3 3.13 (KeyError 'rdf_0'); one call per frame does the same work per frame
    import amof.rdf
    for frame in frames:
        amof.rdf.Rdf.from_trajectory([frame], dr=DR, rmax=R_MAX)
def bad():
    import amof.bad
    amof.bad.Bad.from_trajectory(frames, {"Zn-N": 2.5})
def cn():
    import amof.cn
    amof.cn.CoordinationNumber.from_trajectory(frames, {"Zn-N": 2.5})
def linkers():
    import amof.coordination.reduce
    amof.coordination.reduce.reduce_trajectory([f.copy() for f in frames], "ZIF-4")
for name, fn in (("RDF", rdf), ("angles", bad), ("CN", cn), ("linkers", linkers)):
    timed(name, fn)
print("AMOF_RESULT " + json.dumps(out))
""".replace("DR", repr(DR)).replace("R_MAX", repr(R_MAX))


def thermal_trajectory(glass_dir, n_frames, sigma, seed=0):
    """``n_frames`` frames cycling over the glasses, each with Gaussian displacements (Å)."""
    glasses = [read_structure(p) for p in sorted(Path(glass_dir).glob("ZIF4_15glass*.cif"))]
    if not glasses:
        sys.exit(f"no glass CIF files in {glass_dir}")
    rng = np.random.default_rng(seed)
    frames = []
    for k in range(n_frames):
        atoms = glasses[k % len(glasses)].copy()
        atoms.positions += rng.normal(scale=sigma, size=atoms.positions.shape)
        atoms.wrap()
        frames.append(atoms)
    return frames, glasses


def time_ours(frames):
    """Seconds per frame of each analysis on ``frames`` (aseml_zif, this process)."""
    jobs = {
        "RDF": lambda: RDF(("Zn", "N"), r_max=R_MAX, bins=int(R_MAX / DR)).compute(frames),
        "angles": lambda: BondAngles("Zn", "N", 2.5).compute(frames),
        "CN": lambda: Coordination("Zn", "N", 2.5).compute(frames),
        "linkers": lambda: [find_linkers(atoms) for atoms in frames],
    }
    out = {}
    for name, job in jobs.items():
        job()  # warm-up (imports, first-call overhead), not timed
        t = time.perf_counter()
        job()
        out[name] = (time.perf_counter() - t) / len(frames)
    return out


def time_amof(frames, python):
    """Seconds per frame of aMOF's matching analyses, run in ``python`` (its own venv)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "frames.extxyz")
        write(path, frames, format="extxyz")
        proc = subprocess.run([python, "-c", AMOF_SCRIPT, path], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        if line.startswith("AMOF_RESULT "):
            return json.loads(line[len("AMOF_RESULT "):])
    raise RuntimeError(f"aMOF run failed:\n{proc.stderr[-2000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--sigma", type=float, default=0.05, help="displacement, Å")
    parser.add_argument("--glass-dir", default=str(DEFAULT_GLASSES))
    parser.add_argument("--amof-python", default="/work/amof-venv/bin/python")
    args = parser.parse_args()

    frames, glasses = thermal_trajectory(args.glass_dir, args.frames, args.sigma)
    n_intact = [find_linkers(a).n_intact for a in frames]
    print(f"trajectory: {len(frames)} frames x {len(frames[0])} atoms "
          f"(10 glasses + N(0, {args.sigma} Å) displacements); intact linkers per frame "
          f"{min(n_intact)}-{max(n_intact)}")

    ours = time_ours(frames)
    amof, label = None, ""
    if Path(args.amof_python).exists():
        try:
            amof = time_amof(frames, args.amof_python)
            label = f"aMOF 1.1.0 measured now ({args.amof_python})"
        except RuntimeError as exc:
            print(exc)
    if amof is None:
        label = "aMOF NOT RUN: per-frame times from FIELD-NOTES (earlier measurement, range)"

    print(f"\nper-frame time, ms  [{label}]")
    print(f"{'analysis':<10}{'aseml_zif':>12}{'aMOF':>16}{'speed-up':>12}")
    total_ours, total_amof = 0.0, 0.0
    for name, t in ours.items():
        total_ours += t
        if amof is not None and isinstance(amof.get(name), float):
            ref = amof[name]
            ref_text = f"{1e3 * ref:.2f}"
        elif amof is not None:
            ref, ref_text = None, "n/a"
            print(f"  (aMOF {name}: {amof.get(name)})")
        else:
            lo, hi = AMOF_FIELD_NOTES_MS[name]
            ref, ref_text = 1e-3 * 0.5 * (lo + hi), f"{lo}-{hi} (notes)"
        if ref is not None:
            total_amof += ref
        ratio = f"{ref / t:.0f}x" if ref is not None else "-"
        print(f"{name:<10}{1e3 * t:>12.2f}{ref_text:>16}{ratio:>12}")
    compared = [n for n in ours if amof is None or isinstance(amof.get(n), float)]
    ours_cmp = sum(ours[n] for n in compared)
    print(f"{'total':<10}{1e3 * ours_cmp:>12.2f}{1e3 * total_amof:>16.2f}"
          f"{total_amof / ours_cmp:>11.0f}x   (over {', '.join(compared)})")

    print("\nprimitive rings, max depth 32 (Zn + Im nodes)")
    for k, glass in enumerate(glasses[:3], start=1):
        big = supercell(glass, 2)
        t = time.perf_counter()
        stats = RingStatistics(max_depth=32).compute(big, progress=False)
        dt = time.perf_counter() - t
        t = time.perf_counter()
        unit = RingStatistics(max_depth=32).compute(glass, progress=False).counts
        dt1 = time.perf_counter() - t
        same = {k: v / 8 for k, v in stats.counts.items()} == unit
        print(f"  glass{k:02d} 2x2x2 supercell {len(big)} atoms: {dt:.2f} s "
              f"(1x1x1: {dt1:.2f} s); per original cell {unit}; supercell/8 identical: {same}")


if __name__ == "__main__":
    main()
