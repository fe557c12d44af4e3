"""Data pipeline of the fast ZIF-4 student (issue 13): candidates, held-out split, teacher labels, npz.

The paper's NequIP model (Castel et al., Digital Discovery 3, 355 (2024)) is the teacher. The
current student (e.g. the shipped ``demo``) generates candidate frames where a student goes
wrong: all ten ab initio glasses and the crystals with rattled and strained copies, 300 K NVT
runs, and long 1500 K runs at several densities whose watchdog stops are kept with rattled
copies. Whole groups (two glasses, the experimental crystal, and hot runs with their own seeds
started from those glasses) are held out, so that no near-copy of a training frame reaches a
test set. Every stage writes files and resumes when run again; all MD goes through
``aseml_zif.md.run``. On a 2-core CPU with ``OMP_NUM_THREADS=1``::

    # 1. candidates (~35-40 min on one core with the eager demo student, ~40 MD steps/s;
    #    88 000 MD steps, ~1600 frames; --compile: AOTInductor student, ~2x faster)
    python make_fast_model.py candidates fast --student demo --dry-run   # the plan, no MD
    python make_fast_model.py candidates fast --student demo
    # 2. held-out split by whole groups -> fast/train_pool.xyz, fast/test_cold.xyz, fast/test_hot.xyz
    python make_fast_model.py select fast
    # 3. teacher labels (~1 s/frame compiled, one thread): two workers in parallel, then merge
    python make_fast_model.py label fast/train_pool.xyz fast/train_labelled.xyz \\
        --teacher ../shared/data/castel2024/model/nequip_l2r6stress0.pth --compile \\
        --worker 0 --workers 2 &
    python make_fast_model.py label fast/train_pool.xyz fast/train_labelled.xyz \\
        --teacher ../shared/data/castel2024/model/nequip_l2r6stress0.pth --compile \\
        --worker 1 --workers 2
    wait
    python make_fast_model.py merge fast/train_pool.xyz fast/train_labelled.xyz --workers 2
    python make_fast_model.py label fast/test_cold.xyz fast/test_cold_labelled.xyz \\
        --teacher ../shared/data/castel2024/model/nequip_l2r6stress0.pth --compile   # (and test_hot)
    # 4. one compressed float32 file to commit, and back to extxyz for nequip-train
    python make_fast_model.py pack ../data/fast_model/frames.npz fast/train_labelled.xyz \\
        fast/test_cold_labelled.xyz fast/test_hot_labelled.xyz
    python make_fast_model.py unpack ../data/fast_model/frames.npz unpacked
    # 5. training and deployment: make_demo_model.py's stages with another STUDENT dict, e.g.
    #    python -c "import make_demo_model as d; d.STUDENT = {...}; d.train('f1', 100,
    #               ['unpacked/train_labelled.xyz'])"   (train reads the module's STUDENT when called)
    #    Its test/val frames are drawn from the training pool (flat histogram), so they hold
    #    near-copies of training frames: report accuracy on test_cold and test_hot.

Later rounds of active learning (all but 4 and 5, which only trained) run only the hot runs,
with the latest student and seeds of their own, from training structures only (the held-out
sets stay round 1's). Some also take watchdog snapshots saved elsewhere, with rattled copies
(``snapshots``; rounds 3 and 6), and, from round 6 on, the path into each failure: the stopped
runs made again with the same seed and ``--every 5``, of which ``select --before-stop`` keeps
the last steps. ``stretched`` makes, from a round's hot candidates outside the held-out groups,
copies with one linker bond (C–N, C–C or C–H) stretched, which teach the restoring force that
keeps a hot ring closed; label them like the training pool. The inputs may also be MD run
folders (a student's melt-quench), whose intact frames at 1000 K or more are used::

    python make_fast_model.py stretched rN/hot_*.xyz rN/stretched.xyz --n 100 --seed 0
    python make_fast_model.py stretched MQ_RUN_DIR rN/stretched.xyz --n 150

``detached`` makes, from the frames of one stage of MD run folders (a student's melt-quench),
copies with one H pulled off its C into free space, which teach the C–H dissociation energy a
student with 3 Å H pairs cannot see (round 13); ``--min-clearance 3`` keeps every atom but the H's
own C 3 Å or more away, so that an H pulled 3 Å or more off its C is alone for such a student
(round 14)::

    python make_fast_model.py detached MQ_RUN_DIR rN/detached.xyz --n 200 --seed 0

A round N, with the package of round M = N-1 as the student, goes::

    python make_fast_model.py candidates rN --student ../data/fast_model/roundM/zif4_fast_rM.nequip.zip \\
        --compile --seed S --runs hot --test-hot-starts --hold-ps 2.0 --hot-starts crystal_lmp ...
    python make_fast_model.py select rN      # nothing held out: everything goes to rN/train_pool.xyz
    # label rN/train_pool.xyz as in 3., pack it into ../data/fast_model/roundN/frames.npz, then
    # train on it as --extra frames from the last package (train_fast_model.py)

The exact commands of every round from 2 on (data and training, with what each round did) are
in ``data/fast_model/README.md``, section "Commands of each round".

Frame tags (``atoms.info``): ``source`` (run name), ``group`` (the structure the frame or its
trajectory started from: held-out sets take whole groups), ``kind`` (``cold``: static copies and
300 K MD; ``hot``: hot-run frames with a target of at least ``--hot-min-K``; ``warm``: the
cooler start of the heating ramp, training only), ``origin`` (``static``, ``rattle<σ>``,
``strain``, ``md``, ``watchdog``, ``watchdog_rattle<σ>``, ``stretched``) and, for MD frames,
``step`` and ``target_temperature_K``; stretched frames also ``stretched_atoms`` (the pair) and
``stretched_to`` (its length, Å). Candidates carry no energies or forces: the student's results are
never passed on as labels.

The command line and stage 2 are here; stage 1 lives in ``fast_model_candidates.py``, the extra
candidates (``snapshots``, ``stretched``) and stages 3 and 4 (labels, npz) in
``fast_model_frames.py``.
``ASEML_ZIF_SHARED_DATA`` points to the published data (default ``../shared/data/castel2024``
next to the repository).
"""
import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_demo_model as demo  # noqa: E402  (teacher path)
from fast_model_candidates import PLAN_KEYS, RUN_TYPES, candidates  # noqa: E402
from fast_model_frames import (detached_copies, label, merge, pack,  # noqa: E402
                               snapshot_copies, stretched_copies, unpack, write_atomically)

