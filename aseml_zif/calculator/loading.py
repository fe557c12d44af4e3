"""``load_potential``: any supported model file (or a known name) as an ASE calculator."""
from pathlib import Path

from ..errors import ModelError
from .current import load_current
from .deployed import DeployedModelCalculator
from .formats import LEGACY_FORMAT, SHIPPED_MODELS, file_format
from .legacy import load_legacy


def load_model(path, device):
    """Load any supported model file; return (module, ModelMetadata)."""
    fmt = file_format(path)
    if fmt == LEGACY_FORMAT:
        return load_legacy(path, device)
    return load_current(path, fmt, device)


def resolve_path(path):
    """Model file of ``path``: a shipped model (``"demo"``, ``"fast"``), a name
    :func:`aseml_zif.training.fetch_model` knows (fetched once, SHA-256 checked), or an
    existing file."""
    if str(path) in SHIPPED_MODELS:
        from .._resources import resource_path

        return resource_path(SHIPPED_MODELS[str(path)])
    from ..training.fetch import MODELS, fetch_model

    if str(path) in MODELS and not Path(path).is_file():
        return fetch_model(str(path))
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    return path


def read_model_metadata(path):
    """Return the :class:`ModelMetadata` of a model file (any supported format).

    Parameters
    ----------
    path : str or path-like
        Model file, ``"demo"`` or ``"fast"`` for the shipped models, or a name known to
        :func:`aseml_zif.training.fetch_model`.

    Raises
    ------
    ModelError
        Missing, unreadable or unsupported file.
    """
    return load_model(resolve_path(path), "cpu")[1]


def resolve_device(device="auto"):
    """Return the torch device name to use: ``"auto"`` picks CUDA when present, else CPU."""
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(f"device {device!r} requested but CUDA is not available")
    if not (device == "cpu" or device.startswith("cuda")):
        raise ModelError(f"unknown device {device!r}: use 'auto', 'cpu' or 'cuda[:N]'")
    return device


def load_potential(path, device="auto", dtype=None, compile=False):
    """Load a deployed NequIP/Allegro model as an ASE calculator.

    Parameters
    ----------
    path : str or path-like
        Model file: legacy ``nequip-deploy`` TorchScript (nequip ≤ 0.6, e.g. ``*.pth``), or a
        nequip ≥ 0.7 ``*.nequip.pt2`` / ``*.nequip.pth`` / ``*.nequip.zip`` / ``*.ckpt``;
        ``"demo"`` for the small demo model shipped with aseml_zif, ``"fast"`` for the shipped
        student of the paper's model for hot runs (it held 14 ps at 1500 K without a lasting
        linker break); or a name known to
        :func:`aseml_zif.training.fetch_model` (e.g. ``"castel2024-nequip"``).
    device : str
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"`` or ``"cuda[:N]"``.
    dtype : {None, "float32", "float64"} or torch.dtype
        Precision to run the model in; ``None`` keeps the model's own. ``"float64"`` casts a
        float32 legacy model (slower; exact enough for finite-difference checks). nequip ≥ 0.7
        files run in the precision they were trained/compiled in (another one is refused),
        except legacy models converted with ``compile=True``, which are converted in ``dtype``.
    compile : bool
        Compile the model with AOTInductor for ``device`` (see
        :func:`aseml_zif.calculator.compiled.compiled_model_path`): a legacy model is first
        converted to current nequip (:func:`aseml_zif.convert_legacy_model`). The result is
        cached (``$ASEML_ZIF_CACHE``, default ``~/.cache/aseml_zif``), keyed by the source's
        SHA-256, dtype, device and the torch/nequip versions: the first call takes minutes,
        later ones seconds. Without a working compiler it warns once and runs the converted
        model eagerly. Ignored for files that are already compiled (``*.nequip.pt2``,
        ``*.nequip.pth``).

    Returns
    -------
    DeployedModelCalculator
        ASE calculator providing ``energy``, ``free_energy``, ``energies``, ``forces`` and,
        when the model computes it, ``stress``.

    Raises
    ------
    ModelError
        Missing, unreadable or unsupported file; unknown device or dtype; a legacy model the
        converter cannot convert exactly (with ``compile=True``).
    """
    path = resolve_path(path)
    device = resolve_device(device)
    if compile and file_format(path) not in ("nequip-aotinductor", "nequip-torchscript"):
        from .compiled import load_compiled

        module, metadata = load_compiled(path, device, dtype)
        return DeployedModelCalculator(module, metadata, device=device, dtype=metadata.dtype)
    module, metadata = load_model(path, device)
    return DeployedModelCalculator(module, metadata, device=device, dtype=dtype)
