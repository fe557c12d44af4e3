"""nequip ≥ 0.7 / allegro ≥ 0.7 files, loaded through nequip's own loaders."""
import contextlib
import random
import zipfile
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .formats import ModelMetadata, first_line

@contextlib.contextmanager
def preserved_random_state():
    """Keep the caller's Python, NumPy and torch random streams across nequip's global set-up.

    ``nequip.utils.global_state.set_global_state`` seeds every generator with 123 the first
    time it runs; a user's MD velocities must not depend on whether a model was loaded.
    """
    import torch

    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.random.set_rng_state(states[2])


def nequip_global_state(allow_tf32=False):
    """Run nequip's one-time global set-up (needed before it builds or loads any model).

    It sets torch's default dtype to float64 (nequip ≥ 0.7 keeps positions in float64 and
    casts internally to the model dtype) and the TorchScript fusion strategy.
    """
    try:
        from nequip.utils.global_state import set_global_state
    except ImportError as exc:
        raise ModelError(f"nequip ≥ 0.7 is needed for this model file ({first_line(exc)})") from exc
    with preserved_random_state():
        set_global_state(allow_tf32=allow_tf32)


def _architecture_of(module):
    """``"allegro"`` if any submodule comes from the allegro package, else ``"nequip"``.

    Classes of a packaged model live under a ``<torch_package_N>.`` prefix, which is skipped.
    """
    for sub in module.modules():
        parts = type(sub).__module__.split(".")
        if parts[0].startswith("<torch_package"):
            parts = parts[1:]
        if parts and parts[0] == "allegro":
            return "allegro"
    return "nequip"


def _saved_model_version(path, fmt):
    """nequip version recorded in a package or checkpoint file, or ``"unknown"``."""
    import yaml

    try:
        if fmt == "nequip-package":
            with zipfile.ZipFile(path) as archive:
                name = next(n for n in archive.namelist() if n.endswith("model/package_metadata.txt"))
                versions = yaml.safe_load(archive.read(name))["versions"]
        else:
            import torch

            ckpt = torch.load(path, map_location="cpu", weights_only=False)
            versions = ckpt["hyper_parameters"]["info_dict"]["versions"]
        return str(versions["nequip"])
    except (KeyError, StopIteration, TypeError, OSError, zipfile.BadZipFile):
        return "unknown"


#: resource of a ``.nequip.zip`` written by :func:`aseml_zif.convert_legacy_model`
CONVERSION_RECORD = "model/converted_from.yaml"


def conversion_record(path):
    """What a converted package records about its legacy source (dict), or ``None``."""
    import yaml

    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith(CONVERSION_RECORD)), None)
            return None if name is None else dict(yaml.safe_load(archive.read(name)))
    except (OSError, zipfile.BadZipFile, yaml.YAMLError, TypeError, ValueError):
        return None


def _outputs_of(module):
    """``("forces", "stress")`` when an eager nequip model computes the stress, else ``("forces",)``."""
    names = {type(sub).__name__ for sub in module.modules()}
    return ("forces", "stress") if names & {"ForceStressOutput", "StressForceOutput"} else ("forces",)


def current_metadata(path, fmt, raw, architecture, version, outputs=("forces", "stress")):
    """ModelMetadata from nequip's metadata dict (values as strings or already parsed)."""
    type_names = raw["type_names"]
    if isinstance(type_names, str):
        type_names = type_names.split()
    cutoffs = raw.get("per_edge_type_cutoff")
    if isinstance(cutoffs, str) and cutoffs:
        from nequip.nn.embedding.utils import cutoff_str_to_fulldict

        cutoffs = cutoff_str_to_fulldict(cutoffs, type_names)
    if cutoffs:
        cutoffs = tuple(tuple(float(cutoffs[a][b]) for b in type_names) for a in type_names)
    return ModelMetadata(
        path=Path(path),
        format=fmt,
        architecture=architecture,
        nequip_version=version,
        r_max=float(raw["r_max"]),
        type_names=tuple(type_names),
        dtype=str(raw.get("model_dtype") or "float32"),
        per_edge_type_cutoff=cutoffs or None,
        outputs=tuple(outputs),
        converted_from=conversion_record(path) if fmt == "nequip-package" else None,
    )


def load_current(path, fmt, device):
    """Load a nequip ≥ 0.7 file through nequip's loaders; return (module, ModelMetadata).

    Compiled files (``.nequip.pt2``/``.nequip.pth``) go through
    ``nequip.model.inference_models.load_compiled_model`` with the inputs and outputs of
    nequip's ``ase`` compile target; packages and checkpoints through
    ``nequip.model.saved_models.load_utils.load_saved_model`` (``ModelFromPackage`` /
    ``ModelFromCheckpoint``), run eagerly.
    """
    if not zipfile.is_zipfile(path):  # all four formats are zip archives; fail before importing nequip
        raise ModelError(f"{path}: not a {fmt} file (not a zip archive)")
    nequip_global_state()
    try:
        if fmt in ("nequip-aotinductor", "nequip-torchscript"):
            from nequip.model.inference_models import load_compiled_model
            from nequip.scripts._compile_utils import ASE_TARGET

            module, raw = load_compiled_model(
                str(path), device, list(ASE_TARGET["input"]), list(ASE_TARGET["output"])
            )
            outputs = tuple(k for k in ("forces", "stress") if k in ASE_TARGET["output"])
            return module, current_metadata(path, fmt, raw, "unknown", "unknown", outputs)
        from nequip.model.saved_models.load_utils import load_saved_model

        with preserved_random_state():
            module = load_saved_model(str(path))
        module = module.to(device).eval()
    except ModelError:
        raise
    except Exception as exc:  # corrupt file, wrong target, incompatible torch/nequip, ...
        raise ModelError(f"{path}: cannot load this {fmt} file ({first_line(exc)})") from exc
    version = _saved_model_version(path, fmt)
    return module, current_metadata(
        path, fmt, module.metadata, _architecture_of(module), version, _outputs_of(module)
    )
