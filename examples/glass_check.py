"""Melt-quench ZIF-4 with a model and check the result against the paper's glass criteria
(Castel et al., Digital Discovery 3, 355 (2024)); every subcommand resumes when rerun.

    python examples/glass_check.py meltquench --model demo --seeds 0 1 2 --out mq
    python examples/glass_check.py criteria mq/seed0 mq/seed1 mq/seed2 --out mq/criteria.json
    python examples/glass_check.py validate300 --model demo --out val300 [--glasses ZIF4_15glass07 ...]
    python examples/glass_check.py figure mq/seed0 --out mq/glass_vs_abinitio.png

meltquench runs, per seed, exactly ``aseml-zif meltquench crystal --model M [--compile]
--equilibrate-ps 10 --seed S --workdir OUT/seedS`` and records in OUT/seedS/speed.json the wall
time of each invocation and the speed the run measured in its own steps: steps/s next to the
model's own time per call (aseml_zif.md.timing, the run's timing.jsonl). criteria judges the frames of each run's final 300 K
stage (aseml_zif.analysis.glass) next to the ten ab initio glasses and the crystal. validate300
runs 10 ps of 300 K NVT on each ab initio glass (the paper's Fig. S3: CN and rings unchanged) and
lists every Zn–N bond that changed over the saved frames, and from which step it lasted.
figure draws RDF/PMF, N-Zn-N angles and ring sizes of the runs against the ab initio glasses.
The published structures are read from ASEML_ZIF_SHARED_DATA (default ../shared/data/castel2024).
"""
import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"))
EXPERIMENT = "experiment/ZIF4glassa_31.dofr"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def load_json(path, default=None):
    path = Path(path)
    return json.loads(path.read_text()) if path.is_file() else default


def save_json(path, data):
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)  # atomic: a killed script leaves the old file or the new one
    return path


def abinitio_glasses(shared):
    paths = sorted((Path(shared) / "structures" / "abinitio_glasses").glob("ZIF4_15glass*.cif"))
    return paths if len(paths) == 10 else []


def fmt_rings(counts):
    return " ".join(f"{k}:{c:g}" for k, c in counts.items())


def print_table(header, rows):
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def set_threads(threads):
    """``threads`` > 0: one setting for this process (torch) and the subprocesses (env)."""
    from aseml_zif.cli.common import apply_threads

    env = dict(os.environ)
    if threads > 0:
        env.update({name: str(threads) for name in THREAD_VARIABLES})
    apply_threads(threads)
    return env


# ----------------------------------------------------------------------------- meltquench
def meltquench_command(model, seed, workdir, compile=False, equilibrate_ps=10.0, extra=()):
    """The issue's command line (``extra`` is for shortened test runs only)."""
    exe = shutil.which("aseml-zif") or str(Path(sys.executable).with_name("aseml-zif"))
    return [exe, "meltquench", "crystal", "--model", str(model), *(["--compile"] if compile else []),
            "--equilibrate-ps", f"{equilibrate_ps:g}", "--seed", str(seed), "--workdir", str(workdir),
            *extra]


def watchdog_stop(stderr_text, status):
    """The watchdog's message when the run was stopped by it, else None. The CLI exits with 2 and
    prints ``aseml-zif: error: watchdog at step ...``; the run leaves watchdog_snapshot.traj."""
    for line in stderr_text.splitlines()[::-1]:
        if "error: watchdog at" in line:
            return line.split("error: ", 1)[1][:500]
    stopped = status.get("stopped") or ""
    return stopped[len("watchdog: "):][:500] if stopped.startswith("watchdog: ") else None


