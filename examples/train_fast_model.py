"""Train, package and evaluate the fast ZIF-4 student (issue 13) on the teacher-labelled frames.

The frames come from ``make_fast_model.py`` (``data/fast_model/frames.npz``; teacher: the paper's
NequIP model, Castel et al., Digital Discovery 3, 355 (2024)). The validation frames (early
stopping and learning-rate plateaus) are drawn from the training pool by flat-histogram
sampling; the accuracy that counts is measured on the held-out ``test_cold`` and ``test_hot``
sets, whose structures the student never saw. Every stage resumes when run again::

    python make_fast_model.py unpack ../data/fast_model/frames.npz unpacked
    # round 1 (data/fast_model/round1), ~100 s per epoch of 925 frames on 2 idle cores;
    # stop and rerun at will. Stage a: lr 0.01, stopped after 14 epochs (epochs 0-13)
    OMP_NUM_THREADS=2 python train_fast_model.py train f1 unpacked/train_labelled.xyz --epochs 60
    cp f1/run/best.ckpt f1/stage_a.ckpt
    # stage b: 30 epochs from stage a's best weights at lr 0.002, halved after 2 flat epochs
    mkdir -p f1b && cp f1/train.xyz f1/val.xyz f1b/   # the same validation frames
    OMP_NUM_THREADS=2 python train_fast_model.py train f1b unpacked/train_labelled.xyz \\
        --epochs 30 --init f1/stage_a.ckpt --learning-rate 0.002 --lr-patience 2
    python train_fast_model.py package f1b f1b/zif4_fast_r1.nequip.zip
    python train_fast_model.py evaluate f1b/zif4_fast_r1.nequip.zip \\
        unpacked/test_cold_labelled.xyz unpacked/test_hot_labelled.xyz --out f1b/accuracy.json

Later rounds of active learning start from the last package (``--init``) and add their frames
(each round's ``frames.npz``, unpacked to ``unpacked/``) with ``--extra``: training frames
only, so that the validation frames stay round 1's draw. Round 5 instead trained a new
architecture from scratch (``--l-max``, ``--pair-cutoff``; refused with ``--init``). E.g. a
round N on the frames of rounds 1 to N, from the package of round M = N-1::

    python make_fast_model.py unpack ../data/fast_model/roundN/frames.npz unpacked
    OMP_NUM_THREADS=2 python train_fast_model.py train fN unpacked/train_labelled.xyz \\
        --extra unpacked/round2_labelled.xyz ... \\
        --init ../data/fast_model/roundM/zif4_fast_rM.nequip.zip --learning-rate 0.001 --lr-cosine \\
        --energy-weight 50 --epochs 8
    python train_fast_model.py package fN fN/zif4_fast_rN.nequip.zip   # then evaluate as above

The exact commands of every round from 2 on (with the data commands of
``make_fast_model.py``) are in ``data/fast_model/README.md``, section "Commands of each round".
"""
import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

#: the fast student: half the demo's interaction layers at twice its width (about 0.7x the
#: demo's eager cost per call at 272 atoms), the same 4 Å cut-off
FAST_STUDENT = dict(r_max=4.0, l_max=1, parity=True, num_layers=2, num_features=32,
                    radial_mlp_depth=1, radial_mlp_width=64, learning_rate=0.01, batch_size=1,
                    patience=1000, energy_weight=10.0, stress_weight=1000.0,
                    lr_plateau_patience=4, lr_plateau_factor=0.5)
N_VALIDATION = 50


def split_validation(frames_file, workdir, n_validation=N_VALIDATION, seed=3, extra=()):
    """``workdir/train.xyz`` and ``workdir/val.xyz`` (flat-histogram draw), once; then reused.

    ``extra``: labelled files of a later round, appended to the training frames only, so that
    the validation frames stay those drawn from ``frames_file`` (the same in every round: the
    draw is seeded). A ``train.xyz`` made from other frames (e.g. copied from an earlier round's
    workdir, without this round's ``extra``) is refused, not silently trained on.
    """
    from aseml_zif.data import read_frames, split_flat_histogram, write_frames
    from aseml_zif.errors import ConfigError

    workdir = Path(workdir)
    train_file, val_file = workdir / "train.xyz", workdir / "val.xyz"
    frames = read_frames(frames_file)
    val, _, rest = split_flat_histogram(frames, n_validation, 0, seed=seed)
    more = [f for path in extra for f in read_frames(path)]
    if train_file.exists():
        got = (len(read_frames(train_file)), len(read_frames(val_file)))
        if got != (len(rest) + len(more), len(val)):
            raise ConfigError(
                f"{workdir} holds {got[0]} training and {got[1]} validation frames, not the "
                f"{len(rest) + len(more)} and {len(val)} of {frames_file} and --extra: it was "
                "made from other frames. Use a new workdir; its validation frames will be the "
                "same draw")
    else:
        workdir.mkdir(parents=True, exist_ok=True)
        write_frames([frames[i] for i in val], val_file)
        write_frames([frames[i] for i in rest] + more, workdir / "train.part.xyz")
        os.replace(workdir / "train.part.xyz", train_file)  # train.xyz marks the split done
    return train_file, val_file


