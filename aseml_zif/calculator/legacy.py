"""Legacy deployed models: TorchScript files written by ``nequip-deploy`` of nequip ≤ 0.6.

Current nequip cannot load them; their metadata (``r_max``, ``type_names``, the training
configuration, ...) is stored next to the TorchScript archive as extra files.
"""
import warnings
from pathlib import Path

from ..errors import ModelError
from .formats import CURRENT_FORMATS, LEGACY_FORMAT, ModelMetadata, first_line, version_tuple

_LEGACY_KEYS = (
    "nequip_version",
    "r_max",
    "type_names",
    "n_species",
    "model_dtype",
    "default_dtype",
    "allow_tf32",
    "_jit_fusion_strategy",
    "config",
)


def read_legacy_extra_files(path, device):
    """``torch.jit.load`` a TorchScript archive with its nequip metadata; ModelError otherwise."""
    import torch

    extra = {key: "" for key in _LEGACY_KEYS}
    try:
        with warnings.catch_warnings():  # torch ≥ 2.10 deprecates TorchScript; these files need it
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            module = torch.jit.load(str(path), _extra_files=extra, map_location=device)
    except Exception as exc:  # not a TorchScript archive, corrupt, or truncated
        raise ModelError(f"{path}: not a loadable deployed model ({first_line(exc)})") from exc
    meta = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in extra.items()}
    return module, meta


def load_legacy(path, device):
    """Load a legacy TorchScript archive and its metadata; raise ModelError otherwise."""
    module, meta = read_legacy_extra_files(path, device)
    version = meta["nequip_version"]
    if not version:
        raise ModelError(
            f"{path}: TorchScript file without nequip metadata (no 'nequip_version'); "
            "only models written by nequip-deploy (nequip ≤ 0.6) or nequip ≥ 0.7 files "
            f"({', '.join('*' + k for k in CURRENT_FORMATS)}) are supported"
        )
    if version_tuple(version) >= (0, 7, 0):
        raise ModelError(
            f"{path}: nequip {version} file is not a legacy deployed model; "
            "name it *.nequip.pth (nequip-compile output) to load it with nequip's loader"
        )
    type_names = tuple(meta["type_names"].split())
    if not type_names or not meta["r_max"]:
        raise ModelError(f"{path}: metadata lacks type_names or r_max")
    dtype = meta["model_dtype"] or meta["default_dtype"] or "float32"
    architecture = "allegro" if "allegro" in meta["config"].lower() else "nequip"
    metadata = ModelMetadata(
        path=Path(path),
        format=LEGACY_FORMAT,
        architecture=architecture,
        nequip_version=version,
        r_max=float(meta["r_max"]),
        type_names=type_names,
        dtype=dtype,
        outputs=_legacy_outputs(module),
    )
    _apply_jit_settings(meta)
    return module, metadata


def _legacy_outputs(module):
    """Outputs of a legacy TorchScript model, read from its code.

    nequip ≤ 0.6 models built with ``StressForceOutput`` write a ``"stress"`` entry in the
    scripted code of that module; models built with ``ForceOutput`` write none.
    """
    for sub in module.modules():
        try:
            code = sub.code
        except (AttributeError, RuntimeError):  # a module without a scripted forward
            continue
        if '"stress"' in code:
            return ("forces", "stress")
    return ("forces",)


def _apply_jit_settings(meta):
    """Apply the TorchScript executor settings nequip-deploy recorded (as nequip's loader did).

    The fusion strategy supersedes the deprecated ``_jit_bailout_depth`` of older files.
    """
    import torch

    if meta.get("_jit_fusion_strategy"):
        strategy = []
        for item in meta["_jit_fusion_strategy"].split(";"):
            kind, depth = item.split(",")
            strategy.append((kind, int(depth)))
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.jit")
            torch.jit.set_fusion_strategy(strategy)
    if meta.get("allow_tf32") and torch.cuda.is_available():
        allow = bool(int(meta["allow_tf32"]))
        torch.backends.cuda.matmul.allow_tf32 = allow
        torch.backends.cudnn.allow_tf32 = allow


def read_legacy_config(path):
    """Training configuration stored in a legacy deployed model, as a dict.

    nequip ≤ 0.6 dumped it with PyYAML's full dumper, so it holds Python object tags (e.g.
    ``torch_version: !!python/object/new:torch.torch_version.TorchVersion``); those values
    are read as ``None`` instead of being constructed.

    Raises
    ------
    ModelError
        Not a legacy deployed model, or a configuration that is not YAML.
    """
    import yaml

    class _Lenient(yaml.SafeLoader):
        pass

    _Lenient.add_multi_constructor("tag:yaml.org,2002:python/", lambda loader, suffix, node: None)
    meta = read_legacy_extra_files(path, "cpu")[1]
    try:
        config = yaml.load(meta["config"], Loader=_Lenient)
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: its stored training configuration is not YAML ({first_line(exc)})") from exc
    if not isinstance(config, dict):
        raise ModelError(f"{path}: no training configuration stored in the model file")
    return config
