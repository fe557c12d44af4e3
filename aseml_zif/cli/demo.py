"""``aseml-zif demo``: the main job on the embedded potential, crystal → shortened melt-quench,
with the final structure's report next to the crystal's (Castel et al. 2024, Figs. 4–7)."""
import time
from argparse import Namespace
from pathlib import Path

import numpy as np

from .._deprecation import renamed_argument
from .analysis import structure_analysis, summary_of
from .common import (add_model_arguments, add_threads_argument, apply_threads, load_calculator, output_dir,
                     save_figure, write_json)
from .md import run_protocol

__all__ = ["register", "demo_stages", "run_demo"]

#: steps of ``--quick`` (a smoke run: seconds with a cheap potential)
QUICK_STEPS = 200


def demo_stages(steps, timestep_fs=0.5, T_max_K=1500.0, T_start_K=300.0, *, T_max=None,
                T_start=None):
    """The paper's melt-quench shortened to ``steps`` MD steps, a quarter for each stage.

    Heating, plateau at ``T_max_K``, quench and equilibration at ``T_start_K`` each last
    ``steps * timestep_fs / 4``; the heating/quench rate follows (the paper: 20 K/ps, here
    hundreds of K/ps). A few thousand steps are far shorter than the paper's 50 ps plateau: with
    the default 6000 steps (0.75 ps at 1500 K) ZIF-4 does not melt, it comes back with the
    crystal's topology; a glass needs :func:`aseml_zif.md.melt_quench` with the paper's durations.
    ``T_max`` and ``T_start`` are deprecated names of ``T_max_K`` and ``T_start_K`` (warn).
    """
    from ..md import melt_quench

    T_max_K = renamed_argument("demo_stages", "T_max", "T_max_K", T_max, T_max_K, 1500.0)
    T_start_K = renamed_argument("demo_stages", "T_start", "T_start_K", T_start, T_start_K, 300.0)

    quarter_ps = steps * timestep_fs / 4000.0
    return melt_quench(T_max_K=T_max_K, rate_K_per_ps=(T_max_K - T_start_K) / quarter_ps,
                       plateau_ps=quarter_ps, equilibrate_ps=quarter_ps, T_start_K=T_start_K)


