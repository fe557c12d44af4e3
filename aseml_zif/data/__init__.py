"""Reference data for training: CP2K AIMD readers, frame files, sampling and labelling.

Public names are imported lazily so that ``import aseml_zif.data`` stays cheap.
"""
from .._lazy import lazy_exports

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

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
