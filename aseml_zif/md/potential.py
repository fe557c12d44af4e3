"""The potential of an MD run: its record in ``run.json``, checked when the run is resumed.

A deployed model (:class:`aseml_zif.calculator.DeployedModelCalculator`, or any calculator with
such a ``metadata``) is recorded by its file, the file's SHA-256, format, ``type_names``,
``r_max`` (Å) and dtype, and by the SHA-256 of the weights it comes from (``source_sha256``: the
legacy file a converted or compiled model was made from, else the package or checkpoint a
compiled model was built from, else the file itself). It is the same potential when the source,
``type_names`` and ``r_max`` agree: the paper's legacy file, its exact conversion and its
AOTInductor builds continue each other's runs, as do a package and the builds
``load_potential(..., compile=True)`` makes of it for any thread count (a ``.nequip.pt2`` loaded
directly names no package: its own hash is its source); another file does not.
A plain ASE calculator (EMT, LJ, ...) is recorded, and compared, by its class name.
"""
import warnings
from pathlib import Path

from .._checksum import file_sha256
from ..errors import ModelError
from .checkpoint import CheckpointError

__all__ = ["describe_potential", "potential_label", "check_resumed_potential", "require_stress"]

#: entries of a model file's record that identify the potential (its location does not)
_MODEL_KEYS = ("source_sha256", "type_names", "r_max")


def describe_potential(calculator):
    """JSON-compatible record of ``calculator`` for ``run.json``.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
        A deployed model (with ``metadata.path``) or any ASE calculator.

    Returns
    -------
    dict
        ``calculator`` (class name); for a model file also ``file``, ``sha256``, ``format``,
        ``type_names``, ``r_max`` (Å), ``dtype`` and ``source_sha256``.
    """
    record = {"calculator": type(calculator).__name__}
    meta = getattr(calculator, "metadata", None)
    if getattr(meta, "path", None) is None:
        return record
    path = Path(meta.path).resolve()
    try:
        sha256 = file_sha256(path)
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model file to record it ({exc})") from exc
    record.update(file=str(path), sha256=sha256, format=str(meta.format),
                  type_names=[str(t) for t in meta.type_names], r_max=float(meta.r_max),
                  dtype=str(meta.dtype))
    source = (getattr(meta, "converted_from", None) or getattr(meta, "compiled_from", None)
              or {})
    record["source_sha256"] = str(source.get("sha256", sha256))
    return record


def _identity(record):
    if "sha256" not in record:
        return {"calculator": record.get("calculator")}
    identity = {key: record.get(key) for key in _MODEL_KEYS}
    identity["source_sha256"] = record.get("source_sha256", record["sha256"])  # older run.json
    return identity


def _older_record_of_the_same_file(recorded, potential):
    """``recorded`` names no other source than its own file (as aseml_zif recorded an AOTInductor
    build before builds named their package), and that file, read the same way, is the one
    given now."""
    return ("sha256" in recorded
            and recorded.get("source_sha256", recorded["sha256"]) == recorded["sha256"]
            and recorded["sha256"] == potential.get("sha256")
            and all(recorded.get(key) == potential.get(key) for key in ("type_names", "r_max")))


def potential_label(record):
    """Short human-readable name of a potential record, e.g. ``"model.pth (sha256 1a2b3c4d…)"``."""
    if "sha256" not in record:
        return f"calculator {record.get('calculator')}"
    return (f"{Path(record['file']).name} (sha256 {record['sha256'][:12]}…, {record['format']}, "
            f"{record['dtype']}, {record['calculator']})")


def check_resumed_potential(settings, potential, allow_other_potential, where):
    """Compare the potential of a resumed run with the one in its ``run.json``.

    Parameters
    ----------
    settings : dict
        Content of ``run.json``.
    potential : dict
        :func:`describe_potential` of the calculator given now.
    allow_other_potential : bool
        Continue with another potential (a warning is given) instead of raising.
    where : path-like
        The run folder, named in messages.

    Returns
    -------
    dict or None
        Settings to write back (the new potential recorded, earlier ones listed under
        ``earlier_potentials``), or ``None`` when the potential is the recorded one. A record
        that names no source but its own file (a build recorded by an older aseml_zif) and the
        very same file given now are the same potential: the new record is written back
        without ``earlier_potentials``.

    Raises
    ------
    CheckpointError
        The run was made with another potential and ``allow_other_potential`` is false.
    """
    recorded = settings.get("potential")
    updated = {**settings, "potential": potential}
    if recorded is None:
        warnings.warn(f"{where}: run.json records no potential (written by an older aseml_zif); "
                      f"recording {potential_label(potential)}", stacklevel=5)
        return updated
    before, now = _identity(recorded), _identity(potential)
    if before == now:
        return None
    if _older_record_of_the_same_file(recorded, potential):
        return updated  # the same build: record the package it came from, for later resumes
    if not allow_other_potential:
        differs = ", ".join(key for key in before if before[key] != now.get(key))
        raise CheckpointError(
            f"{where}: the run was made with {potential_label(recorded)}, not with "
            f"{potential_label(potential)} (they differ in {differs}); use a new workdir, or pass "
            "allow_other_potential=True (CLI: --allow-other-potential) to continue it on purpose"
        )
    warnings.warn(f"{where}: continuing a run made with {potential_label(recorded)} with "
                  f"{potential_label(potential)}", stacklevel=5)
    updated["earlier_potentials"] = settings.get("earlier_potentials", []) + [recorded]
    return updated


def require_stress(calculator, stages, potential):
    """Refuse constant-pressure stages, before any step, when ``calculator`` has no stress.

    Parameters
    ----------
    calculator : ase.calculators.calculator.Calculator
        Its ``implemented_properties`` tell whether it computes the stress.
    stages : sequence of Stage
        Stages with a ``pressure_GPa`` need the stress.
    potential : dict
        :func:`describe_potential` of ``calculator``, named in the message.

    Raises
    ------
    ModelError
        Some stage needs the stress and the potential has no stress output.
    """
    if "stress" in getattr(calculator, "implemented_properties", ("stress",)):
        return
    npt = [stage.label for stage in stages if stage.pressure_GPa is not None]
    if npt:
        raise ModelError(
            f"stage(s) {', '.join(map(repr, npt))} run at constant pressure and need the stress, "
            f"but {potential_label(potential)} has no stress output (it computes "
            f"{', '.join(calculator.implemented_properties)}); use NVT stages or a model with stress"
        )
