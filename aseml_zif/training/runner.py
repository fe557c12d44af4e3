"""Run nequip's own command-line tools: ``nequip-train``, ``nequip-package``, ``nequip-compile``.

Nothing of nequip is re-implemented here: a configuration from
:func:`aseml_zif.training.config.training_config` is written to YAML and handed to
``nequip-train`` (Hydra); the best checkpoint is turned into a deployable file by
``nequip-package build`` (``.nequip.zip``: Python-packaged weights and code, portable across
devices and platforms) or ``nequip-compile --mode aotinductor`` (``.nequip.pt2``: ahead-of-time
compiled for one device type and platform; needs a C++ compiler; TorchScript compilation is
unsupported by nequip on torch >= 2.10).
"""
import itertools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .._progress import progress_bar
from ..errors import ConfigError, TrainingError
from .config import training_config, write_config

__all__ = ["TrainingRun", "train", "run_grid", "package", "compile_model"]


@dataclass(frozen=True)
class TrainingRun:
    """Outputs of one ``nequip-train`` run.

    Attributes
    ----------
    directory : pathlib.Path
        Hydra output directory of the run.
    best_checkpoint, last_checkpoint : pathlib.Path
        Checkpoints written by Lightning's ``ModelCheckpoint`` (best = lowest validation metric).
    metrics_csv : pathlib.Path
        Lightning ``CSVLogger`` file (per-epoch train/validation metrics).
    hyperparameters : dict
        The overrides this run was made with.
    """

    directory: Path
    best_checkpoint: Path
    last_checkpoint: Path
    metrics_csv: Path
    hyperparameters: dict


def _tool(name):
    candidate = Path(sys.executable).parent / name
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if found is None:
        raise TrainingError(f"{name}: command not found (is nequip installed in this environment?)")
    return found


def _run(command, log_path, env=None, append=False):
    with open(log_path, "a" if append else "w") as log:
        result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    if result.returncode != 0:
        tail = "\n".join(Path(log_path).read_text().splitlines()[-15:])
        raise TrainingError(f"{Path(command[0]).name} failed (exit {result.returncode}); "
                            f"see {log_path}:\n{tail}")


def train(config, directory, hyperparameters=None, env=None, resume=False):
    """Train one model with ``nequip-train``.

    Parameters
    ----------
    config : dict
        From :func:`~aseml_zif.training.config.training_config`.
    directory : str or path-like
        Run directory (created): holds ``config.yaml``, ``train.log``, checkpoints and the CSV log.
    hyperparameters : dict, optional
        Recorded in the returned :class:`TrainingRun`.
    env : dict, optional
        Extra environment variables for ``nequip-train``, e.g. ``{"OMP_NUM_THREADS": "1"}``
        (on a CPU shared with other jobs, threads fighting for busy cores made training about
        ten times slower here).
    resume : bool
        If ``directory`` holds a ``last.ckpt`` of an interrupted run, continue it (weights,
        optimizer, scheduler, EMA and epoch count: nequip's ``ckpt_path``) up to the
        configuration's ``max_epochs``; the configuration must be the one it started with.
        Lightning may redo the epoch during which ``last.ckpt`` was written. Otherwise start
        afresh.

    Returns
    -------
    TrainingRun

    Raises
    ------
    ConfigError
        Resuming with a model block (architecture, initial weights) other than the one the run
        was started with, named by its keys.
    TrainingError
        ``nequip-train`` failed or wrote no checkpoint.
    """
    directory = Path(directory).resolve()
    directory.mkdir(parents=True, exist_ok=True)
    best, last = directory / "best.ckpt", directory / "last.ckpt"
    continuing = resume and last.exists()
    if continuing:
        _check_same_model(config, directory / "config.yaml")
    write_config(config, directory / "config.yaml")
    command = [_tool("nequip-train"), "-cp", str(directory), "-cn", "config",
               f"hydra.run.dir={directory}"]
    if continuing:
        command.append(f"++ckpt_path={last}")
    _run(command, directory / "train.log", env=env, append=continuing)
    csvs = sorted(directory.glob("csv/version_*/metrics.csv"))
    if not best.exists() or not csvs:
        raise TrainingError(f"{directory}: nequip-train wrote no best.ckpt or metrics.csv")
    return TrainingRun(directory, best, last, csvs[-1], dict(hyperparameters or {}))


def _check_same_model(config, started_file):
    """Refuse to resume a run with another model or loss block than the one it was started with
    (nequip rebuilds both from the checkpoint: new settings there would be silently ignored)."""
    import yaml

    if not started_file.exists():
        return
    started = yaml.safe_load(started_file.read_text())["training_module"]
    now = config["training_module"]
    for block in ("model", "loss"):
        old, new = started.get(block, {}), now.get(block, {})
        changed = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
        if changed:
            detail = ", ".join(f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed)
            raise ConfigError(f"{started_file.parent}: cannot resume this run with another "
                              f"{block} ({detail}); use a new directory, or the settings it "
                              "started with")


