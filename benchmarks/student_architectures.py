"""Cost per call of candidate student architectures on the 272-atom ZIF-4 cell, side by side.

Which student fits a budget of 10 ms per MD step on this CPU? Each architecture is built with
untrained weights (a call costs the same whatever the weights) and timed as
:func:`aseml_zif.training.efficiency` times a model: energy, forces and stress per call, after
warm-up calls, on the embedded crystal (:func:`aseml_zif.structures.zif4_crystal`). All models
are timed in interleaved rounds (each round times every model in turn), so a change of machine
load during the run hits them alike; the ratios to the current student (``FAST_STUDENT`` of
``examples/train_fast_model.py``, always timed) are measured in the same run. The average
number of neighbours per atom within each ``r_max`` (the model's full neighbour list) explains
most of the cost. "fits" adds the MD loop's own cost, :data:`MD_OVERHEAD_MS`, to the compiled
time (the eager time without ``--compile``). Usage::

    OMP_NUM_THREADS=1 python benchmarks/student_architectures.py [--compile] [--calls 300] \\
        [--arch layers=2,features=32,l_max=1,r_max=4.0 --arch arch=allegro,layers=2,...]

A NequIP spec changes the current student's settings (what it leaves out is the student's:
parity, radial MLP 1 × 64, 8 Bessel functions, p = 5), an Allegro spec the paper's Allegro
(:data:`aseml_zif.training.PAPER_ALLEGRO`). The default grid (:data:`DEFAULT_ARCHS`, plus
:data:`ALLEGRO_ARCH` when allegro is installed) holds the current student and the shipped demo;
their untrained models have exactly the parameters of the shipped packages (50 336 and 31 056).
``--quick`` (an 8-atom cell, 2 calls) is the smoke run of the tests.

How a model is built, and why: the spec's hyperparameters go through
:func:`aseml_zif.training.training_config`, the configuration the project trains with; its
model block is built the way ``nequip-train`` builds it (``nequip.train.NequIPLightningModule``
calls the block's ``_target_`` builder with the block's arguments), with constants where
training puts data statistics (per-type energy scales 1, energy shift 0, the normalising
neighbour count of the crystal). The model is then written as a ``.nequip.zip`` package by the
steps of ``nequip-package build`` (:mod:`aseml_zif.calculator.convert`'s writer, eager model
only) and timed as ``load_potential(package)``: the same nequip loader (``ModelFromPackage``)
and the same :class:`~aseml_zif.calculator.DeployedModelCalculator` as a trained student's
package. A checkpoint is not needed: nequip's ``ModelFromCheckpoint`` rebuilds the Lightning
module from the whole training configuration and reads example data from its training set, so
it would need a fake training run and a labelled data file to build the same module. With
``--compile`` the package is also compiled by :func:`aseml_zif.training.compile_model`
(``nequip-compile --mode aotinductor --target ase``, the command ``load_potential(...,
compile=True)`` runs, here with a fresh compiler cache per model, so the build time is a
first build's) and timed as ``load_potential(model.nequip.pt2)``.
"""
import argparse
import importlib.util
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from hydra.utils import get_method

from aseml_zif import load_potential
from aseml_zif.calculator.convert import _example_data, _write_package, check_structure
from aseml_zif.calculator.current import nequip_global_state
from aseml_zif.errors import ConfigError
from aseml_zif.neighbors import neighbor_list
from aseml_zif.structures import zif4_crystal
from aseml_zif.training import compile_model, efficiency, training_config
from aseml_zif.training.config import TYPE_NAMES

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: the MD loop's own cost per step, ms (``benchmarks/md_overhead.py``, fast models)
MD_OVERHEAD_MS = 0.9
#: budget of one MD step, ms
BUDGET_MS = 10.0
#: interleaved timing rounds (fewer when there are fewer calls)
ROUNDS = 5
#: warm-up calls before a model's first round (the paper's protocol), and before its later ones
WARMUP_CALLS, REWARM_CALLS = 6, 1

#: short spec keys -> hyperparameters of :func:`aseml_zif.training.training_config`
ALIASES = {"layers": "num_layers", "features": "num_features", "scalars": "num_scalar_features",
           "tensors": "num_tensor_features"}