def invoke(command, workdir, env):
    """Run ``command`` once (stderr teed to the terminal and workdir/meltquench.log); return the
    invocation record: wall time, steps before/after (thermo.csv), exit status, watchdog stop, and
    ``timing``, the run's own record of its steps (aseml_zif.md.timing; None if it did none)."""
    from aseml_zif.md import RUN_FILES
    from aseml_zif.md.results import run_status
    from aseml_zif.md.timing import read_timing

    Path(workdir).mkdir(parents=True, exist_ok=True)
    before = run_status(workdir)["step"]
    timing = Path(workdir) / RUN_FILES["timing"]
    known = len(read_timing(timing))
    chunks, started = [], time.strftime("%Y-%m-%d %H:%M:%S")
    stream = getattr(sys.stderr, "buffer", None)

    def echo(chunk):
        if stream is not None:
            stream.write(chunk)
        else:
            sys.stderr.write(chunk.decode(errors="replace"))
        sys.stderr.flush()

    start, interrupted = time.perf_counter(), False
    with open(Path(workdir) / "meltquench.log", "ab") as log:
        proc = subprocess.Popen(command, stderr=subprocess.PIPE, env=env)
        try:
            while chunk := proc.stderr.read1(65536):
                chunks.append(chunk)
                log.write(chunk)
                echo(chunk)
        except KeyboardInterrupt:  # the child got the Ctrl-C too: it keeps its checkpoint
            interrupted = True
        returncode = proc.wait()
    wall = time.perf_counter() - start
    status = run_status(workdir)
    new = read_timing(timing)[known:]
    return {"command": shlex.join(command), "started": started,
            "wall_s": wall, "steps_before": before, "steps_after": status["step"],
            "steps_done": max(0, status["step"] - before), "returncode": returncode,
            "watchdog_stop": watchdog_stop(b"".join(chunks).decode(errors="replace"), status),
            "finished": status["finished"], "interrupted": interrupted,
            "timing": new[-1] if new else None}


#: table column -> (key of the in-run speed, format)
SPEED_COLUMNS = {"steps/s": ("steps_per_s", ".2f"), "ms/step": ("ms_per_step", ".2f"),
                 "model ms/call": ("model_ms_per_call", ".2f"),
                 "MD overhead %": ("md_overhead_percent", ".1f")}


def speed_cell(speed, key, fmt):
    """``speed[key]`` in format ``fmt``; "-" when there is no speed or no such value."""
    return format(speed[key], fmt) if speed and speed.get(key) is not None else "-"


def speed_summary(invocations):
    """Totals over invocations: their wall time (start-up included) and logged steps, and
    ``in_run``: the speed the runs measured in their own steps (steps/s, model ms per call, MD
    overhead %: aseml_zif.md.timing.timing_summary; None before any step)."""
    from aseml_zif.md.timing import timing_summary

    return {"n_invocations": len(invocations), "total_wall_s": sum(i["wall_s"] for i in invocations),
            "total_steps": sum(i["steps_done"] for i in invocations),
            "in_run": timing_summary([i["timing"] for i in invocations if i.get("timing")]),
            "watchdog_stop": next((i["watchdog_stop"] for i in invocations[::-1] if i["watchdog_stop"]), None)}


def cmd_meltquench(args):
    from aseml_zif.md.results import run_status

    env = set_threads(args.threads)
    rows = []
    for seed in args.seeds:
        workdir = Path(args.out) / f"seed{seed}"
        record = load_json(workdir / "speed.json", {"invocations": []})
        status = run_status(workdir) if workdir.exists() else {"finished": False}
        last = record["invocations"][-1] if record["invocations"] else None
        if status["finished"]:
            print(f"seed {seed}: finished already ({workdir})")
        elif last and last["watchdog_stop"] and not args.retry_stopped:  # a rerun stops there again
            print(f"seed {seed}: stopped by the watchdog (rerun with --retry-stopped): "
                  f"{last['watchdog_stop'][:200]}")
        else:
            command = meltquench_command(args.model, seed, workdir, args.compile, args.equilibrate_ps,
                                         shlex.split(args.extra_args))
            print("running:", shlex.join(command), flush=True)
            workdir.mkdir(parents=True, exist_ok=True)
            record["invocations"].append(last := invoke(command, workdir, env))
            save_json(workdir / "speed.json", record)
            if last["interrupted"]:
                sys.exit(f"interrupted; {workdir}/speed.json kept: rerun to resume")
            if last["returncode"] and not last["watchdog_stop"]:
                print(f"seed {seed}: aseml-zif failed (exit {last['returncode']}); see {workdir}/meltquench.log")
                continue
        record = {"invocations": record["invocations"], "model": str(args.model), "compile": args.compile,
                  "threads": args.threads or None, **speed_summary(record["invocations"]),
                  "finished": run_status(workdir)["finished"]}
        save_json(workdir / "speed.json", record)
        speed = [speed_cell(record["in_run"], key, fmt) for key, fmt in SPEED_COLUMNS.values()]
        rows.append([seed, record["n_invocations"], record["total_steps"], f"{record['total_wall_s']:.1f}",
                     *speed, "yes" if record["finished"] else "no",
                     "STOPPED" if record["watchdog_stop"] else "-"])
    print_table(["seed", "invocations", "steps", "wall s", *SPEED_COLUMNS, "finished", "watchdog"], rows)
    print("steps/s, ms/step, model ms/call and MD overhead: measured by the runs in the same steps "
          "(timing.jsonl); wall s includes each invocation's start-up (Python, torch, model load or "
          "compile)")


