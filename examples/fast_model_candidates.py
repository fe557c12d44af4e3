"""Stage 1 of ``make_fast_model.py``: candidate frames for the fast ZIF-4 student (issue 13).

Static copies (the structure, rattled and strained copies), 300 K NVT runs and hot runs (a heating
ramp and a hold) from the base structures of ``make_demo_model.py``, with the current student; on
a watchdog stop the snapshot and rattled copies of it. Every run has a seed of its own and
resumes when run again; all MD goes through ``aseml_zif.md.run``. The tags the frames carry are
described in ``make_fast_model.py``.
"""
import json
import os
import sys
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_demo_model as demo  # noqa: E402  (base structures, rattled/strained copies)
from fast_model_frames import bare, write_atomically  # noqa: E402


# ------------------------------------------------------------------------------- helpers
def candidate(atoms, run, origin, kind=None, **extra):
    """``bare`` copy tagged with the run's name, group and kind (or the given kind)."""
    return bare(atoms, dict(source=run["name"], group=run["group"], kind=kind or run["kind"],
                            origin=origin, **extra))


def run_seed(seed, name):
    """A seed of its own for every run, stable under changes of the other runs."""
    return (int(seed) * 1_000_003 + zlib.crc32(name.encode())) % 2**31


def write_json(data, path):
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(data, indent=1))
    os.replace(partial, path)


# ------------------------------------------------------------------------------- 1. candidates
PLAN_KEYS = ("seed", "test_groups", "hot_starts", "test_hot_starts", "volumes", "test_volumes",
             "sigmas", "rattled", "strained", "strain_normal", "strain_shear", "strain_rattle",
             "cold_ps", "heat_ps", "hold_ps", "hot_K", "hot_min_K", "every", "timestep_fs",
             "snapshot_rattled", "snapshot_sigma", "run_types")
#: the kinds of run of the candidates stage (``--runs``)
RUN_TYPES = ("static", "cold", "hot")


def plan_runs(names, p):
    """The runs of the candidates stage: static copies, 300 K NVT and hot runs (dicts)."""
    unknown = set(p["test_groups"]) | set(p["hot_starts"]) | set(p["test_hot_starts"])
    unknown -= set(names)
    if unknown:
        raise SystemExit(f"unknown structures {sorted(unknown)}; known: {names}")
    if set(p["hot_starts"]) & set(p["test_groups"]):
        raise SystemExit("--hot-starts are training runs: give held-out ones as --test-hot-starts")
    if not set(p["test_hot_starts"]) <= set(p["test_groups"]):
        raise SystemExit("--test-hot-starts must be among --test-groups")
    types = p.get("run_types", RUN_TYPES)
    runs = []
    if "static" in types:
        runs += [dict(name=f"static_{n}", type="static", group=n, kind="cold", volume=1.0)
                 for n in names]
    if "cold" in types:
        runs += [dict(name=f"nvt300_{n}", type="cold", group=n, kind="cold", volume=1.0)
                 for n in names]
    if "hot" in types:
        for starts, volumes in ((p["hot_starts"], p["volumes"]),
                                (p["test_hot_starts"], p["test_volumes"])):
            runs += [dict(name=f"hot_{n}_v{v:.2f}", type="hot", group=n, kind="hot",
                          volume=float(v)) for n in starts for v in volumes]
    for r in runs:
        r["seed"] = run_seed(p["seed"], r["name"])
        r["held_out"] = r["group"] in p["test_groups"]
    return runs


def stages_of(run, p):
    from aseml_zif.md import Stage

    if run["type"] == "cold":
        return [Stage("nvt", p["cold_ps"], 300.0, name="nvt300")]
    return [Stage("nvt", p["heat_ps"], (300.0, p["hot_K"]), name="heat"),
            Stage("nvt", p["hold_ps"], p["hot_K"], name="hold")]


def md_steps(run, p):
    if run["type"] == "static":
        return 0
    return int(sum(round(s.duration_ps * 1000 / p["timestep_fs"]) for s in stages_of(run, p)))


def static_frames(base, run, p):
    """The structure, ``rattled`` copies per σ, and ``strained`` copies (strain, then rattle)."""
    rng = np.random.default_rng(run["seed"])
    frames = [candidate(base, run, "static")]
    for sigma in p["sigmas"]:
        frames += [candidate(demo.rattled(base, sigma, rng), run, f"rattle{sigma:g}")
                   for _ in range(p["rattled"])]
    for _ in range(p["strained"]):
        b = base.copy()
        b.set_cell(b.cell[:] @ demo.random_strain(rng, p["strain_normal"], p["strain_shear"]),
                   scale_atoms=True)
        frames.append(candidate(demo.rattled(b, p["strain_rattle"], rng), run, "strain"))
    return frames