#: hyperparameters that set the architecture of a new student (not allowed with ``init``)
ARCHITECTURE_KEYS = ("num_layers", "num_features", "l_max", "parity", "radial_mlp_depth",
                     "radial_mlp_width", "pair_cutoffs")


def train(workdir, frames_file, epochs, seed=7, init=None, extra=(), **overrides):
    """Train (or continue training) the student in ``workdir/run``.

    ``init``: start from the weights of this checkpoint or ``.nequip.zip`` package (e.g. a lower
    learning rate after a first run, or the next active-learning round) instead of a new model.
    ``extra``: labelled files of later rounds, training frames only (see ``split_validation``).
    ``overrides``: changes to :data:`FAST_STUDENT` (``None`` keeps its value; ``r_max``, in Å,
    and the pair cut-offs of an ``init`` package are its own, read by
    :func:`aseml_zif.training.training_config`, which refuses another ``r_max``; ``r_max`` must
    be given for an ``init`` checkpoint); the
    :data:`ARCHITECTURE_KEYS` among them (e.g. ``num_features=48``, ``pair_cutoffs={"H": 3.0}``)
    make a new architecture and are refused with ``init``, whose architecture is the
    checkpoint's.
    """
    from aseml_zif.errors import ConfigError
    from aseml_zif.training import train as nequip_train, training_config

    workdir = Path(workdir)
    architecture = sorted(k for k in ARCHITECTURE_KEYS if overrides.get(k) is not None)
    if init is not None and architecture:
        raise ConfigError(f"{', '.join(architecture)} with --init: the architecture is the "
                          f"initial checkpoint's ({init}); leave them out, or start a new model")
    student = dict(FAST_STUDENT)
    if init is not None and str(init).endswith(".nequip.zip"):
        del student["r_max"]  # the package's own (training_config reads it)
    hyper = {**student, **{k: v for k, v in overrides.items() if v is not None}}
    if hyper.get("lr_cosine") and overrides.get("lr_plateau_patience") is None:
        hyper["lr_plateau_patience"] = None  # the cosine replaces the default plateau schedule
    # the settings and ``init`` are checked before any work is done
    config = training_config(workdir / "train.xyz", workdir / "val.xyz", seed=seed,
                             max_epochs=epochs, initial_checkpoint=init, **hyper)
    split_validation(frames_file, workdir, extra=extra)
    run = nequip_train(config, workdir / "run", hyperparameters=hyper, resume=True)
    print(run, flush=True)
    return run


def package(workdir, output):
    from aseml_zif.training import package as nequip_package

    return nequip_package(Path(workdir) / "run" / "best.ckpt", output)


def evaluate(model, sets, output=None, timing_calls=0, by="origin"):
    """Force, energy and stress errors of ``model`` against the labels of each extxyz set.

    Each set is also broken down by the frames' ``atoms.info[by]`` tag (``origin``: ``md`` is
    the 300 K and 1500 K MD frames, ``static``, ``rattle<σ>``, ``strain``, ``watchdog``...), so
    that, e.g., the 300 K frames of ``test_cold`` can be told from its σ = 0.1 Å copies.
    """
    import aseml_zif
    from aseml_zif.data import read_frames
    from aseml_zif.errors import StructureError
    from aseml_zif.training import evaluate as evaluate_model

    def scalars(result):  # the numbers, and the force error per species ({symbol: meV/Å})
        return {k: float(v) if np.isscalar(v) else v for k, v in result.items()
                if np.isscalar(v) or k == "force_mae_meV_per_A_by_species"}

    calculator = aseml_zif.load_potential(model, device="cpu")
    report = {}
    for path in sets:
        frames = read_frames(path)
        name = Path(path).stem
        try:
            report[name] = scalars(evaluate_model(calculator, frames, timing_calls=timing_calls,
                                                  progress=False))
        except StructureError as exc:  # e.g. unlabelled frames: say which file
            raise StructureError(f"{path}: {exc}") from None
        print(name, json.dumps(report[name]), flush=True)
        if by:
            tags = [str(f.info.get(by, "")) for f in frames]
            report[name][f"by_{by}"] = {
                tag: scalars(evaluate_model(calculator, [f for f, t in zip(frames, tags) if t == tag],
                                            progress=False))
                for tag in sorted(set(tags))}
    if output:
        Path(output).write_text(json.dumps(report, indent=1) + "\n")
    return report