def run_grid(train_file, val_file, directory, grid, test_file=None, architecture="nequip",
             progress=True, env=None, resume=False, initial_checkpoint=None, **fixed):
    """Train one model per combination of the hyperparameter ``grid`` (the paper's Table 1 scan).

    Parameters
    ----------
    train_file, val_file, test_file : path-like
        extxyz files of labelled frames (see :func:`training_config`).
    directory : path-like
        Parent folder; run ``k`` goes to ``<directory>/<name>`` with ``name`` built from the
        varied values, e.g. ``r_max5.0-l_max1``.
    grid : dict of str to list
        E.g. ``{"r_max": [4.0, 5.0, 6.0], "l_max": [1, 2], "parity": [False, True]}``.
    architecture : {"nequip", "allegro"}
    progress : bool
        tqdm progress bar over the runs.
    env : dict, optional
        Extra environment variables for ``nequip-train`` (see :func:`train`).
    resume : bool
        Continue every run whose folder holds the ``last.ckpt`` of an interrupted run, start
        the others afresh (see :func:`train`); ``grid`` and ``fixed`` must be the ones the
        runs started with.
    initial_checkpoint : path-like, optional
        Every run starts from the weights of this ``nequip-train`` checkpoint or
        ``.nequip.zip`` package (see :func:`training_config`).
    **fixed
        Hyperparameters common to all runs (e.g. ``max_epochs=100``).

    Returns
    -------
    list of TrainingRun

    Raises
    ------
    ConfigError
        Unknown hyperparameter, or ``initial_checkpoint`` is not a file (before any training).
    TrainingError
        A ``nequip-train`` run failed.
    """
    names = list(grid)
    combos = [dict(zip(names, values)) for values in itertools.product(*(grid[n] for n in names))]
    # every configuration is checked before the first run and before the progress bar
    configs = [training_config(train_file, val_file, test_file, architecture=architecture,
                               initial_checkpoint=initial_checkpoint, **fixed, **h) for h in combos]
    runs = []
    for h, config in progress_bar(list(zip(combos, configs)), desc="grid", unit="model",
                                  disable=not progress):
        tag = "-".join(f"{n}{v}" for n, v in h.items()) or "default"
        runs.append(train(config, Path(directory) / tag, hyperparameters={**fixed, **h}, env=env,
                          resume=resume))
    return runs


def package(checkpoint, output):
    """Package a checkpoint with ``nequip-package build`` into a portable ``.nequip.zip``.

    Parameters
    ----------
    checkpoint : path-like
        ``best.ckpt`` of a :class:`TrainingRun`.
    output : path-like
        Must end in ``.nequip.zip``. The tool's log goes next to the checkpoint.

    Returns
    -------
    pathlib.Path
    """
    output = Path(output).resolve()
    if not output.name.endswith(".nequip.zip"):
        raise TrainingError(f"{output}: a packaged model must end in .nequip.zip")
    output.parent.mkdir(parents=True, exist_ok=True)
    _run([_tool("nequip-package"), "build", str(checkpoint), str(output)],
         Path(checkpoint).resolve().parent / f"{output.name}.log")
    return output


def compile_model(model_file, output, device="cpu", target="ase", cache_dir=None):
    """Compile a checkpoint or package with ``nequip-compile --mode aotinductor``.

    Parameters
    ----------
    model_file : path-like
        ``.ckpt`` or ``.nequip.zip``.
    output : path-like
        Must end in ``.nequip.pt2``; only usable on ``device`` and this platform.
    device : {"cpu", "cuda"}
    target : {"ase", "batch"}
        nequip's compile target (``ase`` for :class:`ase.calculators.calculator.Calculator` use).
    cache_dir : path-like, optional
        ``TORCHINDUCTOR_CACHE_DIR`` (the compiler cache is ~300 MB; default: system temp dir).

    Returns
    -------
    pathlib.Path
    """
    output = Path(output).resolve()
    if not output.name.endswith(".nequip.pt2"):
        raise TrainingError(f"{output}: an AOTInductor-compiled model must end in .nequip.pt2")
    env = {"TORCHINDUCTOR_CACHE_DIR": str(cache_dir)} if cache_dir else None
    _run([_tool("nequip-compile"), str(model_file), str(output), "--device", device,
          "--mode", "aotinductor", "--target", target],
         Path(model_file).resolve().parent / f"{output.name}.log", env=env)
    return output
