"""Exceptions of :mod:`aseml_zif.mechanics`: defined and documented in :mod:`aseml_zif.errors`,
importable from here as before."""
from ..errors import MechanicalInstabilityError, MechanicsError  # noqa: F401

__all__ = []
