"""Helpers shared by the subcommands: output folders, JSON, figures, potentials, threads,
structures."""
import argparse
import importlib
import json
import os
from pathlib import Path

import numpy as np

from ..errors import AsemlZifError, ModelError

__all__ = [
    "add_model_arguments",
    "add_threads_argument",
    "apply_threads",
    "load_calculator",
    "output_dir",
    "read_atoms",
    "save_figure",
    "to_jsonable",
    "write_json",
]


def output_dir(path, create=True):
    """Create (if needed) and return the output folder ``path`` as a :class:`~pathlib.Path`.

    Parameters
    ----------
    path : path-like
        The folder.
    create : bool
        ``False``: only check it, for a command that creates it once its inputs are accepted.

    Raises
    ------
    AsemlZifError
        ``path`` exists and is not a folder.
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise AsemlZifError(f"{path}: exists and is not a folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def to_jsonable(value):
    """Convert numpy scalars/arrays, paths, tuples and objects with ``to_dict()`` for JSON."""
    if hasattr(value, "to_dict"):
        return to_jsonable(value.to_dict())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


def write_json(path, data):
    """Write ``data`` (see :func:`to_jsonable`) as indented JSON; return the path."""
    path = Path(path)
    path.write_text(json.dumps(to_jsonable(data), indent=2) + "\n")
    return path


def save_figure(fig, path):
    """Save a matplotlib figure as PNG (150 dpi), close it, and return the path."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return Path(path)


def read_atoms(path, species=None):
    """Read one structure with :func:`aseml_zif.io.read_structure` (CIF, LAMMPS data, extxyz)."""
    from ..io import read_structure

    return read_structure(path, species=species)


def add_model_arguments(parser, default="demo"):
    """Add ``--model``, ``--device``, ``--dtype`` and ``--compile`` to a subcommand's parser."""
    parser.add_argument(
        "--model",
        default=default,
        help="potential: 'demo' (the small model shipped with aseml_zif), 'fast' (the shipped "
        "student of the paper's model, for hot runs and glasses), a deployed model file "
        "(e.g. the paper's nequip_l2r6stress0.pth), or 'package.module:factory', a Python "
        f"callable returning an ASE calculator (default: {default})",
    )
    parser.add_argument(
        "--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda:N' (default: auto)"
    )
    parser.add_argument(
        "--dtype",
        choices=("float32", "float64"),
        default=None,
        help="precision of the model (default: the model's own)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="compile the model with AOTInductor (legacy models are converted first); the "
        "first time takes minutes, the build is cached for later runs",
    )


def _thread_count(text):
    """``--threads`` value: a whole number from 0 (torch's default) to the number of CPUs."""
    try:
        threads = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    cpus = os.cpu_count()
    if threads < 0 or (cpus and threads > cpus):
        # an AOTInductor build that follows the runtime thread count sizes its per-thread
        # buffers by the CPU count it was compiled with: more threads would overrun them
        raise argparse.ArgumentTypeError(
            f"expected 0 (torch's default) to {cpus or 'the number of CPUs'}, got {threads}")
    return threads


def add_threads_argument(parser):
    """Add ``--threads N`` (torch intra-op threads, see :func:`apply_threads`) to a parser.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        Parser of a subcommand that runs MD or many model calls; its command calls
        :func:`apply_threads` with ``args.threads`` before it loads the model.
    """
    parser.add_argument(
        "--threads", type=_thread_count, default=None, metavar="N",
        help="torch intra-op threads (default: torch's, all cores); small compiled models can "
        "run faster with 1",
    )


def apply_threads(threads):
    """Set torch's intra-op thread count for this process, before a model is loaded.

    Parameters
    ----------
    threads : int or None
        ``N > 0``: ``torch.set_num_threads(N)``; it also holds for AOTInductor-compiled models,
        whose kernels run on torch's OpenMP runtime, and ``--compile`` builds for this count
        (:mod:`aseml_zif.calculator.compiled`). ``None`` or ``0``: leave torch's default.

    Returns
    -------
    int
        ``torch.get_num_threads()`` afterwards.
    """
    import torch

    if threads:
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def _calculator_from_factory(spec):
    module_name, _, attribute = spec.partition(":")
    try:
        factory = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ModelError(f"--model {spec}: cannot import {attribute!r} from {module_name!r} ({exc})")
    calculator = factory()
    if not hasattr(calculator, "get_potential_energy"):
        raise ModelError(f"--model {spec}: the factory returned {type(calculator).__name__}, "
                         "not an ASE calculator")
    return calculator


def load_calculator(spec, device="auto", dtype=None, compile=False):
    """Turn a ``--model`` value into an ASE calculator.

    Parameters
    ----------
    spec : str
        ``"demo"``, ``"fast"``, a model file for :func:`aseml_zif.load_potential`, or
        ``"module:callable"`` (a factory called without arguments).
    device, dtype, compile
        Passed to :func:`aseml_zif.load_potential`.

    Raises
    ------
    ModelError
        The model cannot be found, loaded or built; for a shipped model the message says how
        to use another model instead.
    """
    from .. import load_potential
    from ..calculator import SHIPPED_MODELS
    from .._resources import resource_path

    spec = str(spec)
    if ":" in spec and not Path(spec).exists():
        return _calculator_from_factory(spec)
    if spec in SHIPPED_MODELS:
        try:
            resource_path(SHIPPED_MODELS[spec])
        except AsemlZifError as exc:
            raise ModelError(
                f"the embedded {spec} model is not available in this installation ({exc}); "
                "run with --model PATH (e.g. the paper's nequip_l2r6stress0.pth, see "
                "'aseml-zif fetch-model --help')"
            ) from exc
    return load_potential(spec, device=device, dtype=dtype, compile=compile)
