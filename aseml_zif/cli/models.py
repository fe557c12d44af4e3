"""``aseml-zif fetch-model|train|evaluate``: get, train and judge potentials
(:mod:`aseml_zif.training`; training itself is nequip's own ``nequip-train``)."""
from pathlib import Path

from ..errors import SettingsError
from .common import add_model_arguments, load_calculator, output_dir, save_figure, write_json

__all__ = ["register", "parse_assignments"]


def parse_assignments(items, lists=False):
    """``["r_max=5.0", "parity=false"]`` -> ``{"r_max": 5.0, "parity": False}`` (YAML scalars);
    with ``lists``, comma-separated values give lists (``l_max=1,2`` -> ``[1, 2]``)."""
    import yaml

    result = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SettingsError(f"expected KEY=VALUE, got {item!r}")
        values = [yaml.safe_load(v) for v in value.split(",")] if lists else yaml.safe_load(value)
        result[key.strip()] = values
    return result


def _fetch(args):
    from ..training import fetch_model

    path = fetch_model(args.name)
    print(path)


def _convert(args):
    from ..calculator import convert_legacy_model

    convert_legacy_model(args.source, args.destination, dtype=args.dtype)


def _train(args):
    from ..training import package, run_grid, train, training_config

    fixed = parse_assignments(args.set)
    grid = parse_assignments(args.grid, lists=True)
    # created by train() once the configurations are accepted: a refused one leaves no folder
    workdir = output_dir(args.workdir, create=False)
    if grid:
        runs = run_grid(args.train, args.val, workdir, grid, test_file=args.test,
                        architecture=args.architecture, resume=args.resume,
                        initial_checkpoint=args.init, seed=args.seed, device=args.device, **fixed)
    else:
        config = training_config(args.train, args.val, args.test, architecture=args.architecture,
                                 seed=args.seed, device=args.device, initial_checkpoint=args.init,
                                 **fixed)
        runs = [train(config, workdir / "run", hyperparameters=fixed, resume=args.resume)]
    results = []
    for run in runs:
        entry = {"directory": run.directory, "hyperparameters": run.hyperparameters,
                 "best_checkpoint": run.best_checkpoint, "metrics_csv": run.metrics_csv}
        if not args.no_package:
            entry["model"] = package(run.best_checkpoint, run.directory / "model.nequip.zip")
        results.append(entry)
    path = write_json(output_dir(workdir) / "results.json",
                      {"architecture": args.architecture, "runs": results})
    print(f"trained {len(runs)} model(s); wrote {path}")


def _evaluate(args):
    import matplotlib.pyplot as plt

    from ..data import read_frames
    from ..training import evaluate, plot_parity, predict

    frames = read_frames(args.frames)
    calc = load_calculator(args.model, args.device, args.dtype, args.compile)
    metrics = evaluate(calc, frames, timing_calls=args.timing_calls)
    out = output_dir(args.out)
    if args.parity:
        fig, axes = plt.subplots(1, 2, figsize=(9, 4))
        plot_parity(predict(calc, frames), ax=axes)
        save_figure(fig, out / "parity.png")
    path = write_json(out / "metrics.json", {"model": args.model, "frames": args.frames, **metrics})
    print(f"energy MAE {metrics['energy_mae_meV_per_atom']:.2f} meV/atom, force MAE "
          f"{metrics['force_mae_meV_per_A']:.1f} meV/Å; wrote {path}")


def register(subparsers):
    """Add ``fetch-model``, ``convert-model``, ``train`` and ``evaluate``."""
    fetch = subparsers.add_parser(
        "fetch-model", help="download a published model (checked by sha256)",
        description="Download a published potential to the local cache and print its path, e.g. "
        "'castel2024-nequip' (the paper's nequip_l2r6stress0.pth). Needs network access.")
    fetch.add_argument("name", nargs="?", default="castel2024-nequip",
                       help="model name (default: castel2024-nequip)")
    fetch.set_defaults(func=_fetch)

    cv = subparsers.add_parser(
        "convert-model", help="legacy nequip <= 0.6 NequIP model -> current nequip package",
        description="Convert a legacy deployed NequIP model (nequip-deploy of nequip <= 0.6, e.g. "
        "the paper's nequip_l2r6stress0.pth) into a nequip >= 0.7 package (.nequip.zip) with the "
        "same weights, checked against the legacy model before it is written. The package loads "
        "in aseml-zif, nequip-compile and nequip's ASE calculator. SOURCE may also be a name "
        "that fetch-model knows (e.g. castel2024-nequip).")
    cv.add_argument("source", help="legacy model file (or a fetch-model name)")
    cv.add_argument("destination", help="package to write (*.nequip.zip)")
    cv.add_argument("--dtype", choices=("float32", "float64"), default=None,
                    help="precision of the converted model (default: the legacy model's own)")
    cv.set_defaults(func=_convert)

    tr = subparsers.add_parser(
        "train", help="train NequIP/Allegro models with nequip-train (paper's hyperparameters)",
        description="Write a nequip >= 0.7 configuration with the paper's hyperparameters "
        "(5 layers, 32 features, r_max 6 Å, l_max 2, lr 0.005, per-atom energy + force loss), "
        "override any with --set, scan a grid with --grid, run nequip-train and package each "
        "best checkpoint as model.nequip.zip. Writes WORKDIR/results.json.")
    tr.add_argument("train", help="training frames (extxyz)")
    tr.add_argument("val", help="validation frames (extxyz)")
    tr.add_argument("--test", default=None, help="held-out frames evaluated after training")
    tr.add_argument("--architecture", choices=("nequip", "allegro"), default="nequip",
                    help="model (default: nequip)")
    tr.add_argument("--set", action="append", metavar="KEY=VALUE",
                    help="override a hyperparameter, e.g. --set r_max=5.0 --set max_epochs=5")
    tr.add_argument("--grid", action="append", metavar="KEY=V1,V2",
                    help="scan values, e.g. --grid r_max=4,5,6 --grid l_max=1,2 (paper's Table 1)")
    tr.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    tr.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="accelerator (default: cpu)")
    tr.add_argument("--workdir", default="training", help="output folder (default: training)")
    tr.add_argument("--resume", action="store_true",
                    help="continue interrupted runs in --workdir from their last.ckpt (rerun with "
                    "the same configuration); runs without one start afresh")
    tr.add_argument("--init", default=None, metavar="PATH",
                    help="start from the weights of this nequip-train checkpoint or .nequip.zip "
                    "package (fine-tuning, next active-learning round); the architecture is the "
                    "checkpoint's and r_max must match it")
    tr.add_argument("--no-package", action="store_true", help="skip nequip-package build")
    tr.set_defaults(func=_train)

    ev = subparsers.add_parser(
        "evaluate", help="energy/force/stress errors of a potential on labelled frames",
        description="Energy MAE (meV/atom), force MAE (meV/Å) and stress MAE (MPa) of a potential "
        "on held-out labelled frames (paper's Table 1). Writes OUT/metrics.json.")
    ev.add_argument("frames", type=Path, help="labelled frames (extxyz or .db)")
    add_model_arguments(ev)
    ev.add_argument("--timing-calls", type=int, default=0,
                    help="also time this many calls, paper's protocol: 300 (default: 0, no timing)")
    ev.add_argument("--parity", action="store_true",
                    help="also draw parity.png (paper's Fig. 3b,c; a second pass over the frames)")
    ev.add_argument("--out", default="evaluation", help="output folder (default: evaluation)")
    ev.set_defaults(func=_evaluate)