# ----------------------------------------------------------------------------- criteria
def criteria_row(entry, verdict):
    if "skipped" in entry:
        return [entry["name"], "-", entry["skipped"]] + [""] * 6
    v = entry["values"]
    mark = {True: "ok", False: "FAIL", None: "ref"}

    def cell(key, text):
        return f"{text} {mark[verdict[key]]}"

    rings = fmt_rings(v["rings_per_cell"])
    x = v.get("xray", {}).get("r_w_dr")
    return [entry["name"], v["n_frames"], cell("cn", f"{v['cn']:.4f}"),
            cell("linkers", f"{v['linkers_intact_min']}/{v['linkers_expected']}"),
            cell("rings", ("still crystal " if v["rings_like_crystal"] else "") + rings),
            cell("angle", f"{v['angle_deg']:.2f}"), cell("pores", f"{v['pore_cm3_per_kg']:.1f}"),
            cell("xray", f"{x:.3f}") if x is not None else "n/a", "GLASS" if verdict["glass"] else "no"]


def cmd_criteria(args):
    from aseml_zif.analysis.glass import BARS, crystal_rings_per_zn, glass_criteria, judge, run_criteria
    from aseml_zif.io import read_structure

    shared = Path(args.shared)
    experiment = shared / args.experiment
    experiment = experiment if experiment.is_file() else None
    crystal_rings = crystal_rings_per_zn()
    reference = []
    glasses = abinitio_glasses(shared)
    if not glasses:
        print(f"no ab initio glasses in {shared}/structures/abinitio_glasses: reference rows and the "
              "X-ray criterion skipped (set ASEML_ZIF_SHARED_DATA)")
    for path in glasses + [p for p in [shared / "structures" / "zif4_crystal.lmp"] if p.is_file()]:
        reference.append({"name": path.stem, "path": str(path), "reference": path in glasses, "values":
                          glass_criteria(read_structure(path), crystal_rings, experiment)})
    ref_r_w = [e["values"]["xray"]["r_w_dr"] for e in reference[:len(glasses)] if "xray" in e["values"]]
    runs = [run_criteria(path, crystal_rings, experiment, stage=args.stage, stride=args.stride,
                         max_structure_frames=args.max_frames, allow_unfinished=args.allow_unfinished)
            for path in args.runs]
    rows = []
    for entry in runs + reference:
        if "values" in entry:
            entry["verdict"] = judge(entry["values"], None if entry.get("reference") else ref_r_w)
        rows.append(criteria_row(entry, entry.get("verdict", {})))
    print_table(["structure", "frames", "Zn-N CN [3.85,4]", "intact linkers", "rings per cell",
                 "N-Zn-N deg [108,111]", "pores cm3/kg [55,75]", "R_w D(r)", "verdict"], rows)
    summary = {}
    if ref_r_w:
        summary = {"min": min(ref_r_w), "median": float(np.median(ref_r_w)), "max": max(ref_r_w)}
        print(f"X-ray D(r) R_w vs {experiment.name} (0.5-20 A), ab initio glasses: min {summary['min']:.3f} "
              f"median {summary['median']:.3f} max {summary['max']:.3f}; a run passes when <= max")
    out = {"bars": dict(BARS, linkers="all (2 per Zn)", rings=f"not the crystal's (per Zn {crystal_rings})",
                        xray="R_w D(r) <= max of the ab initio glasses"),
           "experiment": str(experiment) if experiment else None, "abinitio_r_w_dr": summary,
           "runs": runs, "reference": reference}
    print(f"wrote {save_json(args.out, out)}")


