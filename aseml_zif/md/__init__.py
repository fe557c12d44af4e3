"""Molecular dynamics of ZIFs with any ASE calculator (Castel et al., Digital Discovery 2024).

``run(atoms, calculator, stages, workdir)`` integrates a list of :class:`Stage` (NVT with a
Nosé–Hoover chain, NPT with MTK barostats or flexible-cell Langevin), with temperature ramps,
atomic checkpoints (a killed run resumes to the same frames), a live watchdog, a tqdm bar, an
ASE trajectory and a CSV thermodynamics log. :func:`melt_quench` builds the paper's protocol.
"""
from .checkpoint import CheckpointError
from .runner import RUN_FILES, run
from .stages import ENSEMBLES, Stage, StageError, melt_quench
from .watchdog import Watchdog, WatchdogError

__all__ = [
    "Stage",
    "StageError",
    "ENSEMBLES",
    "melt_quench",
    "run",
    "RUN_FILES",
    "Watchdog",
    "WatchdogError",
    "CheckpointError",
]