#: groups held out by default: two glasses (CN 3.875 and 3.9375) and the experimental crystal
TEST_GROUPS = ("ZIF4_15glass07", "ZIF4_15glass10", "crystal_exp")


# ------------------------------------------------------------------------------- 2. select
def frames_before_stops(frames, steps):
    """The frames of runs that ended in a watchdog stop, from ``steps`` MD steps before the stop
    on (the snapshot and its copies included): the student's path into its failure."""
    stops = {f.info["source"]: f.info["step"] for f in frames
             if f.info["origin"].startswith("watchdog")}
    return [f for f in frames
            if f.info["source"] in stops and f.info["step"] >= stops[f.info["source"]] - steps]


def select(out_dir, test_groups=None, before_stop=None):
    """Split the candidates by whole groups into train_pool.xyz, test_cold.xyz, test_hot.xyz;
    with ``before_stop`` (MD steps) only the frames of :func:`frames_before_stops`."""
    from collections import Counter

    from aseml_zif.data import read_frames

    out_dir = Path(out_dir)
    plan = json.loads((out_dir / "plan.json").read_text())
    test_groups = set(test_groups or plan["test_groups"])
    unknown = test_groups - set(plan["structures"])
    if unknown:
        raise SystemExit(f"unknown groups {sorted(unknown)}; known: {plan['structures']}")
    missing = [r["name"] for r in plan["runs"] if not (out_dir / f"{r['name']}.xyz").exists()]
    if missing:
        raise SystemExit(f"runs not finished (run the candidates stage again): {missing}")
    sets = {"train_pool": [], "test_cold": [], "test_hot": [], "dropped": []}
    for run in plan["runs"]:
        frames = read_frames(out_dir / f"{run['name']}.xyz")
        if before_stop is not None:
            frames = frames_before_stops(frames, before_stop)
        for f in frames:
            if f.info["group"] not in test_groups:
                sets["train_pool"].append(f)
            else:
                sets.get(f"test_{f.info['kind']}", sets["dropped"]).append(f)
    train_groups = {f.info["group"] for f in sets["train_pool"]}
    assert not train_groups & test_groups  # the property the held-out sets exist for
    for name in ("train_pool", "test_cold", "test_hot"):
        if sets[name]:  # a later round may hold nothing out (its test sets are round 1's)
            write_atomically(sets[name], out_dir / f"{name}.xyz")
        else:
            (out_dir / f"{name}.xyz").unlink(missing_ok=True)
    for name, frames in sets.items():
        print(f"{name}: {len(frames)} frames", flush=True)
        counts = Counter((f.info["kind"], f.info["source"]) for f in frames)
        for (kind, source), n in sorted(counts.items()):
            print(f"  {kind:5s} {source:32s} {n}")
    print(f"held-out groups: {sorted(test_groups)}; training groups: {sorted(train_groups)}")


