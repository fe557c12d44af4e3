"""``run.json`` of an MD run: the settings, seed and potential a run is made with.

A new run directory gets them written; a resumed one must record the same settings (and seed,
when one is given) and a potential that :func:`~aseml_zif.md.potential.check_resumed_potential`
accepts.
"""
import json
import secrets

from .checkpoint import CheckpointError, read_json, write_json
from .potential import check_resumed_potential

__all__ = ["run_settings"]


def run_settings(path, settings, seed, potential, allow_other_potential, workdir):
    """The settings of the run in ``workdir``: those stored in ``path`` or, for a new run,
    ``settings`` with a seed and ``potential``, written to ``path``.

    Parameters
    ----------
    path : pathlib.Path
        The run's ``run.json``.
    settings : dict
        Stages, time step (fs), output intervals (steps) and chemical symbols of this call.
    seed : int or None
        Seed asked for; ``None`` draws one (a new run) or takes the stored one.
    potential : dict
        Record of the calculator (:func:`~aseml_zif.md.potential.describe_potential`).
    allow_other_potential : bool
        Accept another potential than the stored one (with a warning; both stay listed).
    workdir : pathlib.Path
        Run directory, for messages.

    Returns
    -------
    dict
        The settings with ``"seed"`` and ``"potential"``.

    Raises
    ------
    CheckpointError
        ``path`` is damaged or records other settings, another seed or another potential.
    """
    stored = read_json(path)
    if stored is not None:
        seed_ok = isinstance(stored, dict) and isinstance(stored.get("seed"), int)
        if not seed_ok or stored["seed"] < 0:
            raise CheckpointError(f"{path}: damaged run settings (no valid 'seed')")
        for key, value in settings.items():
            if json.loads(json.dumps(value)) != stored.get(key):
                raise CheckpointError(
                    f"{path}: records a run with different {key!r} "
                    f"({stored.get(key)!r} there, {value!r} now); use a new workdir"
                )
        if seed is not None and seed != stored["seed"]:
            raise CheckpointError(f"{workdir}: run seed is {stored['seed']}, not {seed}")
        updated = check_resumed_potential(stored, potential, allow_other_potential, workdir)
        if updated is not None:
            write_json(path, updated)
        return updated or stored
    settings = dict(settings)
    settings["seed"] = int(secrets.randbits(63)) if seed is None else int(seed)
    settings["potential"] = potential
    write_json(path, settings)
    return settings
