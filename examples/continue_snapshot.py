"""Continue a watchdog snapshot without the watchdog: did the broken linker heal?

When the watchdog of :func:`aseml_zif.md.run` stops a run on a broken imidazolate linker, the run
folder holds ``watchdog_snapshot.traj`` (positions and momenta). At 1500 K many such stops are
transient: an H passing within the 1.6 Å C–H criterion of another linker's C heals within a few
fs. This continues the snapshot's last frame, momenta kept, in NVE (velocity Verlet, no
watchdog) and prints every ``--every`` steps the step, time since the snapshot (fs), temperature
(K), broken linkers (:func:`aseml_zif.analysis.find_linkers`) and how many atoms of the linkers
broken at the start are still in a broken fragment, then a :func:`verdict`. ``--out`` writes
the recorded frames (ASE trajectory) to be labelled later. Example::

    python examples/continue_snapshot.py run/watchdog_snapshot.traj --model demo --compile \\
        --steps 300 --every 5 --timestep-fs 0.5 --threads 1 --out run/continued.traj

Units are ASE's: positions in Å, time step in fs (``ase.units.fs``), temperature in K.
"""
import argparse
from collections import namedtuple
from contextlib import nullcontext
from pathlib import Path

from ase import units
from ase.io import Trajectory, read
from ase.md.verlet import VelocityVerlet

from aseml_zif.analysis import find_linkers
from aseml_zif.cli.common import add_threads_argument

#: one record: MD step and time (fs) since the snapshot, temperature (K), broken linkers, and
#: atoms of the snapshot's broken linkers still in a broken fragment
Record = namedtuple("Record", "step time_fs temperature_K broken start_atoms_broken")


def read_snapshot(path):
    """Return the last frame of ``path``; ``SystemExit`` naming the file if it has no momenta."""
    path = Path(path)
    if not path.is_file():
        raise SystemExit(f"{path}: no such snapshot file")
    try:
        atoms = read(path, index=-1)
    except Exception as exc:  # noqa: BLE001 - ASE's readers raise anything on a bad file
        raise SystemExit(f"{path}: cannot read a frame ({type(exc).__name__}: {exc})")
    if not atoms.has("momenta"):
        raise SystemExit(f"{path}: the last frame has no momenta (not a watchdog snapshot?)")
    return atoms


def continue_snapshot(atoms, calculator, steps=300, every=5, timestep_fs=0.5):
    """Run NVE velocity Verlet from ``atoms`` (its momenta kept) and yield a :data:`Record`.

    Parameters
    ----------
    atoms : ase.Atoms
        Starting state with momenta, integrated in place with ``calculator`` (ASE, eV/Å) attached.
    steps, every : int
        MD steps to run, and records at step 0, every ``every`` steps and at ``steps``.
    timestep_fs : float
        Time step in fs.

    Yields
    ------
    Record
        While suspended, ``atoms`` is the state of the record.
    """
    atoms.calc = calculator
    dyn = VelocityVerlet(atoms, timestep=timestep_fs * units.fs)
    start, step = None, 0
    while True:
        report = find_linkers(atoms)
        now = {a for entry in report.broken for a in entry.atoms}
        start = now if start is None else start
        yield Record(step, step * timestep_fs, float(atoms.get_temperature()), len(report.broken),
                     len(start & now))
        if step >= steps:
            return
        n = min(every, steps - step)
        dyn.run(n)
        step += n


def verdict(times_fs, broken_counts):
    """Judge a continuation from its records.

    Parameters
    ----------
    times_fs : sequence of float
        Times of the records (fs), ascending; at least one.
    broken_counts : sequence of int
        Broken linkers at each record.

    Returns
    -------
    text : str
        E.g. ``"healed after 12.5 fs and stayed intact for the remaining 137.5 fs"``.
    summary : dict
        ``first_healed_fs``: the first time with no broken linker (None: never);
        ``rebroken``: intact -> broken transitions from then on; ``broken_at_end``: bool.
    """
    if not len(times_fs) or len(times_fs) != len(broken_counts):
        raise ValueError("need as many broken counts as times, at least one")
    times, broken = [float(t) for t in times_fs], [bool(c > 0) for c in broken_counts]
    duration = times[-1] - times[0]
    if all(broken):
        return (f"still broken at the end ({duration:g} fs): never healed",
                {"first_healed_fs": None, "rebroken": 0, "broken_at_end": True})
    k = broken.index(False)
    rebroken = sum(now and not was for was, now in zip(broken[k:], broken[k + 1:]))
    head = "intact at the start" if k == 0 else f"healed after {times[k] - times[0]:g} fs"
    if not rebroken:
        text = f"{head} and stayed intact for the remaining {times[-1] - times[k]:g} fs"
    else:
        state = "still broken" if broken[-1] else "intact"
        text = (f"{head}, broke{' again' if k else ''} {rebroken} time(s), {state} at the end "
                f"({duration:g} fs)")
    return text, {"first_healed_fs": times[k], "rebroken": rebroken, "broken_at_end": broken[-1]}


def load_model(args):
    """The calculator of ``--model``, with ``--threads`` torch threads; ``SystemExit`` if none."""
    from aseml_zif import load_potential
    from aseml_zif.cli.common import apply_threads
    from aseml_zif.errors import AsemlZifError

    apply_threads(args.threads)
    try:
        return load_potential(args.model, device="auto", compile=args.compile)
    except AsemlZifError as exc:
        raise SystemExit(f"--model {args.model}: {exc}")


def main(argv=None, calculator=None):
    """Run the command line ``argv``; ``calculator`` (e.g. in tests) replaces ``--model``."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("snapshot", help="watchdog_snapshot.traj, or an ASE file whose last frame has momenta")
    p.add_argument("--model", help='model file or name (e.g. "demo"), for aseml_zif.load_potential')
    p.add_argument("--compile", action="store_true", help="AOTInductor-compile the model")
    p.add_argument("--steps", type=int, default=300, help="MD steps (default 300)")
    p.add_argument("--every", type=int, default=5, help="record every N steps (default 5)")
    p.add_argument("--timestep-fs", type=float, default=0.5, help="time step in fs (default 0.5)")
    p.add_argument("--out", help="write the recorded frames to this ASE trajectory")
    add_threads_argument(p)
    args = p.parse_args(argv)
    if calculator is None and not args.model:
        p.error("--model is required")
    if args.steps < 0 or args.every < 1 or not args.timestep_fs > 0:
        p.error("need --steps >= 0, --every >= 1 and --timestep-fs > 0")
    atoms = read_snapshot(args.snapshot)
    print(f"{args.snapshot}: step {atoms.info.get('step')}, t = {atoms.info.get('time_fs')} fs, "
          f"watchdog: {atoms.info.get('watchdog')}")
    for entry in find_linkers(atoms).broken:
        print(f"  broken at the start: {entry.formula} (atoms {list(entry.atoms)}): {entry.problem}")
    calculator = load_model(args) if calculator is None else calculator
    records = []
    with Trajectory(args.out, "w") if args.out else nullcontext() as writer:
        for r in continue_snapshot(atoms, calculator, args.steps, args.every, args.timestep_fs):
            print(f"step {r.step:6d}  t {r.time_fs:8.2f} fs  T {r.temperature_K:7.1f} K  broken {r.broken}"
                  f"  (atoms broken at the start still broken: {r.start_atoms_broken})")
            records.append(r)
            if writer is not None:
                atoms.info = r._asdict()
                writer.write(atoms)
    text, summary = verdict([r.time_fs for r in records], [r.broken for r in records])
    print(f"verdict: {text}")
    return summary


if __name__ == "__main__":
    main()
