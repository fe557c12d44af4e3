"""Reference data for training: CP2K AIMD readers, frame files, sampling and labelling.

Public names are imported lazily so that ``import aseml_zif.data`` stays cheap.
"""
import importlib

_EXPORTS = {
    "read_cp2k": "cp2k",
    "Cp2kFormatError": "cp2k",
    "split_random": "sampling",
    "split_flat_histogram": "sampling",
    "plot_split_histogram": "sampling",
    "label": "labelling",
    "LabellingError": "labelling",
    "cp2k_calculator": "cp2k_setup",
    "cp2k_settings": "cp2k_setup",
    "read_frames": "store",
    "write_frames": "store",
    "with_labels": "store",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
