"""Overhead of ``load_potential(...)`` + ``atoms.get_forces()`` over the bare deployed model.

Two measurements, printed in µs per atom per call (the unit of Castel et al. 2024, Table 1):

1. **Overhead** (goal ≤ 1.05): the ASE path (structure checks, vesin neighbour list, tensor
   conversion, model, results) versus the bare TorchScript model called on a precomputed graph,
   interleaved call by call in one run so that both see the same machine load; the ratio of
   the medians is printed.
2. **Paper protocol**: ``--calls`` calls (default 300) after ``--warmup`` calls (default 6)
   of the ASE path, to compare with Table 1 (V100 GPU: 282 µs/atom/call for this model).

Example (what was run on the 2-core development machine, with fewer calls than the paper)::

    nice python benchmarks/calculator_overhead.py --sizes 272 --overhead-calls 1 --calls 1 --warmup 0
"""
import argparse
import time
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from aseml_zif import load_potential
from aseml_zif.structures import supercell, zif4_crystal

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "shared/data/castel2024/model/nequip_l2r6stress0.pth"
#: Castel et al. 2024, Table 1: NequIP l=2, r=6 Å on one V100, µs/atom/call
PAPER_V100 = 282.0


def zif4_structure(n_atoms):
    """The ZIF-4 crystal (272 atoms) or the cubic supercell with ``n_atoms`` atoms."""
    crystal = zif4_crystal()
    reps = round((n_atoms / len(crystal)) ** (1 / 3))
    atoms = supercell(crystal, (reps, reps, reps)) if reps > 1 else crystal
    if len(atoms) != n_atoms:
        raise SystemExit(f"{n_atoms} atoms is not a cubic supercell of the 272-atom ZIF-4 cell")
    return atoms


def _nudge(atoms, rng):
    """Move the atoms by ~1e-4 Å so that ASE does not return cached results."""
    atoms.positions = atoms.positions + rng.normal(0.0, 1e-4, atoms.positions.shape)


def time_ase_call(atoms, rng):
    """Seconds for one ``atoms.get_forces()`` on freshly moved atoms."""
    _nudge(atoms, rng)
    start = time.perf_counter()
    atoms.get_forces()
    return time.perf_counter() - start


def time_bare_call(calc, inputs):
    """Seconds for one call of the bare model on a precomputed input graph (forces read back)."""
    start = time.perf_counter()
    calc.model(inputs)["forces"].detach().cpu().numpy()
    return time.perf_counter() - start


def time_graph(calc, atoms):
    """Seconds to check ``atoms`` and build the model inputs (neighbour list, tensors)."""
    start = time.perf_counter()
    calc.build_inputs(atoms)
    return time.perf_counter() - start


def overhead(calc, atoms, n_calls, rng, warmup=True):
    """Median µs/atom/call of the ASE path, of the bare model and of the graph build alone.

    The three are interleaved call by call. The graph build is the wrapper's only work besides
    the model, so ``1 + graph/bare`` is a second, noise-robust estimate of the ratio.
    """
    atoms.calc = calc
    inputs = calc.build_inputs(atoms)
    if warmup:  # TorchScript profiling runs of both paths
        time_ase_call(atoms, rng)
        time_bare_call(calc, inputs)
    ase_times, bare_times, graph_times = [], [], []
    for _ in tqdm(range(n_calls), desc=f"overhead {len(atoms)} atoms", leave=False):
        bare_times.append(time_bare_call(calc, inputs))
        ase_times.append(time_ase_call(atoms, rng))
        graph_times.extend(time_graph(calc, atoms) for _ in range(5))
    scale = 1e6 / len(atoms)
    return tuple(np.median(t) * scale for t in (ase_times, bare_times, graph_times))


def paper_protocol(calc, atoms, n_calls, n_warmup, rng):
    """Mean µs/atom/call over ``n_calls`` ASE calls after ``n_warmup`` warm-up calls."""
    atoms.calc = calc
    for _ in range(n_warmup):
        time_ase_call(atoms, rng)
    times = [time_ase_call(atoms, rng) for _ in tqdm(range(n_calls), desc="paper protocol", leave=False)]
    return np.mean(times) * 1e6 / len(atoms)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="model file (default: the paper's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--sizes", type=int, nargs="+", default=[272, 2176], help="numbers of atoms")
    parser.add_argument("--overhead-calls", type=int, default=20, help="interleaved call pairs per size")
    parser.add_argument("--calls", type=int, default=300, help="timed calls of the paper protocol")
    parser.add_argument("--warmup", type=int, default=6, help="warm-up calls of the paper protocol")
    parser.add_argument("--no-overhead-warmup", action="store_true",
                        help="skip the warm-up call of each path before the interleaved pairs")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    calc = load_potential(args.model, device=args.device)
    print(f"model {Path(args.model).name} ({calc.metadata.format}, {calc.metadata.dtype}) on {calc.device}")
    print(f"{'atoms':>6} {'ASE':>9} {'bare':>9} {'ratio':>6} {'graph':>7} {'1+graph/bare':>12} "
          f"{'protocol':>9} {'calls':>6}   (µs/atom/call)")
    for n_atoms in args.sizes:
        atoms = zif4_structure(n_atoms)
        ase_us, bare_us, graph_us = overhead(calc, atoms, args.overhead_calls, rng,
                                             warmup=not args.no_overhead_warmup)
        protocol = paper_protocol(calc, atoms, args.calls, args.warmup, rng) if args.calls else float("nan")
        print(f"{n_atoms:>6} {ase_us:>9.1f} {bare_us:>9.1f} {ase_us / bare_us:>6.3f} {graph_us:>7.2f} "
              f"{1 + graph_us / bare_us:>12.4f} {protocol:>9.1f} {args.calls:>6}", flush=True)
    print(f"paper, Table 1 (one V100 GPU): {PAPER_V100:.0f} µs/atom/call")


if __name__ == "__main__":
    main()