#: spec keys given as ``DEPTHxWIDTH``
MLP_KEYS = {"radial": ("radial_mlp_depth", "radial_mlp_width"), "mlp": ("mlp_depth", "mlp_width")}
#: NequIP specs start from the current student; Allegro specs from the paper's Allegro
DEFAULT_ARCHS = [
    "layers=2,features=32,l_max=1,r_max=4.0",
    "layers=3,features=16,l_max=1,r_max=4.0,radial=1x32",  # the shipped demo
    "layers=2,features=16,l_max=1,r_max=4.0",
    "layers=3,features=32,l_max=1,r_max=4.0",
    "layers=2,features=48,l_max=1,r_max=4.0",
    "layers=2,features=32,l_max=1,r_max=3.5",
    "layers=2,features=32,l_max=1,r_max=4.5",
]
ALLEGRO_ARCH = "arch=allegro,layers=2,scalars=32,tensors=16,l_max=1,r_max=4.0,mlp=1x32"


def student_hyperparameters():
    """``FAST_STUDENT`` of ``examples/train_fast_model.py``: the current student's settings."""
    path = EXAMPLES / "train_fast_model.py"
    spec = importlib.util.spec_from_file_location("train_fast_model", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return dict(module.FAST_STUDENT)


def parse_arch(text):
    """Architecture and hyperparameters of a spec such as ``layers=2,features=32,r_max=4.0``.

    Keys: ``arch`` (``nequip``, the default, or ``allegro``), the short names of
    :data:`ALIASES`, ``radial``/``mlp`` as ``DEPTHxWIDTH``, ``cut_X``/``cut_X-Y`` for a shorter
    cut-off of the pairs with element X or of the pairs X–Y (Å, the ``pair_cutoffs`` of
    :func:`aseml_zif.training.training_config`), or any hyperparameter name of
    :func:`aseml_zif.training.training_config` (``l_max``, ``r_max`` in Å, ``parity``, ...).

    Returns
    -------
    tuple of (str, dict)

    Raises
    ------
    ConfigError
        An item that is not ``key=value``, or a ``DEPTHxWIDTH`` that is not one.
    """
    architecture, values = "nequip", {}
    for item in text.split(","):
        key, equals, value = (part.strip() for part in item.partition("="))
        if not equals or not value:
            raise ConfigError(f"--arch {text!r}: {item!r} is not key=value")
        if key == "arch":
            architecture = value
        elif key.startswith("cut_"):  # a pair cut-off, e.g. cut_H=3.0 or cut_C-H=3.5 (Å)
            values.setdefault("pair_cutoffs", {})[key[4:]] = yaml.safe_load(value)
        elif key in MLP_KEYS:
            depth, _, width = value.lower().partition("x")
            if not (depth.isdigit() and width.isdigit()):
                raise ConfigError(f"--arch {text!r}: {key} must be DEPTHxWIDTH, e.g. 1x32")
            values.update(zip(MLP_KEYS[key], (int(depth), int(width))))
        else:
            values[ALIASES.get(key, key)] = yaml.safe_load(value)
    return architecture, values


@dataclass(frozen=True)
class Candidate:
    """One architecture to time.

    Attributes
    ----------
    label : str
        Row name of the table.
    block : dict
        Model block of its :func:`aseml_zif.training.training_config` (data statistics left as
        the configuration's interpolations).
    r_max : float
        Cut-off radius in Å.
    type_names : tuple of str
        Model atom types.
    """

    label: str
    block: dict
    r_max: float
    type_names: tuple


#: hyperparameters that :func:`describe` names
DESCRIBED = {"r_max", "l_max", "parity", "num_layers", "num_features", "radial_mlp_depth",
             "radial_mlp_width", "num_scalar_features", "num_tensor_features", "mlp_depth",
             "mlp_width"}


def candidate(architecture, values, student):
    """The :class:`Candidate` of a parsed spec (NequIP: ``student``'s settings, then ``values``)."""
    hyper = {**student, **values} if architecture == "nequip" else values
    config = training_config(os.devnull, os.devnull, architecture=architecture, **hyper)
    block, r_max = config["training_module"]["model"], config["cutoff_radius"]
    extras = "".join(f" {key}={values[key]}" for key in sorted(set(values) - DESCRIBED))
    return Candidate(describe(architecture, block, r_max) + extras, block, r_max,
                     tuple(config["model_type_names"]))


def describe(architecture, block, r_max):
    """Short label, e.g. ``NequIP 2×32 l1 r4.0 radial 1×64`` (layers × features)."""
    if architecture == "nequip":
        label = (f"NequIP {block['num_layers']}×{block['num_features']} l{block['l_max']} "
                 f"r{r_max} radial {block['radial_mlp_depth']}×{block['radial_mlp_width']}")
    else:
        depth, width = (block[f"allegro_mlp_hidden_layers_{k}"] for k in ("depth", "width"))
        label = (f"Allegro {block['num_layers']}×{block['num_scalar_features']}s/"
                 f"{block['num_tensor_features']}t l{block['l_max']} r{r_max} MLP {depth}×{width}")
    return label if block["parity"] else f"{label} no parity"


def quick_cell():
    """The cell of ``--quick``: two atoms of each type in a periodic box of ~6 Å."""
    return check_structure(TYPE_NAMES, 4.0)


def neighbours_per_atom(atoms, r_max, pair_cutoffs=None):
    """Mean number of neighbours of an atom within ``r_max`` Å (periodic images included), or
    within the cut-off of each pair (``per_edge_type_cutoff`` of a model block: centre type ->
    neighbour type -> Å; atoms typed by their chemical symbols)."""
    i, j, d = neighbor_list(atoms, r_max, "ijd")
    if pair_cutoffs is None:
        return i.size / len(atoms)
    symbols = np.array(atoms.get_chemical_symbols())
    limit = np.array([pair_cutoffs[a][b] for a, b in zip(symbols[i], symbols[j])])
    return float(np.count_nonzero(d < limit)) / len(atoms)


def write_untrained_package(cand, atoms, path):
    """Build ``cand``'s model with untrained weights and write it as a ``.nequip.zip``.

    The data statistics of a training run are constants: per-type energy scales 1, energy shift
    0 eV, normalising neighbour count that of ``atoms``.
    """
    kwargs = {**cand.block, "type_names": list(cand.type_names), "r_max": cand.r_max,
              "avg_num_neighbors": neighbours_per_atom(atoms, cand.r_max,
                                                       cand.block.get("per_edge_type_cutoff")),
              "per_type_energy_scales": dict.fromkeys(cand.type_names, 1.0),
              "per_type_energy_shifts": 0.0}
    config_text = yaml.safe_dump({"untrained_model": kwargs}, sort_keys=False)
    builder = get_method(kwargs.pop("_target_"))
    model = builder(**kwargs).eval()
    example = _example_data(atoms, list(cand.type_names), cand.r_max)  # for nequip-compile
    _write_package(model, example, path, config_text)
    return path


def compiled(package, label):
    """AOTInductor build of ``package`` next to it, and the build's wall time in s."""
    print(f"compiling {label} with AOTInductor ...", flush=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as inductor_cache:
        output = compile_model(package, package.with_name("model.nequip.pt2"), device="cpu",
                               cache_dir=inductor_cache)
    seconds = time.perf_counter() - start
    print(f"  built in {seconds:.0f} s", flush=True)
    return output, seconds


def ms_per_call(calculators, atoms, calls, warmup):
    """Mean wall time per call (ms) of each calculator, timed in interleaved rounds.

    Parameters
    ----------
    calculators : dict of ase.calculators.calculator.Calculator
        By any name.
    atoms : ase.Atoms
    calls : int
        Timed calls per calculator, split over up to :data:`ROUNDS` rounds.
    warmup : int
        Untimed calls before a calculator's first round (:data:`REWARM_CALLS` before the others).

    Returns
    -------
    dict of float
        By the names of ``calculators``.
    """
    rounds = min(ROUNDS, calls)
    sizes = [calls // rounds + (k < calls % rounds) for k in range(rounds)]
    total_ms = dict.fromkeys(calculators, 0.0)
    for k, size in enumerate(sizes):
        for name, calc in calculators.items():
            us_per_atom = efficiency(calc, atoms, size, warmup if k == 0 else REWARM_CALLS,
                                     progress=False)
            total_ms[name] += us_per_atom * len(atoms) * size / 1000
    return {name: ms / calls for name, ms in total_ms.items()}


def fits(ms):
    """``"yes (7.1 ms)"`` when a step costing ``ms`` plus the MD overhead is within budget."""
    step = ms + MD_OVERHEAD_MS
    return f"{'yes' if step <= BUDGET_MS else 'no'} ({step:.1f} ms)"


def markdown_table(header, rows):
    """Markdown table of ``rows`` (lists of cells) under ``header``."""
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(str(cell) for cell in line) + " |" for line in lines)


def table(rows, student_label, with_compiled):
    """The results table: one line per architecture, ratios to the student's times."""
    reference = next(row for row in rows if row["label"] == student_label)
    header = ["architecture", "parameters", "neighbours/atom", "eager (ms/call)", "× student"]
    if with_compiled:
        header += ["compiled (ms/call)", "× student (compiled)", "build (s)"]
    header.append(f"fits {BUDGET_MS:g} ms/step? ({'compiled' if with_compiled else 'eager'} "
                  f"+ {MD_OVERHEAD_MS} ms)")
    lines = []
    for row in rows:
        name = row["label"] + (" (current student)" if row is reference else "")
        line = [name, row["parameters"], f"{row['neighbours']:.2f}", f"{row['eager']:.2f}",
                f"{row['eager'] / reference['eager']:.2f}"]
        if with_compiled:
            line += [f"{row['compiled']:.2f}", f"{row['compiled'] / reference['compiled']:.2f}",
                     f"{row['build_s']:.0f}"]
        line.append(fits(row["compiled"] if with_compiled else row["eager"]))
        lines.append(line)
    return markdown_table(header, lines)


def candidates(specs, include_allegro):
    """Candidates of the ``--arch`` specs (default grid when empty), the current student first
    if no spec is it; and the student's label."""
    settings = student_hyperparameters()
    reference = candidate("nequip", {}, settings)
    if not specs:
        specs = DEFAULT_ARCHS + ([ALLEGRO_ARCH] if include_allegro else [])
    chosen = {}  # by label: a spec given twice is timed once
    for spec in specs:
        cand = candidate(*parse_arch(spec), settings)
        chosen.setdefault(cand.label, cand)
    student = next((c for c in chosen.values() if c.block == reference.block), None)
    if student is None:
        return [reference, *chosen.values()], reference.label
    return list(chosen.values()), student.label


def measure(chosen, atoms, calls, warmup, compile_too):
    """Parameters, neighbours per atom and ms per call (eager, and compiled if ``compile_too``)
    of each candidate, one dict each."""
    nequip_global_state()
    rows, calculators = [], {}
    with tempfile.TemporaryDirectory() as workdir:
        for k, cand in enumerate(chosen):
            folder = Path(workdir) / f"model{k}"
            folder.mkdir()
            package = write_untrained_package(cand, atoms, folder / "model.nequip.zip")
            calc = calculators["eager", k] = load_potential(package, device="cpu")
            rows.append({"label": cand.label,
                         "neighbours": neighbours_per_atom(atoms, cand.r_max,
                                                           cand.block.get("per_edge_type_cutoff")),
                         "parameters": sum(p.numel() for p in calc.model.parameters())})
            if compile_too:
                pt2, rows[k]["build_s"] = compiled(package, cand.label)
                calculators["compiled", k] = load_potential(pt2, device="cpu")
        times = ms_per_call(calculators, atoms, calls, warmup)
    for (kind, k), ms in times.items():
        rows[k][kind] = ms
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", default=[],
                        help="architecture spec, e.g. layers=2,features=32,l_max=1,r_max=4.0 "
                             "or arch=allegro,layers=2,scalars=32,tensors=16,l_max=1,r_max=4.0,"
                             "mlp=1x32 (repeatable; default: a grid around the current student)")
    parser.add_argument("--calls", type=int, default=300, help="timed calls per model")
    parser.add_argument("--compile", action="store_true",
                        help="also build and time each model's AOTInductor build (~1.5 min each)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: an 8-atom cell, 2 calls, 1 warm-up call")
    args = parser.parse_args(argv)
    if args.calls < 1:
        parser.error("--calls must be at least 1")
    import torch

    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # for nequip-compile's child process
    torch.set_num_threads(args.threads)
    include_allegro = importlib.util.find_spec("allegro") is not None
    try:
        chosen, student_label = candidates(args.arch, include_allegro)
    except ConfigError as exc:  # an unknown architecture or hyperparameter
        parser.error(str(exc))
    if args.quick:
        atoms, calls, warmup = quick_cell(), 2, 1
    else:
        atoms, calls, warmup = zif4_crystal(), args.calls, WARMUP_CALLS
    if args.compile:
        print(f"--compile: {len(chosen)} AOTInductor builds of ~1.5 min each", flush=True)
    rows = measure(chosen, atoms, calls, warmup, args.compile)
    print(f"{len(atoms)} atoms, {calls} timed calls per model (energy, forces, stress) in "
          f"{min(ROUNDS, calls)} interleaved rounds after {warmup} warm-up calls; torch threads "
          f"{torch.get_num_threads()}; untrained weights")
    print(table(rows, student_label, args.compile))


if __name__ == "__main__":
    main()