def frame_kind(run, target_K, p):
    if run["type"] != "hot":
        return run["kind"]
    return "hot" if target_K >= p["hot_min_K"] else "warm"


def md_frames(base, run, p, calculator, workdir, progress):
    """Run (or resume) the run's MD; its saved frames after step 0, and on a watchdog or model
    stop the snapshot plus ``snapshot_rattled`` copies displaced by ``snapshot_sigma`` Å."""
    from ase.io import read

    from aseml_zif.errors import ModelError, StructureError
    from aseml_zif.md import RUN_FILES, WatchdogError, run as md_run

    start = base.copy()
    start.set_cell(start.cell[:] * run["volume"] ** (1 / 3), scale_atoms=True)
    stop = None
    try:
        md_run(start, calculator, stages_of(run, p), workdir, timestep_fs=p["timestep_fs"],
               save_every=p["every"], seed=run["seed"], progress=progress)
    except (WatchdogError, ModelError, StructureError) as exc:  # a stop: keep its snapshot
        stop = str(exc)
    traj = workdir / RUN_FILES["trajectory"]
    saved = read(traj, ":") if traj.exists() and traj.stat().st_size else []
    frames = [candidate(a, run, "md", frame_kind(run, a.info["target_temperature_K"], p),
                        step=int(a.info["step"]),
                        target_temperature_K=float(a.info["target_temperature_K"]))
              for a in saved if a.info["step"] > 0]
    snapshot = workdir / RUN_FILES["snapshot"]
    if stop is not None and snapshot.exists():
        broken = read(snapshot)
        if np.isfinite(broken.positions).all():
            info = dict(kind=frame_kind(run, broken.info["target_temperature_K"], p),
                        step=int(broken.info["step"]),
                        target_temperature_K=float(broken.info["target_temperature_K"]))
            frames.append(candidate(broken, run, "watchdog", **info))
            rng = np.random.default_rng([run["seed"], 1])
            frames += [candidate(demo.rattled(broken, p["snapshot_sigma"], rng), run,
                                 f"watchdog_rattle{p['snapshot_sigma']:g}", **info)
                       for _ in range(p["snapshot_rattled"])]
    return frames, stop


def candidates(out_dir, student, p, compile=False, threads=1, dry_run=False, steps_per_s=40.0,
               progress=True):
    out_dir = Path(out_dir)
    bases = dict(demo.base_structures())
    runs = plan_runs(list(bases), p)
    n_static = 1 + len(p["sigmas"]) * p["rattled"] + p["strained"]
    steps = sum(md_steps(r, p) for r in runs)
    frames = sum(n_static if r["type"] == "static" else md_steps(r, p) // p["every"] for r in runs)
    print(f"{len(runs)} runs ({sum(r['held_out'] for r in runs)} held out), {steps} MD steps "
          f"(~{steps / steps_per_s / 60:.0f} min at {steps_per_s:g} steps/s), up to ~{frames} "
          f"frames (+4 per watchdog stop)", flush=True)
    if dry_run:
        for r in runs:
            print(f"  {r['name']:32s} group {r['group']:16s} {r['type']:6s} "
                  f"{md_steps(r, p):6d} steps{'  held out' if r['held_out'] else ''}")
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = {"parameters": p, "structures": list(bases), "runs": runs,
            "test_groups": list(p["test_groups"])}
    plan = json.loads(json.dumps(plan))
    plan_path = out_dir / "plan.json"
    if plan_path.exists() and json.loads(plan_path.read_text()) != plan:
        raise SystemExit(f"{out_dir} holds candidates made with other settings; use a new folder")
    write_json(plan, plan_path)
    summary_path = out_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    calculator = None
    for run in runs:
        path = out_dir / f"{run['name']}.xyz"
        if path.exists():
            print(f"{run['name']}: done, skipped", flush=True)
            continue
        stop = None
        if run["type"] == "static":
            frames = static_frames(bases[run["group"]], run, p)
        else:
            if calculator is None:
                import aseml_zif
                from aseml_zif.cli.common import apply_threads

                apply_threads(threads)
                calculator = aseml_zif.load_potential(student, device="cpu", compile=compile)
            frames, stop = md_frames(bases[run["group"]], run, p, calculator,
                                     out_dir / "md" / run["name"], progress)
        write_atomically(frames, path)
        kinds = {k: sum(f.info["kind"] == k for f in frames) for k in ("cold", "warm", "hot")}
        summary[run["name"]] = {"frames": len(frames), **kinds, "stop": stop}
        write_json(summary, summary_path)
        print(f"{run['name']}: {len(frames)} frames {kinds}"
              + (f"; STOPPED: {stop.splitlines()[0][:300]}" if stop else ""), flush=True)
