"""``aseml-zif md nvt|npt`` and ``aseml-zif meltquench``: restartable MD runs (:mod:`aseml_zif.md`)."""
from pathlib import Path

from .common import (add_model_arguments, add_threads_argument, apply_threads, load_calculator, output_dir,
                     read_atoms, save_figure, write_json)

__all__ = ["register", "load_structure", "plot_thermo", "thermo_summary", "run_protocol"]

#: ``--cell`` choice of ``md npt`` -> ensemble of :class:`aseml_zif.md.Stage`
NPT_CELLS = {"isotropic": "npt", "flexible": "npt_flex", "langevin": "npt_langevin"}


def load_structure(spec, supercell=(1, 1, 1)):
    """``"crystal"`` (the package's ZIF-4, :func:`aseml_zif.structures.zif4_crystal`) or a file,
    repeated ``supercell`` times."""
    from ..structures import supercell as repeat
    from ..structures import zif4_crystal

    atoms = zif4_crystal() if spec == "crystal" else read_atoms(spec)
    return repeat(atoms, tuple(supercell)) if tuple(supercell) != (1, 1, 1) else atoms


def plot_thermo(thermo, path):
    """Temperature (actual and target), potential energy and pressure against time; PNG."""
    import matplotlib.pyplot as plt

    t_ps = thermo["time_fs"] / 1000.0
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(6, 7))
    axes[0].plot(t_ps, thermo["temperature_K"], label="T")
    axes[0].plot(t_ps, thermo["target_temperature_K"], "--", label="target")
    axes[0].set_ylabel("T (K)")
    axes[0].legend()
    axes[1].plot(t_ps, thermo["potential_energy_eV"])
    axes[1].set_ylabel("E$_{pot}$ (eV)")
    axes[2].plot(t_ps, thermo["pressure_GPa"])
    axes[2].set_ylabel("P (GPa)")
    axes[2].set_xlabel("time (ps)")
    return save_figure(fig, path)


def thermo_summary(thermo, stages, timestep_fs):
    """Means over the last half of the log (T in K, E in eV, P in GPa, V in Å³) and the drift of
    the conserved energy (eV) over each constant-temperature segment of ``stages`` (ramps left
    out: :func:`aseml_zif.md.results.conserved_energy_drifts`)."""
    from ..md.results import conserved_energy_drifts

    half = len(thermo["step"]) // 2
    tail = {k: v[half:] for k, v in thermo.items() if k != "stage"}
    return {
        "steps": int(thermo["step"][-1]),
        "time_ps": float(thermo["time_fs"][-1] / 1000.0),
        "mean_temperature_K_last_half": float(tail["temperature_K"].mean()),
        "mean_potential_energy_eV_last_half": float(tail["potential_energy_eV"].mean()),
        "mean_pressure_GPa_last_half": float(tail["pressure_GPa"].mean()),
        "mean_volume_A3_last_half": float(tail["volume_A3"].mean()),
        "conserved_energy_drift_per_segment": conserved_energy_drifts(thermo, stages, timestep_fs),
    }


def _watchdog(args):
    """The run's watchdog: none, the default one, or one with ``--linker-confirm-fs``."""
    from ..md import Watchdog

    if args.no_watchdog:
        return False
    confirm = getattr(args, "linker_confirm_fs", None)
    return Watchdog() if confirm is None else Watchdog(linker_confirm_fs=confirm)


