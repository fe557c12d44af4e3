"""The ``aseml-zif`` command: the paper's workflow from the shell.

Each subcommand group lives in its own module and registers its parsers through
``register(subparsers)``; the function stored as ``func`` runs the command and writes a folder of
JSON results and PNG figures. An :class:`~aseml_zif.errors.AsemlZifError` is reported as one
line ``aseml-zif: error: ...`` with exit status 2, never as a traceback.
"""
import argparse
import sys

from ..errors import AsemlZifError

__all__ = ["main", "build_parser"]

#: modules providing subcommands, in the order ``--help`` lists them
_COMMAND_MODULES = ("demo", "models", "dataset", "md", "analysis", "mechanics", "benchmark")

EPILOG = """\
workflow of Castel et al., Digital Discovery 3, 355 (2024):
  aseml-zif dataset convert / split   CP2K reference data -> train/test/validation sets
  aseml-zif train / evaluate          NequIP/Allegro training (nequip-train) and accuracy report
  aseml-zif convert-model             legacy nequip <= 0.6 model (the paper's) -> current nequip
  aseml-zif md nvt|npt / meltquench   restartable MD with a linker watchdog
  aseml-zif analyze                   RDF/PMF, angles, Zn-N CN, rings, pores, linker integrity
  aseml-zif mechanics eos|fluctuations  bulk modulus and elastic tensor
start with:  aseml-zif demo --out demo_out
"""


def build_parser():
    """Return the ``argparse`` parser of ``aseml-zif`` with every subcommand registered."""
    from importlib import import_module

    from .. import __version__

    parser = argparse.ArgumentParser(
        prog="aseml-zif",
        description="Machine-learning potentials, MD and structural analysis of amorphous ZIFs.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"aseml-zif {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in _COMMAND_MODULES:
        import_module(f".{name}", __name__).register(subparsers)
    return parser


def main(argv=None):
    """Run ``aseml-zif`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status = args.func(args)
    except AsemlZifError as exc:
        message = str(exc).replace("\n", "; ")
        print(f"aseml-zif: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(("aseml-zif: interrupted (MD commands resume when rerun with the same --workdir, "
               "train with --resume)"),
              file=sys.stderr)
        return 130
    return 0 if status is None else status