# ----------------------------------------------------------------------------- validate300
def lasting_changes(changes):
    """The changes of ``changes`` (from ``bond_changes``) whose bond differs at the end from the
    start, in their order."""
    return [c for c in changes if c["bonded_at_end"] != c["bonded_at_start"]]


def fmt_bond_changes(changes):
    """'+Zn32-N266@16000 -Zn202-N198@10100': bonds gained (+) or lost (-) for good, and the step
    from which they lasted; '-' when none."""
    return " ".join(f"{'+' if c['bonded_at_end'] else '-'}Zn{c['atoms'][0]}-N{c['atoms'][1]}"
                    f"@{c['lasting_from_step']}" for c in lasting_changes(changes)) or "-"


def cmd_validate300(args):
    glasses = abinitio_glasses(args.shared)
    if not glasses:
        print(f"skipped: the ten ab initio glasses are not in {args.shared} (set ASEML_ZIF_SHARED_DATA)")
        return
    if args.glasses:
        by_name = {path.stem: path for path in glasses}
        unknown = [name for name in args.glasses if name not in by_name]
        if unknown:
            sys.exit(f"--glasses: no {', '.join(unknown)} in {glasses[0].parent} "
                     f"(it has {', '.join(by_name)})")
        glasses = [by_name[name] for name in args.glasses]
    glasses = glasses[:args.limit or None]
    from aseml_zif import load_potential
    from aseml_zif.analysis.glass import bond_changes, compare_structures
    from aseml_zif.errors import ModelError, StructureError, WatchdogError
    from aseml_zif.io import read_structure
    from aseml_zif.md import Stage, run
    from aseml_zif.md.results import run_frames, run_status

    set_threads(args.threads)
    calc = None  # loaded when a run needs it: a rerun of finished runs only reads them
    stage = Stage("nvt", args.time_ps, 300.0, tdamp_fs=100.0, name="nvt300")
    out, results, rows = Path(args.out), [], []
    for path in glasses:
        workdir = out / path.stem
        start = read_structure(path)
        entry = {"glass": path.stem, "workdir": str(workdir)}
        settings, wanted = load_json(workdir / "run.json", {}), [json.loads(json.dumps(stage.to_dict()))]
        if settings and settings.get("stages") != wanted:
            sys.exit(f"{workdir} holds a run of other stages ({settings.get('stages')}); use another --out")
        if settings and run_status(workdir)["finished"]:
            print(f"{path.stem}: finished already ({workdir})")
        else:
            try:
                calc = calc if calc is not None else load_potential(args.model, device="auto",
                                                                    compile=args.compile)
                run(start, calc, [stage], workdir, timestep_fs=0.5, save_every=args.save_every,
                    checkpoint_every=max(args.save_every, 1000), seed=args.seed,
                    progress=sys.stderr.isatty())
            except (WatchdogError, ModelError, StructureError) as exc:  # report, go on
                entry["stopped"] = str(exc)[:500]
        results.append(entry)
        if not (workdir / "trajectory.traj").is_file():
            rows.append([path.stem, "-", "-", "-", "-", "-", "-", entry.get("stopped", "no frames")[:60]])
            continue
        frames, source = run_frames(workdir, stage="all")
        entry.update(compare_structures(start, frames[-args.last_frames:]))
        entry["zn_n_changes"] = bond_changes(start, frames, steps=source.get("steps"))
        rows.append([path.stem, f"{entry['cn_before']:.4f}", f"{np.mean(entry['cn_after']):.4f}",
                     fmt_rings(entry["rings_before"]), fmt_rings(entry["rings_after"][-1]),
                     "CHANGED" if entry["cn_changed"] or entry["rings_changed"] else "same",
                     fmt_bond_changes(entry["zn_n_changes"]),
                     "STOPPED" if "stopped" in entry else "-"])
    print_table(["glass", "CN before", f"CN after (last {args.last_frames})", "rings before",
                 "rings after (last)", "CN/rings", "lasting Zn-N changes (from step)", "run"], rows)
    save_json(out / "validate300.json", {"model": str(args.model), "compile": args.compile,
                                         "time_ps": args.time_ps, "seed": args.seed, "glasses": results})
    print(f"wrote {out / 'validate300.json'}")


