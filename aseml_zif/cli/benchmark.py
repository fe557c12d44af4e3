"""``aseml-zif benchmark``: cost of potentials in µs/atom/call, paper's protocol (Table 1)."""
from .common import add_threads_argument, apply_threads, load_calculator, output_dir, write_json
from .md import load_structure

__all__ = ["model_labels", "register"]


def model_labels(specs):
    """One distinct label per ``--model`` value: the value itself, ``#2``, ``#3``... on repeats.

    Timing the same potential twice in one run is how its run-to-run spread is seen, so a
    repeated ``--model`` is timed again under its own label rather than overwriting the first.
    """
    labels = []
    for spec in specs:
        label, k = spec, 1
        while label in labels:
            k += 1
            label = f"{spec}#{k}"
        labels.append(label)
    return labels


def _benchmark(args):
    from ..training import efficiency

    atoms = load_structure(args.structure, args.supercell)
    specs = args.model or ["demo"]
    labels = model_labels(specs)
    threads = apply_threads(args.threads)
    results = {}
    for label, spec in zip(labels, specs):
        calc = load_calculator(spec, args.device, compile=args.compile)
        results[label] = efficiency(calc, atoms, n_calls=args.calls, n_warmup=args.warmup)
        print(f"{label}: {results[label]:.1f} µs/atom/call ({len(atoms)} atoms)")
    ratios = {label: value / results[labels[0]] for label, value in results.items()}
    if len(results) > 1:
        print(f"ratios to {labels[0]}: {ratios}")
    out = output_dir(args.out)
    write_json(out / "benchmark.json", {"n_atoms": len(atoms), "calls": args.calls,
                                        "warmup": args.warmup, "torch_threads": threads,
                                        "us_per_atom_call": results,
                                        "ratio_to_first": ratios})


def register(subparsers):
    """Add ``benchmark``."""
    parser = subparsers.add_parser(
        "benchmark", help="µs/atom/call of one or more potentials, side by side",
        description="Time energy+forces+stress calls in the paper's protocol (6 warm-up calls, "
        "300 timed) on the ZIF-4 crystal or a file; with several --model, print their ratios "
        "measured in the same run (a repeated --model is timed again as MODEL#2, ...). Writes "
        "OUT/benchmark.json.")
    parser.add_argument("--model", action="append", default=None,
                        help="potential (repeatable; default: demo), as in 'aseml-zif demo --model'")
    parser.add_argument("--device", default="auto", help="'auto', 'cpu' or 'cuda:N' (default: auto)")
    parser.add_argument("--compile", action="store_true",
                        help="time the AOTInductor builds of the models (compiled once, cached)")
    add_threads_argument(parser)
    parser.add_argument("--structure", default="crystal", help="'crystal' or a structure file")
    parser.add_argument("--supercell", type=int, nargs=3, default=(1, 1, 1), metavar=("NA", "NB", "NC"),
                        help="repeat the structure (default: 1 1 1 = 272 atoms)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls (default: 300)")
    parser.add_argument("--warmup", type=int, default=6, help="discarded calls (default: 6)")
    parser.add_argument("--out", default="benchmark", help="output folder (default: benchmark)")
    parser.set_defaults(func=_benchmark)
