"""Full periodic neighbour list at the model's cut-off: vesin vs matscipy vs ASE.

Builds the ``i, j, S`` list (what :class:`aseml_zif.calculator.DeployedModelCalculator` needs)
for the ZIF-4 crystal (272 atoms) and its 2×2×2 supercell (2176 atoms) at 6 Å, repeating each
library in turn (interleaved) and printing the median time in ms, the pair count (all
libraries must agree) and the speed relative to the fastest.

Example::

    nice python benchmarks/neighbor_list.py --repeats 20
"""
import argparse
import time

import numpy as np

from aseml_zif.structures import supercell, zif4_crystal


def _vesin(atoms, cutoff):
    from vesin import NeighborList

    nl = NeighborList(cutoff=cutoff, full_list=True)
    return nl.compute(points=atoms.positions, box=atoms.cell[:], periodic=True, quantities="ijS")


def _matscipy(atoms, cutoff):
    from matscipy.neighbours import neighbour_list

    return neighbour_list("ijS", atoms, cutoff)


def _ase(atoms, cutoff):
    from ase.neighborlist import neighbor_list

    return neighbor_list("ijS", atoms, cutoff)


LIBRARIES = {"vesin": _vesin, "matscipy": _matscipy, "ase": _ase}


def benchmark(atoms, cutoff, repeats):
    """Median seconds per call and pair count of each library, calls interleaved."""
    times = {name: [] for name in LIBRARIES}
    pairs = {}
    for _ in range(repeats):
        for name, build in LIBRARIES.items():
            start = time.perf_counter()
            i, _j, _s = build(atoms, cutoff)
            times[name].append(time.perf_counter() - start)
            pairs[name] = len(i)
    return {name: float(np.median(t)) for name, t in times.items()}, pairs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cutoff", type=float, default=6.0, help="Å (the paper model's r_max)")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    crystal = zif4_crystal()
    for atoms in (crystal, supercell(crystal, (2, 2, 2))):
        medians, pairs = benchmark(atoms, args.cutoff, args.repeats)
        if len(set(pairs.values())) != 1:
            raise SystemExit(f"libraries disagree on the number of pairs: {pairs}")
        fastest = min(medians.values())
        print(f"{len(atoms)} atoms, {args.cutoff} Å, {pairs['vesin']} pairs:")
        for name, median in sorted(medians.items(), key=lambda item: item[1]):
            print(f"  {name:>9} {1e3 * median:8.2f} ms  ×{median / fastest:5.2f}")


if __name__ == "__main__":
    main()
