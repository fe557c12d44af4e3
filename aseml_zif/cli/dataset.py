"""``aseml-zif dataset convert|split|label``: reference data for training (:mod:`aseml_zif.data`)."""
from pathlib import Path

from .common import (add_model_arguments, add_threads_argument, apply_threads, load_calculator, output_dir,
                     save_figure, write_json)

__all__ = ["register", "read_inputs"]

#: ``--method`` of ``dataset split`` -> function name in :mod:`aseml_zif.data`
SPLITS = {"flat-histogram": "split_flat_histogram", "random": "split_random"}


def read_inputs(paths):
    """Frames of extxyz/ASE-db files, or of CP2K runs given by their prefix (e.g. ``run/ZIF4-1500K``
    for ``run/ZIF4-1500K-pos-1.xyz`` and its siblings)."""
    from ..data import read_cp2k, read_frames

    frames = []
    for path in paths:
        frames.extend(read_frames(path) if Path(path).is_file() else read_cp2k(path))
    return frames


def _convert(args):
    from ..data import write_frames

    frames = read_inputs(args.inputs)
    write_frames(frames, args.out)
    print(f"wrote {len(frames)} frames to {args.out}")


def _split(args):
    import matplotlib.pyplot as plt

    from .. import data

    frames = read_inputs(args.inputs)
    split = getattr(data, SPLITS[args.method])
    indices = split(frames, args.n_train, args.n_test, seed=args.seed)
    out = output_dir(args.out)
    names = ("train", "test", "validation")
    for name, idx in zip(names, indices):
        data.write_frames([frames[i] for i in idx], out / f"{name}.extxyz")
    fig, ax = plt.subplots()
    data.plot_split_histogram(frames, indices, ax=ax)
    ax.set_title(f"{args.method} split")
    save_figure(fig, out / "energy_histogram.png")
    write_json(out / "split.json", {
        "method": args.method, "seed": args.seed, "n_frames": len(frames),
        "requested": {"train": args.n_train, "test": args.n_test},
        **{name: idx for name, idx in zip(names, indices)},
    })
    counts = ", ".join(f"{n} {len(i)}" for n, i in zip(names, indices))
    print(f"{counts}: wrote {out}/{{train,test,validation}}.extxyz, split.json, energy_histogram.png")


def _label(args):
    from ..data import label

    frames = read_inputs(args.inputs)
    apply_threads(args.threads)
    calc = load_calculator(args.model, args.device, args.dtype, args.compile)
    label(frames, calc, args.out)
    print(f"labelled {len(frames)} frames into {args.out}")


def register(subparsers):
    """Add ``dataset`` with ``convert``, ``split`` and ``label``."""
    parser = subparsers.add_parser(
        "dataset", help="read CP2K data, split it (flat-histogram/random), label frames",
        description="Reference data for training (paper, Sec. 2.2). Inputs are extxyz/.db files or "
        "CP2K run prefixes (PREFIX-pos-1.xyz, -frc-1.xyz, -1.ener, -1.cell, -1.stress).")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    convert = actions.add_parser("convert", help="CP2K runs / frame files -> one extxyz or .db",
                                 description="Merge CP2K runs (energies in eV, forces in eV/Å, "
                                 "stress in ASE's convention, restarted steps deduplicated) into one file.")
    convert.add_argument("inputs", nargs="+", help="CP2K prefixes or extxyz/.db files")
    convert.add_argument("--out", required=True, help="output .extxyz or .db file")
    convert.set_defaults(func=_convert)

    split = actions.add_parser("split", help="train/test/validation split of labelled frames",
                               description="Flat-histogram split of the paper (one frame per "
                               "energy bin, train then test; the rest is validation) or random. "
                               "Writes OUT/{train,test,validation}.extxyz, split.json and "
                               "energy_histogram.png (paper Fig. 3a).")
    split.add_argument("inputs", nargs="+", help="labelled frames: CP2K prefixes or extxyz/.db files")
    split.add_argument("--n-train", type=int, required=True, help="requested training frames (= energy bins)")
    split.add_argument("--n-test", type=int, required=True, help="requested test frames (= energy bins)")
    split.add_argument("--method", choices=SPLITS, default="flat-histogram",
                       help="sampling (default: flat-histogram)")
    split.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    split.add_argument("--out", default="split", help="output folder (default: split)")
    split.set_defaults(func=_split)

    lab = actions.add_parser("label", help="compute energy/forces/stress of frames with a potential",
                             description="Label frames with a potential (e.g. the paper's model as "
                             "teacher); resumable: frames already in OUT are skipped.")
    lab.add_argument("inputs", nargs="+", help="CP2K prefixes or extxyz/.db files")
    add_model_arguments(lab)
    add_threads_argument(lab)
    lab.add_argument("--out", required=True, help="output .extxyz or .db file (appended)")
    lab.set_defaults(func=_label)