# ------------------------------------------------------------------------------- command line
def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    p = sub.add_parser("candidates", help="unlabelled candidate frames, one extxyz per run")
    p.add_argument("out_dir")
    p.add_argument("--student", default="demo", help="model that runs the MD (default: demo)")
    p.add_argument("--compile", action="store_true", help="AOTInductor-compile the student")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--dry-run", action="store_true", help="print the plan and stop")
    p.add_argument("--steps-per-s", type=float, default=40.0, help="speed for the time estimate")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--test-groups", nargs="+", default=list(TEST_GROUPS),
                   help="structures held out with everything started from them")
    p.add_argument("--hot-starts", nargs="+", default=["crystal_lmp", "ZIF4_15glass01"])
    p.add_argument("--test-hot-starts", nargs="*", default=list(TEST_GROUPS[:2]),
                   help="held-out hot runs (none: give the option alone)")
    p.add_argument("--runs", dest="run_types", nargs="+", choices=RUN_TYPES,
                   default=list(RUN_TYPES), help="kinds of run to make (e.g. only 'hot' in a "
                   "later active-learning round)")
    p.add_argument("--volumes", type=float, nargs="+", default=[0.92, 1.0, 1.08],
                   help="volume factors of the training hot runs")
    p.add_argument("--test-volumes", type=float, nargs="+", default=[1.0])
    p.add_argument("--sigmas", type=float, nargs="+", default=[0.03, 0.06, 0.10],
                   help="rattle amplitudes (Å per component)")
    p.add_argument("--rattled", type=int, default=12, help="rattled copies per σ and structure")
    p.add_argument("--strained", type=int, default=24, help="strained copies per structure")
    p.add_argument("--strain-normal", type=float, default=0.04)
    p.add_argument("--strain-shear", type=float, default=0.02)
    p.add_argument("--strain-rattle", type=float, default=0.03, help="σ (Å) of strained copies")
    p.add_argument("--cold-ps", type=float, default=1.0, help="300 K NVT of each structure")
    p.add_argument("--heat-ps", type=float, default=0.5, help="hot runs: ramp 300 K -> --hot-K")
    p.add_argument("--hold-ps", type=float, default=3.5, help="hot runs: plateau at --hot-K")
    p.add_argument("--hot-K", type=float, default=1500.0)
    p.add_argument("--hot-min-K", type=float, default=1000.0,
                   help="hot-run frames with a cooler target are 'warm' (training only)")
    p.add_argument("--every", type=int, default=100, help="save a frame every this many steps")
    p.add_argument("--timestep-fs", type=float, default=0.5)
    p.add_argument("--snapshot-rattled", type=int, default=3)
    p.add_argument("--snapshot-sigma", type=float, default=0.05)
    p = sub.add_parser("select", help="held-out split by whole groups")
    p.add_argument("out_dir")
    p.add_argument("--test-groups", nargs="+", help="default: those of the candidates stage")
    p.add_argument("--before-stop", type=int, metavar="STEPS",
                   help="keep only stopped runs, from this many MD steps before the stop on")
    p = sub.add_parser("snapshots", help="snapshots saved elsewhere + rattled copies")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--copies", type=int, default=3)
    p.add_argument("--sigma", type=float, default=0.05, help="Å per component")
    p.add_argument("--seed", type=int, default=15)
    p = sub.add_parser("stretched", help="hot frames with one linker bond stretched")
    p.add_argument("inputs", nargs="+", help="candidate files (e.g. hot_*.xyz) or MD run folders")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--groups-exclude", nargs="*", default=list(TEST_GROUPS),
                   help="held-out groups, whose frames are not used (none: give the option alone)")
    p.add_argument("--md-stage", default="all",
                   help="stage of the run folders whose hot frames are used (default: all)")
    p = sub.add_parser("detached", help="MD frames with one H pulled off its C")
    p.add_argument("runs", nargs="+", help="run folders of aseml_zif.md.run (e.g. a melt-quench)")
    p.add_argument("out")
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--md-stage", default="plateau", help="stage whose frames are used")
    p.add_argument("--min-clearance", type=float, default=1.6,
                   help="smallest distance (Å) from the moved H to any atom but its C")
    p = sub.add_parser("label", help="teacher labels (resumable)")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--teacher", default=str(demo.TEACHER))
    p.add_argument("--compile", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--worker", type=int, default=0)
    p.add_argument("--workers", type=int, help="label only this worker's share of the frames")
    p = sub.add_parser("merge", help="join the workers' labelled files in order")
    p.add_argument("inp")
    p.add_argument("out")
    p.add_argument("--workers", type=int, required=True)
    p = sub.add_parser("pack", help="labelled extxyz files -> one compressed float32 npz")
    p.add_argument("output")
    p.add_argument("files", nargs="+")
    p.add_argument("--max-force", type=float, metavar="EV_PER_A",
                   help="leave out frames whose teacher forces exceed this (eV/Å)")
    p = sub.add_parser("unpack", help="npz -> one extxyz per packed file")
    p.add_argument("packed")
    p.add_argument("out_dir")
    args = parser.parse_args(argv)
    if args.stage == "candidates":
        params = {key: getattr(args, key) for key in PLAN_KEYS}
        candidates(args.out_dir, args.student, params, args.compile, args.threads, args.dry_run,
                   args.steps_per_s, not args.no_progress)
    elif args.stage == "select":
        select(args.out_dir, args.test_groups, args.before_stop)
    elif args.stage == "snapshots":
        snapshot_copies(args.inp, args.out, args.copies, args.sigma, args.seed)
    elif args.stage == "stretched":
        stretched_copies(args.inputs, args.out, args.n, args.seed, args.groups_exclude,
                         args.md_stage)
    elif args.stage == "detached":
        detached_copies(args.runs, args.out, args.n, args.seed, args.md_stage,
                        args.min_clearance)
    elif args.stage == "label":
        label(args.inp, args.out, args.teacher, args.compile, args.worker, args.workers,
              args.threads)
    elif args.stage == "merge":
        merge(args.inp, args.out, args.workers)
    elif args.stage == "pack":
        pack(args.output, args.files, args.max_force)
    else:
        unpack(args.packed, args.out_dir)


if __name__ == "__main__":
    from aseml_zif.errors import AsemlZifError

    try:
        main()
    except AsemlZifError as exc:  # bad input: its message, not a traceback
        raise SystemExit(f"make_fast_model.py: error: {exc}") from None
