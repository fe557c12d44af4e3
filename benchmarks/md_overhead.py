"""MD overhead: what ``aseml_zif.md.run`` adds to the model's own time, measured in one run.

Goal (issue 13): the MD loop adds ≤ 3 % to the model's time per step with the fast demo model
on the 272-atom ZIF-4 crystal (issue 3: the same with the paper's NequIP model). Usage::

    OMP_NUM_THREADS=1 python benchmarks/md_overhead.py --model demo --steps 300 [--dense] [--stub]

Inside one NVT run, every model evaluation (``evaluate``: forward pass and forces) and every
calculator call (``calculate``: neighbour list, tensors, checks, model) are timed in place. A
step is the time from the start of one calculator call to the start of the next (integrator,
finiteness checks, watchdog, frames, log and checkpoints included); the overhead of a step is
that time minus the model's. Model and steps are timed interleaved, under the same machine load.
The default intervals are those of ``aseml-zif md``/``meltquench`` (frames every 100 steps,
checkpoint every 1000, watchdog every 10 with the linker check); ``--dense`` saves frames and
checks every 5 steps and writes a checkpoint (with fsync) every 10, a pessimistic estimate.
The first steps (torch warm-up) are left out. With one torch thread, the CPU time of the
process is not inflated by waiting for a core on a loaded machine (its wall time is).

``--stub`` replaces the model by harmonic springs to the starting positions (~0.05 ms per call,
outputs shaped as a model's): the non-model time with warm caches, what the code itself costs.
After a real model call the caches are cold and the same work takes 2–3x longer (on the loaded
2-core development machine the first NumPy call after a model call took 50–100 µs, and as long
after a 50 ms sleep: the other job on the cores evicts the caches).

Measured there (a training job on both cores; CPU time, one torch thread, means of 6 runs
interleaved with the code before the issue-13 changes), overhead per step: demo model
1.77 → 1.27 ms (3.1 % → 2.35 % of its ~55 ms call), ``--stub`` 0.92 → 0.59 ms.
"""
import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from aseml_zif import load_potential
from aseml_zif.io import read_structure
from aseml_zif.md import Stage, Watchdog, run
from aseml_zif.structures import zif4_crystal

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"

#: steps left out at the start (first calls of a torch model are slower)
WARMUP_STEPS = 5


def _clocks():
    """Wall time and CPU time of the process, in s."""
    return np.array([time.perf_counter(), time.process_time()])


def timed(calc):
    """Time ``calc.calculate`` and, when it has one, ``calc.evaluate`` (the model) in place.

    Both clocks of :func:`_clocks`. The model's time includes freeing its autograd graph (the
    outputs are handed on detached): ~0.5 ms for the demo model, a cost of running it that any
    caller pays.

    Returns
    -------
    dict
        ``"starts"``, ``"calls"``: start and duration of every calculator call; ``"model"``:
        duration of every model evaluation, graph freed (the calculator calls themselves for a
        plain ASE calculator); ``"release"``: time spent freeing the graph. Lists of
        ``[wall, cpu]`` in s.
    """
    import torch

    times = {"starts": [], "calls": [], "model": [], "release": []}
    calculate = calc.calculate

    def timed_calculate(*args, **kwargs):
        start = _clocks()
        calculate(*args, **kwargs)
        times["starts"].append(start)
        times["calls"].append(_clocks() - start)

    calc.calculate = timed_calculate
    if not hasattr(calc, "evaluate"):
        times["model"] = times["calls"]
        return times
    evaluate = calc.evaluate

    def timed_evaluate(inputs):
        start = _clocks()
        out = evaluate(inputs)
        evaluated = _clocks()
        detached = {k: v.detach() if torch.is_tensor(v) else v for k, v in out.items()}
        del out
        end = _clocks()
        times["model"].append(end - start)
        times["release"].append(end - evaluated)
        return detached

    calc.evaluate = timed_evaluate
    return times


