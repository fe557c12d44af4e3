"""Exception types of aseml_zif.

Every error the package raises on purpose derives from :class:`AsemlZifError`, so a
script can catch them all with one ``except`` clause.
"""


class AsemlZifError(Exception):
    """Base class of all aseml_zif errors."""


class StructureError(AsemlZifError, ValueError):
    """A structure is unusable: bad file, unknown species, non-periodic or degenerate cell."""


class ModelError(AsemlZifError):
    """A potential file cannot be loaded or evaluated."""


class UnknownSpeciesError(StructureError):
    """An element in the structure is not among the model's ``type_names``."""