def run_protocol(atoms, calculator, stages, workdir, args):
    """Run (or resume) ``stages`` in ``workdir`` with the run options in ``args``; then write
    ``final.extxyz``, ``results.json`` and ``thermo.png`` there. Prints the speed of this
    invocation's steps (steps/s next to the model's ms per call, measured in the same steps:
    :mod:`aseml_zif.md.timing`), also when the run is stopped; ``results.json`` has it over all
    invocations (``speed``). Returns (final atoms, results)."""
    from ase.io import write

    from ..md import RUN_FILES, run
    from ..md.results import read_thermo
    from ..md.timing import format_speed, read_timing, timing_summary

    workdir = output_dir(workdir)
    known = len(read_timing(workdir / RUN_FILES["timing"]))
    try:
        final = run(atoms, calculator, stages, workdir, timestep_fs=args.timestep_fs,
                    save_every=args.save_every, checkpoint_every=args.checkpoint_every,
                    watchdog=_watchdog(args), seed=args.seed,
                    allow_other_potential=getattr(args, "allow_other_potential", False))
    finally:
        timing = read_timing(workdir / RUN_FILES["timing"])
        if len(timing) > known:
            print(f"MD speed of this invocation: {format_speed(timing[-1])}", flush=True)
    write(workdir / "final.extxyz", final)
    thermo = read_thermo(workdir / RUN_FILES["thermo"])
    results = {
        "stages": [s.to_dict() for s in stages],
        "timestep_fs": args.timestep_fs,
        "summary": thermo_summary(thermo, stages, args.timestep_fs),
        "speed": timing_summary(timing),
        "files": {"trajectory": RUN_FILES["trajectory"], "thermo": RUN_FILES["thermo"],
                  "timing": RUN_FILES["timing"], "final": "final.extxyz", "figure": "thermo.png"},
    }
    plot_thermo(thermo, workdir / "thermo.png")
    write_json(workdir / "results.json", results)
    return final, results


def add_run_arguments(parser, workdir):
    """Arguments shared by every MD command: structure, potential, step, output and restart."""
    parser.add_argument("structure", help="'crystal' (the built-in ZIF-4) or a CIF/LAMMPS data/"
                        "extxyz file")
    parser.add_argument("--supercell", type=int, nargs=3, default=(1, 1, 1), metavar=("NA", "NB", "NC"),
                        help="repeat the structure (default: 1 1 1)")
    add_model_arguments(parser)
    add_threads_argument(parser)
    parser.add_argument("--workdir", default=workdir,
                        help=f"run folder; rerunning the same command there resumes (default: {workdir})")
    parser.add_argument("--timestep-fs", type=float, default=0.5,
                        help="time step in fs (default: 0.5; 0.25 advised above 1500 K)")
    parser.add_argument("--save-every", type=int, default=100, help="steps between saved frames (default: 100)")
    parser.add_argument("--checkpoint-every", type=int, default=1000,
                        help="steps between checkpoints (default: 1000)")
    parser.add_argument("--no-watchdog", action="store_true",
                        help="do not stop on broken linkers, overlapping atoms or runaway T (NaN "
                        "positions or model outputs always stop the run)")
    parser.add_argument("--linker-confirm-fs", type=float, default=None, metavar="FS",
                        help="stop on a broken linker only once every check for this long has "
                        "found it (default: 100 fs; hot H passing another linker heal within "
                        "~30 fs); 0 judges each check alone")
    parser.add_argument("--seed", type=int, default=None, help="seed of the initial velocities")
    parser.add_argument("--allow-other-potential", action="store_true",
                        help="resume a --workdir run made with another potential (its run.json "
                        "records which); without it that is an error")


def _md(args):
    from ..md import Stage

    if args.ensemble == "nvt":
        stage = Stage("nvt", args.time_ps, args.temperature, tdamp_fs=args.tdamp_fs)
    else:
        stage = Stage(NPT_CELLS[args.cell], args.time_ps, args.temperature, pressure_GPa=args.pressure_gpa,
                      tdamp_fs=args.tdamp_fs, pdamp_fs=args.pdamp_fs)
    atoms = load_structure(args.structure, args.supercell)
    apply_threads(args.threads)
    calc = load_calculator(args.model, args.device, args.dtype, args.compile)
    _, results = run_protocol(atoms, calc, [stage], args.workdir, args)
    print(f"wrote {Path(args.workdir) / 'results.json'}: {results['summary']}")


def _meltquench(args):
    from ..md import melt_quench

    stages = melt_quench(T_max_K=args.t_max, rate_K_per_ps=args.rate, plateau_ps=args.plateau_ps,
                         equilibrate_ps=args.equilibrate_ps, T_start_K=args.t_start,
                         ensemble=NPT_CELLS[args.cell] if args.pressure_gpa is not None else "nvt",
                         pressure_GPa=args.pressure_gpa)
    atoms = load_structure(args.structure, args.supercell)
    apply_threads(args.threads)
    calc = load_calculator(args.model, args.device, args.dtype, args.compile)
    _, results = run_protocol(atoms, calc, stages, args.workdir, args)
    print(f"wrote {Path(args.workdir) / 'results.json'}: {results['summary']}")


