"""Model file formats and the metadata every format is reduced to."""
from dataclasses import dataclass
from pathlib import Path

#: file of the shipped demo model, relative to the project's ``data/`` folder
DEMO_MODEL = "demo_model/zif4_demo.nequip.zip"
#: file of the shipped fast student of the paper's model (round 10 of ``data/fast_model``): the
#: one to run hot, see ``data/demo_model/CARD.md``
FAST_MODEL = "fast_model/round10/zif4_fast_r10.nequip.zip"
#: the names ``load_potential`` and ``--model`` accept for the shipped models, and their files
SHIPPED_MODELS = {"demo": DEMO_MODEL, "fast": FAST_MODEL}

#: format names of :attr:`ModelMetadata.format`, keyed by the file-name ending that selects them
CURRENT_FORMATS = {
    ".nequip.pt2": "nequip-aotinductor",
    ".nequip.pth": "nequip-torchscript",
    ".nequip.zip": "nequip-package",
    ".ckpt": "nequip-checkpoint",
}
LEGACY_FORMAT = "legacy-torchscript"

@dataclass(frozen=True)
class ModelMetadata:
    """What a deployed model file says about itself.

    Attributes
    ----------
    path : pathlib.Path
        The model file.
    format : str
        ``"legacy-torchscript"`` (nequip ≤ 0.6 ``nequip-deploy`` output) or one of the values
        of :data:`CURRENT_FORMATS` (nequip ≥ 0.7).
    architecture : str
        ``"nequip"``, ``"allegro"``, or ``"unknown"`` (AOTInductor files do not record it).
    nequip_version : str
        Version of nequip that wrote the file (``"unknown"`` when the file does not record it).
    r_max : float
        Cut-off radius in Å.
    type_names : tuple of str
        Chemical symbol of each model atom type, in type-index order.
    dtype : str
        ``"float32"`` or ``"float64"``: the precision the model computes in.
    per_edge_type_cutoff : tuple of tuple of float or None
        Cut-off in Å for each (centre type, neighbour type) pair when the model uses
        per-edge-type cut-offs (nequip ≥ 0.7), else ``None``.
    outputs : tuple of str
        Per-structure outputs the model provides among ``"forces"`` and ``"stress"`` (every
        model provides the energy).
    converted_from : dict or None
        For a package written by :func:`aseml_zif.convert_legacy_model`: ``source`` (file
        name), ``sha256`` and ``nequip_version`` of the legacy model it came from.
    compiled_from : dict or None
        For an AOTInductor build made by ``load_potential(..., compile=True)``: ``source``
        (file name) and ``sha256`` of the file it was compiled from (legacy model, package or
        checkpoint). Builds of one file for other thread counts or machines share it.
    """

    path: Path
    format: str
    architecture: str
    nequip_version: str
    r_max: float
    type_names: tuple
    dtype: str
    per_edge_type_cutoff: tuple = None
    outputs: tuple = ("forces", "stress")
    converted_from: dict = None
    compiled_from: dict = None


def version_tuple(text):
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def first_line(exc):
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def file_format(path):
    """Format name selected by the file name: a value of CURRENT_FORMATS, else legacy.

    A legacy nequip ≤ 0.6 archive renamed ``*.nequip.pth`` is still recognised as legacy
    from its ``nequip_version``.
    """
    from .legacy import read_legacy_extra_files

    name = Path(path).name
    for ending, fmt in CURRENT_FORMATS.items():
        if name.endswith(ending):
            if fmt == "nequip-torchscript":
                version = read_legacy_extra_files(path, "cpu")[1]["nequip_version"]
                if version and version_tuple(version) < (0, 7, 0):
                    return LEGACY_FORMAT
            return fmt
    return LEGACY_FORMAT