def pair_cutoff(text):
    """``"H=3.0"`` -> ``("H", 3.0)`` (argparse type of ``--pair-cutoff``)."""
    key, sep, value = text.partition("=")
    try:
        return key.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: X=Å or X-Y=Å, e.g. H=3.0") from None


def window(text):
    """``"2.2-3.2"`` -> ``(2.2, 3.2)`` (argparse type of ``--pair-force-window``, Å)."""
    lo, _, hi = text.partition("-")
    try:
        return float(lo), float(hi)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: LO-HI in Å, e.g. 2.2-3.2") from None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    p = sub.add_parser("train", help="train or continue training (resumes from last.ckpt)")
    p.add_argument("workdir")
    p.add_argument("frames", help="labelled training pool (extxyz)")
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--init", help="start from the weights of this checkpoint or .nequip.zip")
    p.add_argument("--extra", nargs="+", default=[],
                   help="labelled frames of later rounds: training only, not validation")
    p.add_argument("--learning-rate", type=float)
    p.add_argument("--lr-patience", type=int, help="epochs without improvement before halving")
    p.add_argument("--lr-cosine", action="store_true",
                   help="anneal the learning rate along a half cosine to 1/100 at --epochs")
    p.add_argument("--compile", action="store_true",
                   help="train through torch.compile (nequip's compile_mode, for GPUs; "
                        "no faster on a small CPU)")
    p.add_argument("--energy-weight", type=float,
                   help=f"loss weight of the per-atom energy MSE (default {FAST_STUDENT['energy_weight']:g})")
    p.add_argument("--pair-force-weight", type=float, metavar="W",
                   help="add to the loss the MSE of the Zn-N pair force p = (F_N - F_Zn)·u/2 "
                        "(eV/Å, u from Zn to N) of the pairs in --pair-force-window, with weight "
                        "W relative to the force MSE's 1 (default: no such term; a workdir that "
                        "resumes refuses a loss other than the one it started with)")
    p.add_argument("--pair-force-window", type=window, metavar="LO-HI",
                   help="Zn-N distances of that term in Å (default 2.2-3.2: non-bonded pairs "
                        "approaching; within the Zn-N cut-off); needs --pair-force-weight")
    arch = p.add_argument_group("architecture of a new student (default: FAST_STUDENT; not "
                                "with --init)")
    arch.add_argument("--r-max", type=float, dest="r_max",
                      help=f"cut-off in Å (default {FAST_STUDENT['r_max']:g}; with an --init "
                           "package: its own, and no other)")
    arch.add_argument("--parity", action=argparse.BooleanOptionalAction, default=None,
                      help=f"features of both parities (default {FAST_STUDENT['parity']})")
    arch.add_argument("--layers", type=int, dest="num_layers",
                      help=f"interaction layers (default {FAST_STUDENT['num_layers']})")
    arch.add_argument("--features", type=int, dest="num_features",
                      help=f"features per irrep (default {FAST_STUDENT['num_features']})")
    arch.add_argument("--l-max", type=int, dest="l_max",
                      help=f"highest rotation order (default {FAST_STUDENT['l_max']})")
    arch.add_argument("--pair-cutoff", action="append", type=pair_cutoff, metavar="X[-Y]=Å",
                      dest="pair_cutoffs",
                      help="shorter cut-off for the pairs with an X atom (or the X-Y pairs), "
                           "e.g. H=3.0; repeatable")
    p = sub.add_parser("package", help="best checkpoint -> .nequip.zip")
    p.add_argument("workdir")
    p.add_argument("output")
    p = sub.add_parser("evaluate", help="errors against the teacher's labels")
    p.add_argument("model")
    p.add_argument("sets", nargs="+")
    p.add_argument("--out")
    p.add_argument("--timing-calls", type=int, default=0)
    args = parser.parse_args(argv)
    if args.stage == "train" and args.pair_force_window and args.pair_force_weight is None:
        parser.error("--pair-force-window needs --pair-force-weight")
    from aseml_zif.errors import AsemlZifError

    try:
        if args.stage == "train":
            train(args.workdir, args.frames, args.epochs, init=args.init, extra=args.extra,
                  learning_rate=args.learning_rate, lr_plateau_patience=args.lr_patience,
                  energy_weight=args.energy_weight, lr_cosine=args.lr_cosine or None,
                  compile_mode="compile" if args.compile else None, r_max=args.r_max,
                  parity=args.parity, num_layers=args.num_layers,
                  num_features=args.num_features, l_max=args.l_max,
                  pair_cutoffs=dict(args.pair_cutoffs) if args.pair_cutoffs else None,
                  pair_force_weight=args.pair_force_weight,
                  pair_force_window=args.pair_force_window)
        elif args.stage == "package":
            print(package(args.workdir, args.output))
        else:
            evaluate(args.model, args.sets, args.out, args.timing_calls)
    except AsemlZifError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
