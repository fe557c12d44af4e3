"""Exceptions of :mod:`aseml_zif.mechanics` (all derive from :class:`~aseml_zif.errors.AsemlZifError`)."""
from ..errors import AsemlZifError

__all__ = ["MechanicsError", "MechanicalInstabilityError"]


class MechanicsError(AsemlZifError, ValueError):
    """Unusable input to a mechanics routine: wrong shape, non-finite values, too few samples."""


class MechanicalInstabilityError(MechanicsError):
    """A stiffness tensor is not positive definite (Born stability criterion violated)."""
