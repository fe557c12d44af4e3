"""Training, deploying and evaluating NequIP/Allegro potentials with nequip's own tools.

Public names are imported lazily so that ``import aseml_zif.training`` stays cheap.
"""
from .._lazy import lazy_exports

_EXPORTS = {
    "training_config": "config",
    "write_config": "config",
    "PAPER_NEQUIP": "config",
    "PAPER_ALLEGRO": "config",
    "edge_type_cutoffs": "config",
    "package_pair_cutoffs": "config",
    "train": "runner",
    "run_grid": "runner",
    "package": "runner",
    "compile_model": "runner",
    "TrainingRun": "runner",
    "TrainingError": "runner",
    "evaluate": "evaluation",
    "predict": "evaluation",
    "efficiency": "evaluation",
    "plot_parity": "evaluation",
    "read_learning_curve": "curves",
    "plot_learning_curve": "curves",
    "results_table": "curves",
    "fetch_model": "fetch",
    "FetchError": "fetch",
}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