# ----------------------------------------------------------------------------- figure
def cmd_figure(args):
    glasses = abinitio_glasses(args.shared)
    if not glasses:
        print(f"skipped: the ten ab initio glasses are not in {args.shared} (set ASEML_ZIF_SHARED_DATA)")
        return
    from aseml_zif.analysis.glass_figure import plot_profiles, structure_profiles
    from aseml_zif.analysis.report import DEFAULT_PAIRS
    from aseml_zif.io import read_structure
    from aseml_zif.md.results import run_frames

    pairs = list(DEFAULT_PAIRS) + [p for p in [("N", "N")] if p not in DEFAULT_PAIRS]
    ref = [structure_profiles([read_structure(p)], pairs) for p in glasses]
    runs = [(Path(p).name, structure_profiles(run_frames(p, stage=args.stage)[0], pairs)) for p in args.runs]
    fig = plot_profiles(ref, runs, pairs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shared", default=str(SHARED), help=f"published data folder (default: {SHARED})")
    sub = parser.add_subparsers(dest="command", required=True)
    mq = sub.add_parser("meltquench", help="the issue's melt-quench per seed, with speed.json")
    mq.add_argument("--model", required=True)
    mq.add_argument("--compile", action="store_true")
    mq.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    mq.add_argument("--out", required=True, help="runs go to OUT/seedS")
    mq.add_argument("--threads", type=int, default=1, help="torch/OpenMP threads (0: leave as is)")
    mq.add_argument("--equilibrate-ps", type=float, default=10.0, help="(default: 10, the issue's)")
    mq.add_argument("--extra-args", default="", help="appended to the aseml-zif command (for short "
                    "test runs, e.g. '--plateau-ps 0.01'); leave empty for the issue's command")
    mq.add_argument("--retry-stopped", action="store_true", help="rerun seeds the watchdog stopped")
    cr = sub.add_parser("criteria", help="glass criteria of finished runs vs the ab initio glasses")
    cr.add_argument("runs", nargs="+", help="run folders (or structure files)")
    cr.add_argument("--out", default="glass_criteria.json")
    cr.add_argument("--stage", default="last", help="stage whose frames are judged (default: last)")
    cr.add_argument("--stride", type=int, default=1)
    cr.add_argument("--max-frames", type=int, default=10, help="frames for rings, pores, X-ray")
    cr.add_argument("--allow-unfinished", action="store_true")
    cr.add_argument("--experiment", default=EXPERIMENT, help=f"measured .dofr (+ .int01) under "
                    f"--shared (default: {EXPERIMENT})")
    va = sub.add_parser("validate300", help="10 ps NVT at 300 K on each ab initio glass")
    va.add_argument("--model", required=True)
    va.add_argument("--compile", action="store_true")
    va.add_argument("--out", required=True)
    va.add_argument("--time-ps", type=float, default=10.0)
    va.add_argument("--seed", type=int, default=0)
    va.add_argument("--save-every", type=int, default=100)
    va.add_argument("--last-frames", type=int, default=5, help="frames compared with the start")
    va.add_argument("--glasses", nargs="+", help="only these glasses, in this order (e.g. "
                    "ZIF4_15glass07); validate300.json then lists only them (default: all ten)")
    va.add_argument("--limit", type=int, default=0, help="only the first N glasses (0: all)")
    va.add_argument("--threads", type=int, default=1)
    fi = sub.add_parser("figure", help="RDF/PMF, angles and rings vs the ab initio glasses")
    fi.add_argument("runs", nargs="*", help="run folders (or structure files)")
    fi.add_argument("--out", required=True)
    fi.add_argument("--stage", default="last")
    args = parser.parse_args(argv)
    {"meltquench": cmd_meltquench, "criteria": cmd_criteria, "validate300": cmd_validate300,
     "figure": cmd_figure}[args.command](args)


if __name__ == "__main__":
    main()
