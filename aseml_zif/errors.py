"""Exception types of aseml_zif.

Every error the package raises on purpose derives from :class:`AsemlZifError`, so a
script can catch them all with one ``except`` clause. All of them are defined here; the modules
that raise them re-export them (``from aseml_zif.md.checkpoint import CheckpointError`` works).
Errors about bad settings or arguments, and about unusable input values, are also
:class:`ValueError`.
"""

__all__ = [
    "AsemlZifError",
    "SettingsError",
    "StructureError",
    "UnknownSpeciesError",
    "ModelError",
    "CompileError",
    "FetchError",
    "ConfigError",
    "TrainingError",
    "StageError",
    "WatchdogError",
    "CheckpointError",
    "LabellingError",
    "Cp2kFormatError",
    "MechanicsError",
    "MechanicalInstabilityError",
    "PoreVolumeError",
    "RingSearchError",
    "DataFileError",
    "LammpsError",
    "LammpsStyleError",
]


class AsemlZifError(Exception):
    """Base class of all aseml_zif errors."""


class SettingsError(AsemlZifError, ValueError):
    """An argument or setting is out of range or inconsistent (e.g. a negative cut-off)."""


# ----------------------------------------------------------------- structures and models
class StructureError(AsemlZifError, ValueError):
    """A structure is unusable: bad file, unknown species, non-periodic or degenerate cell."""


class UnknownSpeciesError(StructureError):
    """An element in the structure is not among the model's ``type_names``."""


class ModelError(AsemlZifError):
    """A potential file cannot be loaded or evaluated."""


class CompileError(ModelError):
    """Compiling a model (AOTInductor) failed; ``load_potential(compile=True)`` then runs it eagerly."""


class FetchError(ModelError):
    """Unknown model name, download failure (offline?) or checksum mismatch."""


# ----------------------------------------------------------------- training and data
class ConfigError(SettingsError):
    """Unknown architecture or hyperparameter."""


class TrainingError(AsemlZifError):
    """A nequip command failed; the message quotes the end of its log."""


class LabellingError(AsemlZifError):
    """The output file does not continue the requested frames, or the calculator failed on a frame."""


class Cp2kFormatError(StructureError):
    """A CP2K output file is truncated, malformed, or inconsistent with its sibling files."""


# ----------------------------------------------------------------- molecular dynamics
class StageError(SettingsError):
    """A stage or a schedule of stages is ill-defined."""


class WatchdogError(AsemlZifError):
    """An MD run was stopped by the watchdog.

    Attributes
    ----------
    step : int
        MD step at which the check failed.
    temperature_K : float
        Instantaneous temperature at that step.
    problems : list of str
        One message per failed check.
    """

    def __init__(self, message, step, temperature_K, problems):
        super().__init__(message)
        self.step = step
        self.temperature_K = temperature_K
        self.problems = problems


class CheckpointError(AsemlZifError):
    """A checkpoint or the run directory it belongs to is unusable."""


# ----------------------------------------------------------------- mechanics
class MechanicsError(AsemlZifError, ValueError):
    """Unusable input to a mechanics routine: wrong shape, non-finite values, too few samples."""


class MechanicalInstabilityError(MechanicsError):
    """A stiffness tensor is not positive definite (Born stability criterion violated)."""


# ----------------------------------------------------------------- analysis
class PoreVolumeError(AsemlZifError):
    """Zeo++ is missing or could not analyse the structure."""


class RingSearchError(SettingsError):
    """Invalid ring-search settings."""


class DataFileError(AsemlZifError, ValueError):
    """A measured scattering file is missing or not in the expected column format."""


# ----------------------------------------------------------------- LAMMPS
class LammpsError(AsemlZifError):
    """LAMMPS is missing, or cannot do what was asked."""


class LammpsStyleError(LammpsError):
    """The LAMMPS build lacks a required style (e.g. ``pair_style allegro``)."""
