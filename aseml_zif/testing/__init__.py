"""Reusable test helpers shipped with aseml_zif (importable by users' own test suites).

:mod:`aseml_zif.testing.conformance` holds the physical conformance checks of ASE calculators
and the pytest mixin :class:`~aseml_zif.testing.conformance.CalculatorConformance`.
"""
from .conformance import CalculatorConformance

__all__ = ["CalculatorConformance"]
