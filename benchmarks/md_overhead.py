"""MD overhead: wall time per MD step vs time per calculator call, in the same run.

Goal (issue 3): integrator + I/O + watchdog ≤ 3 % of the step with the paper's NequIP model on
the 272-atom ZIF-4 crystal. Usage::

    python benchmarks/md_overhead.py [--steps 10] [--model PATH] [--structure PATH]

The calculator's ``calculate`` is timed in place; everything else in ``run`` (integrator,
trajectory/log/checkpoint writing with fsync, watchdog with the linker check) is overhead.
The intervals are denser than a production run's (frames and watchdog every 5 steps,
checkpoint every 10) so the estimate is pessimistic.
"""
import argparse
import tempfile
import time
from pathlib import Path

from aseml_zif import load_potential
from aseml_zif.io import read_structure
from aseml_zif.md import Stage, Watchdog, run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"


def timed(calc):
    """Wrap ``calc.calculate`` to accumulate its wall time; return the list of call times."""
    calls = []
    inner = calc.calculate

    def calculate(*args, **kwargs):
        t0 = time.perf_counter()
        inner(*args, **kwargs)
        calls.append(time.perf_counter() - t0)

    calc.calculate = calculate
    return calls


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--model", default=str(SHARED / "model" / "nequip_l2r6stress0.pth"))
    parser.add_argument("--structure", default=str(SHARED / "structures" / "zif4_crystal.lmp"))
    args = parser.parse_args()

    atoms = read_structure(args.structure)
    calc = load_potential(args.model, device="cpu")
    calls = timed(calc)
    stage = Stage("nvt", args.steps * 0.5e-3, 300.0)
    with tempfile.TemporaryDirectory() as workdir:
        t0 = time.perf_counter()
        run(atoms, calc, [stage], workdir, timestep_fs=0.5, save_every=5, checkpoint_every=10,
            watchdog=Watchdog(every=5), seed=0, progress=False)
        wall = time.perf_counter() - t0
    model = sum(calls)
    print(f"{len(atoms)} atoms, {args.steps} steps (+ initial evaluation), "
          f"{len(calls)} calculator calls")
    print(f"wall per step            {wall / args.steps:8.3f} s")
    print(f"calculator per call      {model / len(calls):8.3f} s")
    print(f"overhead (wall - calls)  {wall - model:8.3f} s total, "
          f"{(wall - model) / args.steps * 1e3:.1f} ms per step")
    print(f"overhead fraction        {100 * (wall - model) / wall:8.2f} %  (goal <= 3 %)")


if __name__ == "__main__":
    main()