def plot_comparison(crystal, final, path):
    """Crystal vs final structure, as the paper's Figs. 4–6: g_ZnN(r) and its PMF (kJ/mol),
    g_ZnZn(r), P(N–Zn–N), Zn–N coordination numbers, ring-size histogram."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(13, 7))
    for label, analysis, style in (("crystal", crystal, "-"), ("melt-quenched", final, "--")):
        for ax, key in ((axes[0, 0], "rdf_zn_n"), (axes[0, 2], "rdf_zn_zn")):
            rdf = analysis[key]
            ax.plot(rdf.bin_centers, rdf.rdf, style, label=label)
            ax.set_ylabel(f"g$_{{{''.join(rdf.pair)}}}$(r)")
        rdf = analysis["rdf_zn_n"]
        axes[0, 1].plot(rdf.bin_centers, rdf.pmf(analysis["temperature_K"]), style, label=label)
        angles = analysis["angles"]
        axes[1, 0].plot(angles.bin_centers, angles.distribution, style, label=label)
    for ax in (axes[0, 0], axes[0, 1], axes[0, 2]):
        ax.set_xlabel("r (Å)")
    axes[0, 1].set_ylabel(f"PMF Zn–N (kJ/mol, {crystal['temperature_K']:.0f} K)")
    axes[0, 1].set_xlim(1.5, 8.0)
    axes[1, 0].set_xlabel("N–Zn–N angle (°)")
    axes[1, 0].set_xlim(60, 160)
    axes[1, 0].set_ylabel("P(θ) (1/°)")
    values = sorted(set(crystal["coordination"].distribution) | set(final["coordination"].distribution))
    x = np.arange(len(values))
    for shift, label, analysis in ((-0.2, "crystal", crystal), (0.2, "melt-quenched", final)):
        fractions = analysis["coordination"].distribution
        axes[1, 1].bar(x + shift, [fractions.get(v, 0.0) for v in values], width=0.4, label=label)
    axes[1, 1].set_xticks(x, [str(v) for v in values])
    axes[1, 1].set_xlabel("Zn–N coordination number")
    axes[1, 1].set_ylabel("fraction of Zn")
    sizes = sorted(set(crystal["rings"].counts) | set(final["rings"].counts))
    x = np.arange(len(sizes))
    for shift, label, analysis in ((-0.2, "crystal", crystal), (0.2, "melt-quenched", final)):
        axes[1, 2].bar(x + shift, [analysis["rings"].counts.get(s, 0.0) for s in sizes], width=0.4,
                       label=label)
    axes[1, 2].set_xticks(x, [str(s) for s in sizes])
    axes[1, 2].set_xlabel("ring size (Zn + Im nodes)")
    axes[1, 2].set_ylabel("rings per cell")
    for ax in axes.flat:
        ax.legend()
    return save_figure(fig, path)


def _last_stage_frames(workdir):
    """Saved frames of the last MD stage (equilibration at T_start) of a run folder."""
    from ase.io import read

    from ..md import RUN_FILES

    frames = read(Path(workdir) / RUN_FILES["trajectory"], ":")
    return [f for f in frames if f.info.get("stage") == frames[-1].info.get("stage")]


#: Peak temperature of the demo (K), the paper's melt temperature. The embedded demo model went
#: through four active-learning rounds, the last three on its own melt-quench runs, until the
#: 6000-step demo ran through at 1500 K for three velocity seeds (data/demo_model/CARD.md).
DEMO_T_MAX_K = 1500.0


def run_demo(out, model="demo", steps=6000, timestep_fs=0.5, T_max_K=DEMO_T_MAX_K, device="auto",
             dtype=None, seed=0, *, compile=False, T_max=None):
    """Build ZIF-4, melt-quench it with the linker watchdog on, and analyse both structures.

    Parameters
    ----------
    out : path-like
        Output folder: ``report.json``, ``figures/``, ``md/`` (the restartable run).
    model : str
        ``"demo"`` (the embedded demo model), ``"fast"`` (the embedded student for hot runs),
        a model file, or ``"module:factory"``.
    steps : int
        Total MD steps of the shortened melt-quench (see :func:`demo_stages`).
    timestep_fs, T_max_K : float
        Time step in fs and melt temperature in K.
    device, dtype, seed
        Device and precision of the model; seed of the initial velocities.
    compile : bool
        Compile the model with AOTInductor first (cached; see :func:`aseml_zif.load_potential`).
    T_max : float, optional
        Deprecated name of ``T_max_K`` (warns).

    Returns
    -------
    dict
        The report written to ``out/report.json``.

    Raises
    ------
    aseml_zif.md.WatchdogError
        A linker broke (or atoms overlapped, or T ran away) during the run; the message names it
        and ``out/md/watchdog_snapshot.traj`` holds the structure.
    """
    from ..structures import zif4_crystal

    T_max_K = renamed_argument("run_demo", "T_max", "T_max_K", T_max, T_max_K, DEMO_T_MAX_K)
    out = output_dir(out)
    figures = output_dir(out / "figures")
    started = time.perf_counter()
    calc = load_calculator(model, device, dtype, compile)
    crystal = zif4_crystal()
    stages = demo_stages(steps, timestep_fs, T_max_K)
    run_args = Namespace(timestep_fs=timestep_fs, save_every=max(1, steps // 100),
                         checkpoint_every=max(1, steps // 10), no_watchdog=False, seed=seed)
    final, md_results = run_protocol(crystal, calc, stages, out / "md", run_args)
    print("analysing the crystal and the melt-quenched structure ...")
    crystal_analysis = structure_analysis(crystal, temperature_K=stages[-1].temperature_K)
    final_analysis = structure_analysis(final, _last_stage_frames(out / "md"), stages[-1].temperature_K)
    plot_comparison(crystal_analysis, final_analysis, figures / "crystal_vs_glass.png")
    report = {
        "model": str(model),
        "protocol": {"steps": steps, "timestep_fs": timestep_fs, "T_max_K": T_max_K,
                     "stages": md_results["stages"]},
        "md": md_results["summary"],
        "watchdog": "on: linker integrity checked during the whole run, no failure",
        "crystal": summary_of(crystal_analysis),
        "final": summary_of(final_analysis),
        "figures": ["figures/crystal_vs_glass.png", "md/thermo.png"],
        "wall_time_s": time.perf_counter() - started,
    }
    write_json(out / "report.json", report)
    return report


def _demo(args):
    steps = QUICK_STEPS if args.quick else args.steps
    apply_threads(args.threads)
    report = run_demo(args.out, args.model, steps, args.timestep_fs, args.t_max, args.device,
                      args.dtype, args.seed, compile=args.compile)
    for name in ("crystal", "final"):
        s = report[name]
        print(f"{name:8s} Zn-N CN {s['zn_n_coordination']['mean']:.3f}, "
              f"{s['linkers']['n_intact']} intact linkers, rings {s['ring_counts_per_cell']}, "
              f"pores {s['pore_volume_cm3_per_kg']['total_cm3_per_kg']:.1f} cm3/kg")
    print(f"wrote {Path(args.out) / 'report.json'} and figures ({report['wall_time_s']:.0f} s)")


def register(subparsers):
    """Add ``demo``."""
    parser = subparsers.add_parser(
        "demo", help="main job: ZIF-4 crystal -> short melt-quench -> structural report",
        description="Build the ZIF-4 crystal, melt-quench it (shortened version of the paper's "
        "protocol, linker watchdog on) with the embedded demo potential, and write OUT/report.json "
        "(Zn-N coordination, N-Zn-N angles, ring counts, pore volume, linker integrity of the final "
        "structure next to the crystal's) and figures. Under 10 minutes on 2 CPU cores, no "
        "downloads. Rerunning the same command resumes an interrupted run.")
    parser.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    add_model_arguments(parser)
    add_threads_argument(parser)
    parser.add_argument("--steps", type=int, default=6000,
                        help="total MD steps of the melt-quench, a quarter per stage (default: 6000)")
    parser.add_argument("--quick", action="store_true",
                        help=f"smoke run with {QUICK_STEPS} steps (overrides --steps)")
    parser.add_argument("--timestep-fs", type=float, default=0.5, help="time step in fs (default: 0.5)")
    parser.add_argument("--t-max", type=float, default=DEMO_T_MAX_K,
                        help=f"peak temperature in K (default: {DEMO_T_MAX_K:g}, the paper's)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial velocities (default: 0)")
    parser.set_defaults(func=_demo)