def register(subparsers):
    """Add ``md`` (with ``nvt`` and ``npt``) and ``meltquench``."""
    md = subparsers.add_parser("md", help="NVT or NPT molecular dynamics (restartable)",
                               description="Nosé–Hoover NVT or MTK/Langevin NPT MD of a structure. "
                               "Writes trajectory.traj, thermo.csv, timing.jsonl, final.extxyz, "
                               "results.json and thermo.png to --workdir and prints steps/s next to "
                               "the model's ms per call; rerun the same command to resume.")
    ensembles = md.add_subparsers(dest="ensemble", metavar="ENSEMBLE", required=True)
    for name, help_text, description in (
        ("nvt", "Nosé–Hoover chain NVT (paper: 100 fs damping)",
         "Constant-volume MD with ASE's Nosé–Hoover chain thermostat, as in the paper (T damping "
         "100 fs, 0.5 fs step)."),
        ("npt", "NPT: isotropic MTK, flexible MTK or flexible Langevin cell",
         "Constant-pressure MD: MTK barostat with an isotropic or fully flexible cell, or Langevin "
         "BAOAB with a flexible cell (the one whose strain fluctuations give the right elastic "
         "constants: use it for 'aseml-zif mechanics fluctuations')."),
    ):
        sub = ensembles.add_parser(name, help=help_text, description=description + " Writes "
                                   "trajectory.traj, thermo.csv, timing.jsonl, final.extxyz, "
                                   "results.json and thermo.png to --workdir and prints steps/s "
                                   "next to the model's ms per call; rerun the same command to "
                                   "resume.")
        add_run_arguments(sub, workdir=f"md_{name}")
        sub.add_argument("--temperature", type=float, default=300.0, help="target T in K (default: 300)")
        sub.add_argument("--time-ps", type=float, default=10.0, help="duration in ps (default: 10)")
        sub.add_argument("--tdamp-fs", type=float, default=100.0, help="thermostat time constant (default: 100 fs)")
        if name == "npt":
            sub.add_argument("--pressure-gpa", type=float, default=0.0, help="target P in GPa (default: 0)")
            sub.add_argument("--cell", choices=NPT_CELLS, default="isotropic",
                             help="cell dynamics (default: isotropic; 'langevin' for strain fluctuations)")
            sub.add_argument("--pdamp-fs", type=float, default=1000.0,
                             help="barostat time constant (default: 1000 fs)")
        sub.set_defaults(func=_md)

    mq = subparsers.add_parser(
        "meltquench", help="melt-quench a structure into a glass (paper's protocol)",
        description="Heat T_start -> T_max at RATE, hold PLATEAU, quench at RATE, equilibrate "
        "(Castel et al. 2024: 300 -> 1500 K at 20 K/ps, 50 ps, 100 ps; NVT). Writes the run folder "
        "of 'md', prints steps/s next to the model's ms per call, and resumes when rerun.")
    add_run_arguments(mq, workdir="meltquench")
    mq.add_argument("--t-max", type=float, default=1500.0, help="melt temperature in K (default: 1500)")
    mq.add_argument("--t-start", type=float, default=300.0, help="start/end temperature in K (default: 300)")
    mq.add_argument("--rate", type=float, default=20.0, help="heating/quench rate in K/ps (default: 20)")
    mq.add_argument("--plateau-ps", type=float, default=50.0, help="time at T_max in ps (default: 50)")
    mq.add_argument("--equilibrate-ps", type=float, default=100.0,
                    help="final time at T_start in ps (default: 100)")
    mq.add_argument("--pressure-gpa", type=float, default=None,
                    help="run every stage at this pressure (NPT) instead of NVT")
    mq.add_argument("--cell", choices=NPT_CELLS, default="isotropic",
                    help="cell dynamics when --pressure-gpa is given (default: isotropic)")
    mq.set_defaults(func=_meltquench)
