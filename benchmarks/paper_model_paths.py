"""The paper's model three ways: legacy TorchScript, converted eager, converted + AOTInductor.

Every path is timed through ``atoms.get_forces()`` (ASE calculator, neighbour list included),
the paths interleaved call by call so that all see the same machine load, at each size and
thread count; printed as median µs/atom/call and as the speed-up over the legacy model. A last
table compares our calculator with nequip's own ``NequIPCalculator`` on the same ``.nequip.pt2``
(goal: ours ≤ 1.03 × nequip's time).

The first run converts and compiles the model into the cache (``$ASEML_ZIF_CACHE``, minutes);
run the benchmark on an otherwise idle machine. Example (2-core CPU machine)::

    python benchmarks/paper_model_paths.py --sizes 272 2176 --threads 1 2 --calls 5
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from aseml_zif import load_potential
from aseml_zif.calculator.compiled import converted_package_path
from calculator_overhead import zif4_structure  # benchmarks/ is the script's folder

DEFAULT_MODEL = Path(__file__).resolve().parents[2] / "shared/data/castel2024/model/nequip_l2r6stress0.pth"


def _timed_call(atoms, rng):
    """Seconds for one ``get_forces`` on atoms moved by ~1e-4 Å (no cached result)."""
    atoms.positions = atoms.positions + rng.normal(0.0, 1e-4, atoms.positions.shape)
    start = time.perf_counter()
    atoms.get_forces()
    return time.perf_counter() - start


def interleaved(calculators, atoms, n_calls, rng):
    """Median µs/atom/call of each calculator, one warm-up call each, then calls interleaved."""
    copies = {}
    for name, calc in calculators.items():
        copies[name] = atoms.copy()
        copies[name].calc = calc
        _timed_call(copies[name], rng)
    times = {name: [] for name in calculators}
    for _ in range(n_calls):
        for name in calculators:
            times[name].append(_timed_call(copies[name], rng))
    return {name: float(np.median(t)) * 1e6 / len(atoms) for name, t in times.items()}


def _nequip_calculator(pt2, type_names):
    from nequip.integrations.ase import NequIPCalculator

    return NequIPCalculator.from_compiled_model(
        str(pt2), device="cpu", chemical_species_to_atom_type_map={s: s for s in type_names})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(DEFAULT_MODEL), help="legacy model (default: the paper's)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[272, 2176], help="numbers of atoms")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts")
    parser.add_argument("--calls", type=int, default=5, help="interleaved timed calls per path")
    parser.add_argument("--peer-calls", type=int, default=20,
                        help="interleaved calls of ours vs NequIPCalculator (272 atoms)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    legacy = load_potential(args.model, device="cpu")
    package = converted_package_path(args.model)
    paths = {
        "legacy": legacy,
        "converted": load_potential(package, device="cpu"),
        "aotinductor": load_potential(args.model, device="cpu", compile=True),
    }
    print(f"model {Path(args.model).name} ({legacy.metadata.dtype}); torch {torch.__version__}, CPU")
    print(f"{'atoms':>6} {'threads':>7} " + " ".join(f"{n:>12}" for n in paths)
          + "  " + " ".join(f"{n + '/legacy':>18}" for n in list(paths)[1:]) + "   (µs/atom/call; speed-up)")
    for n_atoms in args.sizes:
        atoms = zif4_structure(n_atoms)
        for threads in args.threads:
            torch.set_num_threads(threads)
            us = interleaved(paths, atoms, args.calls, rng)
            speedups = [us["legacy"] / us[n] for n in list(paths)[1:]]
            print(f"{n_atoms:>6} {threads:>7} " + " ".join(f"{us[n]:>12.0f}" for n in paths) + "  "
                  + " ".join(f"{s:>17.2f}x" for s in speedups), flush=True)

    torch.set_num_threads(1)
    ours = paths["aotinductor"]
    peer = _nequip_calculator(ours.metadata.path, ours.metadata.type_names)
    us = interleaved({"aseml_zif": ours, "NequIPCalculator": peer}, zif4_structure(272), args.peer_calls, rng)
    print(f"same .nequip.pt2, 272 atoms, 1 thread: aseml_zif {us['aseml_zif']:.0f}, "
          f"NequIPCalculator {us['NequIPCalculator']:.0f} µs/atom/call; "
          f"ratio {us['aseml_zif'] / us['NequIPCalculator']:.3f} (goal ≤ 1.03)")


if __name__ == "__main__":
    main()