class HarmonicStub:
    """Stand-in for a model: springs of ``k`` eV/Å² to ``positions``, the outputs of a model."""

    def __init__(self, positions, k=10.0):
        import torch

        self.positions = torch.as_tensor(positions, dtype=torch.float64)
        self.k = k

    def eval(self):
        return self

    def __call__(self, inputs):
        import torch

        moved = inputs["pos"] - self.positions
        return {"atomic_energy": 0.5 * self.k * (moved * moved).sum(1, keepdim=True),
                "forces": -self.k * moved, "stress": torch.zeros((1, 3, 3), dtype=torch.float64)}


def report(times, n_steps):
    """Print model, calculator and step times (ms) and the overhead ratios of the steps."""
    starts, calls, model = (np.array(times[key]) for key in ("starts", "calls", "model"))
    if not len(model) == len(calls) == n_steps + 1:
        raise SystemExit(f"expected one call per step, got {len(calls)} for {n_steps} steps")
    # call k (k >= 1) is the force evaluation of step k; its step lasts until call k + 1
    keep = slice(WARMUP_STEPS, n_steps)
    step, model, calls = np.diff(starts, axis=0)[keep], model[keep], calls[keep]
    overhead, calculator = step - model, calls - model
    ms = 1e3

    def line(label, seconds):
        wall, cpu = seconds.mean(axis=0) * ms
        print(f"{label:34s}{wall:8.3f} ms  (median {np.median(seconds[:, 0]) * ms:.3f})"
              f"   CPU {cpu:8.3f} ms")

    print(f"{'':34s}{'wall time':>8s}{'':22s}CPU time of the process")
    line("model (forward + forces) per call", model)
    if times["release"]:
        line("  of which freeing its graph", np.array(times["release"])[keep])
    line("calculator per call", calls)
    line("MD step", step)
    line("overhead per step", overhead)
    line("  in the calculator", calculator)
    line("  in the MD loop", overhead - calculator)
    wall, cpu = 100 * overhead.sum(axis=0) / model.sum(axis=0)
    print(f"overhead / model time             {wall:8.2f} %{'':21s}CPU {cpu:8.2f} %  (goal <= 3 %)")
    median = 100 * np.median(overhead[:, 0]) / np.median(model[:, 0])
    print(f"  wall, medians of the steps      {median:8.2f} %  (misses periodic costs: checkpoints)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--model", default=str(SHARED / "model" / "nequip_l2r6stress0.pth"),
                        help="model file or shipped name (e.g. demo); default: the paper's model")
    parser.add_argument("--structure", default=None,
                        help="structure file (default: the embedded 272-atom ZIF-4 crystal)")
    parser.add_argument("--dense", action="store_true",
                        help="frames and watchdog every 5 steps, checkpoint every 10")
    parser.add_argument("--compile", action="store_true",
                        help="the model's AOTInductor build (load_potential(..., compile=True))")
    parser.add_argument("--temperature", type=float, default=300.0,
                        help="NVT target and initial temperature, K (default: 300; the melt-quench "
                        "plateau is 1500)")
    parser.add_argument("--stub", action="store_true",
                        help="replace the model by harmonic springs: the non-model time alone")
    args = parser.parse_args()
    if args.steps <= WARMUP_STEPS:
        raise SystemExit(f"--steps must be larger than {WARMUP_STEPS} (warm-up steps left out)")

    atoms = zif4_crystal() if args.structure is None else read_structure(args.structure)
    calc = load_potential(args.model, device="cpu", compile=args.compile)
    if args.stub:
        calc.model = HarmonicStub(atoms.positions)
    every = (dict(save_every=5, checkpoint_every=10, watchdog=Watchdog(every=5)) if args.dense
             else dict(save_every=100, checkpoint_every=1000, watchdog=Watchdog(every=10)))
    times = timed(calc)
    stage = Stage("nvt", args.steps * 0.5e-3, args.temperature)
    with tempfile.TemporaryDirectory() as workdir:
        run(atoms, calc, [stage], workdir, timestep_fs=0.5, seed=0, progress=False, **every)
    import torch

    print(f"{len(atoms)} atoms, {args.steps} NVT steps ({args.steps - WARMUP_STEPS} timed), "
          f"frames every {every['save_every']}, checkpoint every {every['checkpoint_every']}, "
          f"watchdog every {every['watchdog'].every}, {args.temperature:g} K; "
          f"torch threads {torch.get_num_threads()}")
    report(times, args.steps)


if __name__ == "__main__":
    main()
