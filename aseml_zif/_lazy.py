"""Lazy re-export of a package's public names from its submodules.

Keeps ``import aseml_zif.<package>`` cheap: heavy dependencies (torch, nequip, matplotlib) load
only when a name that needs them is first used.
"""
import importlib
import sys

__all__ = ["lazy_exports"]


def lazy_exports(package, exports):
    """Return the ``__getattr__`` and ``__dir__`` of a package that re-exports names lazily.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict
        Public name -> submodule (relative to ``package``) that defines it.
    """
    namespace = sys.modules[package].__dict__

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        namespace[name] = value  # later look-ups skip __getattr__
        return value

    def __dir__():
        return sorted(exports)

    return __getattr__, __dir__
