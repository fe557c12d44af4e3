"""Training configurations for nequip >= 0.7 (``nequip-train``) from the paper's hyperparameters.

Castel et al., Digital Discovery 3, 355 (2024), Sec. 2.3 and Table 1: NequIP models with
5 interaction layers, 32 features, r_max 4/5/6 Å, l_max 1/2, with or without parity
(``l2r6stress0``: l_max 2, r_max 6 Å, parity off), 8 Bessel functions, radial MLP of 2 × 64,
polynomial cut-off p = 5; Allegro with 2 layers; Adam (AMSGrad for NequIP) at learning rate
0.005 (NequIP) / 0.001 (Allegro), batch size 1, EMA 0.99, loss = per-atom energy MSE + force MSE
(weight 1 each) with stress weight 0, early stopping after 50 epochs without improvement of the
validation loss. The functions below only write nequip's own YAML (Hydra) format.
"""
from pathlib import Path

from ..errors import ConfigError

__all__ = ["PAPER_NEQUIP", "PAPER_ALLEGRO", "training_config", "write_config", "edge_type_cutoffs",
           "package_pair_cutoffs"]

TYPE_NAMES = ["H", "C", "N", "Zn"]

#: the optional pair-force loss term (off: ``pair_force_weight=None``), see :func:`training_config`
PAIR_FORCE = dict(pair_force_weight=None, pair_force_pair=("Zn", "N"),
                  pair_force_window=(2.2, 3.2))

#: NequIP hyperparameters of the paper (``nequip_l2r6stress0.yaml``).
PAPER_NEQUIP = dict(r_max=6.0, l_max=2, parity=False, num_layers=5, num_features=32,
                    num_bessels=8, polynomial_cutoff_p=5, radial_mlp_depth=2,
                    radial_mlp_width=64, learning_rate=0.005, batch_size=1, ema_decay=0.99,
                    energy_weight=1.0, stress_weight=0.0, patience=50, max_epochs=1000,
                    lr_plateau_patience=None, lr_plateau_factor=0.5, lr_cosine=False,
                    compile_mode="eager", pair_cutoffs=None, **PAIR_FORCE)

#: Allegro hyperparameters of the paper (``allegro_l2r6stress0a2.yaml``), mapped to allegro 0.8.
PAPER_ALLEGRO = dict(r_max=6.0, l_max=2, parity=True, num_layers=2, num_scalar_features=64,
                     num_tensor_features=64, num_bessels=8, polynomial_cutoff_p=6,
                     mlp_width=1024, mlp_depth=3, learning_rate=0.001, batch_size=1,
                     ema_decay=0.99, energy_weight=1.0, stress_weight=0.0, patience=50,
                     max_epochs=1000, lr_plateau_patience=None, lr_plateau_factor=0.5,
                     lr_cosine=False, compile_mode="eager", **PAIR_FORCE)


def _nequip_model(h):
    return {
        "_target_": "nequip.model.NequIPGNNModel",
        "num_bessels": h["num_bessels"],
        "polynomial_cutoff_p": h["polynomial_cutoff_p"],
        "num_layers": h["num_layers"],
        "l_max": h["l_max"],
        "parity": h["parity"],
        "num_features": h["num_features"],
        "radial_mlp_depth": h["radial_mlp_depth"],
        "radial_mlp_width": h["radial_mlp_width"],
        **({} if h["pair_cutoffs"] is None
           else {"per_edge_type_cutoff": edge_type_cutoffs(h["pair_cutoffs"], h["r_max"])}),
    }


def edge_type_cutoffs(pair_cutoffs, r_max):
    """nequip's ``per_edge_type_cutoff`` (centre type -> neighbour type -> Å) from pair cut-offs.

    Parameters
    ----------
    pair_cutoffs : dict of str to float
        Cut-offs in Å, symmetric: a key ``"X"`` applies to every pair with an atom of element X,
        a key ``"X-Y"`` to the pairs X–Y (and overrides ``"X"``/``"Y"``). E.g. ``{"H": 3.0}``:
        in ZIF-4 at 4 Å, 62 % of the edges involve an H atom.
    r_max : float
        Cut-off of every pair not named, Å; no pair cut-off may exceed it.

    Returns
    -------
    dict of str to dict of str to float
        Every ordered pair of :data:`TYPE_NAMES`.

    Raises
    ------
    ConfigError
        An element that is not one of the model's types, a malformed key, or a cut-off that is
        not in (0, r_max].
    """
    if not isinstance(pair_cutoffs, dict):
        raise ConfigError(f"pair_cutoffs {pair_cutoffs!r}: a dict such as {{'H': 3.0, 'C-N': 3.5}}")
    table = {a: {b: float(r_max) for b in TYPE_NAMES} for a in TYPE_NAMES}
    for key in sorted(pair_cutoffs, key=lambda k: "-" in str(k)):  # single elements first
        elements = str(key).split("-")
        cutoff = pair_cutoffs[key]
        if len(elements) > 2 or any(e not in TYPE_NAMES for e in elements):
            raise ConfigError(f"pair_cutoffs key {key!r}: an element or a pair of elements of "
                              f"{' '.join(TYPE_NAMES)} (e.g. 'H' or 'C-H')")
        if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 < cutoff <= r_max:
            raise ConfigError(f"pair_cutoffs[{key!r}] = {cutoff!r}: a cut-off in Å in (0, r_max = {r_max}]")
        for b in (TYPE_NAMES if len(elements) == 1 else elements[1:]):
            table[elements[0]][b] = table[b][elements[0]] = float(cutoff)
    return table


def package_pair_cutoffs(metadata, path):
    """The pair cut-offs of a package's ``ModelMetadata``, as :func:`edge_type_cutoffs` takes them.

    With them the training neighbour lists of a run that starts from the package leave out the
    edges its model gives zero weight (nequip's per-edge-type cut-off): the same losses, fewer
    edges to compute.

    Parameters
    ----------
    metadata : aseml_zif.calculator.formats.ModelMetadata
        From :func:`aseml_zif.calculator.loading.read_model_metadata`; its
        ``per_edge_type_cutoff`` table (Å) is indexed like its ``type_names``.
    path : str or path-like
        The package, named in the error.

    Returns
    -------
    dict of str to float or None
        ``{"X-Y": Å}`` for every pair whose cut-off is below ``metadata.r_max``; ``None`` if
        there is none (or no table).

    Raises
    ------
    ConfigError
        A table that is not symmetric (:func:`edge_type_cutoffs` writes only symmetric ones),
        naming both directions.
    """
    table, names = metadata.per_edge_type_cutoff, metadata.type_names
    if table is None:
        return None
    pairs = {}
    for i, a in enumerate(names):
        for j, b in enumerate(names[i:], start=i):
            if table[i][j] != table[j][i]:
                raise ConfigError(f"{path}: per-edge-type cut-off {a}->{b} {table[i][j]:g} Å but "
                                  f"{b}->{a} {table[j][i]:g} Å; only symmetric tables are supported")
            if table[i][j] < metadata.r_max:
                pairs[f"{a}-{b}"] = table[i][j]
    return pairs or None


def _package_cutoffs(path, given):
    """``r_max`` and ``pair_cutoffs`` of the package at ``path``; other ``given`` ones refused."""
    from ..calculator.loading import read_model_metadata

    metadata = read_model_metadata(path)
    r_max, pairs = float(metadata.r_max), package_pair_cutoffs(metadata, path)
    if given.get("r_max") is not None and float(given["r_max"]) != r_max:
        raise ConfigError(f"r_max {float(given['r_max']):g} Å with initial checkpoint {path}, "
                          f"whose r_max is {r_max:g} Å")
    if given.get("pair_cutoffs") is not None and (edge_type_cutoffs(given["pair_cutoffs"], r_max)
                                                  != edge_type_cutoffs(pairs or {}, r_max)):
        raise ConfigError(f"pair_cutoffs {given['pair_cutoffs']!r} with initial checkpoint {path}, "
                          f"whose pair cut-offs are {pairs!r} (Å)")
    return {"r_max": r_max, "pair_cutoffs": pairs}


def _allegro_model(h):
    return {
        "_target_": "allegro.model.AllegroModel",
        "radial_chemical_embed": {
            "_target_": "allegro.nn.TwoBodyBesselScalarEmbed",
            "num_bessels": h["num_bessels"],
            "bessel_trainable": False,
            "polynomial_cutoff_p": h["polynomial_cutoff_p"],
        },
        "radial_chemical_embed_dim": h["num_scalar_features"],
        "scalar_embed_mlp_hidden_layers_depth": 1,
        "scalar_embed_mlp_hidden_layers_width": h["num_scalar_features"],
        "scalar_embed_mlp_nonlinearity": "silu",
        "l_max": h["l_max"],
        "parity": h["parity"],
        "num_layers": h["num_layers"],
        "num_scalar_features": h["num_scalar_features"],
        "num_tensor_features": h["num_tensor_features"],
        "allegro_mlp_hidden_layers_depth": h["mlp_depth"],
        "allegro_mlp_hidden_layers_width": h["mlp_width"],
        "allegro_mlp_nonlinearity": "silu",
        "tp_path_channel_coupling": True,
        "readout_mlp_hidden_layers_depth": 1,
        "readout_mlp_hidden_layers_width": h["num_scalar_features"],
        "readout_mlp_nonlinearity": None,
    }


_ARCHITECTURES = {"nequip": (PAPER_NEQUIP, _nequip_model),
                  "allegro": (PAPER_ALLEGRO, _allegro_model)}


def training_config(train_file, val_file, test_file=None, architecture="nequip", seed=0,
                    device="cpu", initial_checkpoint=None, **hyperparameters):
    """Build a ``nequip-train`` configuration (a nested dict) with the paper's hyperparameters.

    Parameters
    ----------
    train_file, val_file : str or path-like
        extxyz files of labelled frames (energy in eV, forces in eV/Å, stress in eV/Å³), e.g.
        written after :func:`aseml_zif.data.split_flat_histogram`.
    test_file : str or path-like, optional
        Held-out frames evaluated by ``nequip-train`` after training (``run: [train, test]``).
    architecture : {"nequip", "allegro"}
    seed : int
        Seed of the data loader and of the weight initialisation.
    device : {"cpu", "cuda"}
        Lightning accelerator.
    initial_checkpoint : path-like, optional
        Start from the weights of this ``nequip-train`` checkpoint (nequip's
        ``ModelFromCheckpoint``) or ``.nequip.zip`` package (``ModelFromPackage``; the package
        must stay where it is while the run and its checkpoints are used): fine-tuning, or
        another round of active learning. The architecture is then the checkpoint's, and
        ``r_max`` must match a checkpoint's. A package's ``r_max`` and pair cut-offs
        (:func:`package_pair_cutoffs`) are read from it and make the training neighbour lists;
        an ``r_max`` or ``pair_cutoffs`` given as well (not ``None``) must be the same.
    **hyperparameters
        Overrides of :data:`PAPER_NEQUIP` / :data:`PAPER_ALLEGRO`, e.g. ``r_max=5.0`` (Å),
        ``l_max=1``, ``parity=True``, ``num_features=16``, ``max_epochs=5``,
        ``energy_weight=1.0`` (per-atom energy MSE), ``stress_weight=1.0``, ``patience=50``,
        ``lr_plateau_patience=10`` with ``lr_plateau_factor=0.5`` (multiply the learning rate
        by the factor after that many epochs without a better validation metric; ``None``,
        the default, keeps it constant as in the paper's NequIP config),
        ``lr_cosine=True`` (instead: anneal the learning rate along a half cosine from
        ``learning_rate`` to 1/100 of it at ``max_epochs``; PyTorch's ``CosineAnnealingLR``),
        ``compile_mode="compile"`` (train through nequip's
        ``torch.compile`` wrapper, meant for GPUs: the same losses; on this project's 2-core CPU
        no faster than eager for the fast student, 37 s against 35 s for 4 epochs of 110
        frames; default ``"eager"``), ``pair_cutoffs={"H": 3.0}`` (NequIP: shorter cut-offs for some element
        pairs, nequip's ``per_edge_type_cutoff``, see :func:`edge_type_cutoffs`; the
        training neighbour lists and the deployed model's leave those edges out),
        ``pair_force_weight=1.0`` (add to the loss the MSE of the pair force
        ``p = (F_B - F_A) · u / 2``, eV/Å, of every ``pair_force_pair`` A–B pair, default
        ``("Zn", "N")``, whose distance is in ``pair_force_window``, default ``(2.2, 3.2)`` Å;
        see :class:`aseml_zif.training.pair_force.PairForceModifier`; the weight is relative to
        the force MSE's 1 and ``energy_weight``, nequip normalises all the weights to sum 1;
        the MAE of p is logged as ``<A><B>_pair_force_mae``, NaN for an epoch without such a
        pair; ``None``, the default, leaves the loss and the configuration as without it).

    Returns
    -------
    dict
        Ready for :func:`write_config`.

    Raises
    ------
    ConfigError
        Unknown architecture or hyperparameter name, an ``initial_checkpoint`` that is not a
        file, an ``r_max`` or ``pair_cutoffs`` other than the initial package's, or a pair-force
        weight, pair or window that cannot be used (a window must lie within the pair's
        neighbour-list cut-off).
    ModelError
        An initial package whose metadata cannot be read.
    """
    if architecture not in _ARCHITECTURES:
        raise ConfigError(f"unknown architecture {architecture!r}; use one of {sorted(_ARCHITECTURES)}")
    defaults, model_builder = _ARCHITECTURES[architecture]
    unknown = set(hyperparameters) - set(defaults)
    if unknown:
        raise ConfigError(f"unknown {architecture} hyperparameters {sorted(unknown)}; known: {sorted(defaults)}")
    h = {**defaults, **hyperparameters}
    _check_schedule(h)
    if initial_checkpoint is not None:
        if not Path(initial_checkpoint).is_file():
            raise ConfigError(f"initial checkpoint {str(initial_checkpoint)!r}: no such file (a "
                              "nequip-train .ckpt or a .nequip.zip package)")
        path = str(Path(initial_checkpoint).resolve())
        if path.endswith(".nequip.zip"):  # a package (nequip-package build)
            h.update(_package_cutoffs(path, hyperparameters))
            model = {"_target_": "nequip.model.ModelFromPackage", "package_path": path,
                     "compile_mode": h["compile_mode"]}
        else:
            model = {"_target_": "nequip.model.ModelFromCheckpoint", "checkpoint_path": path,
                     "compile_mode": h["compile_mode"]}
    else:
        model = _new_model(model_builder(h), seed, h["compile_mode"])
    return _full_config(h, model, architecture, train_file, val_file, test_file, seed, device)


def _check_schedule(h):
    if h["compile_mode"] not in ("eager", "compile"):
        raise ConfigError(f"compile_mode {h['compile_mode']!r}: use 'eager' or 'compile'")
    if h["lr_cosine"] and h["lr_plateau_patience"] is not None:
        raise ConfigError("lr_cosine and lr_plateau_patience both set: choose one "
                          "learning-rate schedule")


def _new_model(architecture_block, seed, compile_mode):
    return {
        **architecture_block,
        "seed": seed,
        "compile_mode": compile_mode,
        "model_dtype": "float32",
        "type_names": "${model_type_names}",
        "r_max": "${cutoff_radius}",
        "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
        "per_type_energy_scales": "${training_data_stats:per_type_forces_rms}",
        "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
        "per_type_energy_scales_trainable": False,
        "per_type_energy_shifts_trainable": False,
    }


def _full_config(h, model, architecture, train_file, val_file, test_file, seed, device):
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": h["batch_size"]}
    data = {
        "_target_": "nequip.data.datamodule.ASEDataModule",
        "seed": seed,
        "train_file_path": str(Path(train_file).resolve()),
        "val_file_path": str(Path(val_file).resolve()),
        "transforms": [
            {"_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
             "model_type_names": "${model_type_names}",
             "chemical_species_to_atom_type_map": "${list_to_identity_dict:${model_type_names}}"},
            {"_target_": "nequip.data.transforms.NeighborListTransform", "r_max": "${cutoff_radius}",
             **({} if h.get("pair_cutoffs") is None else
                {"per_edge_type_cutoff": edge_type_cutoffs(h["pair_cutoffs"], h["r_max"]),
                 "type_names": "${model_type_names}"})},
        ],
        "train_dataloader": {**loader, "shuffle": True},
        "val_dataloader": loader,
        "stats_manager": {"_target_": "nequip.data.CommonDataStatisticsManager",
                          "type_names": "${model_type_names}",
                          "dataloader_kwargs": {"batch_size": 8}},
    }
    run = ["train"]
    if test_file is not None:
        data["test_file_path"] = str(Path(test_file).resolve())
        data["test_dataloader"] = loader
        run.append("test")
    metrics = {"_target_": "nequip.train.EnergyForceStressMetrics",
               "coeffs": {"per_atom_energy_mae": 1.0, "forces_mae": 1.0,
                          "stress_mae": 1.0 if h["stress_weight"] else None}}
    loss = {"_target_": "nequip.train.EnergyForceStressLoss", "per_atom_energy": True,
            "coeffs": {"total_energy": float(h["energy_weight"]), "forces": 1.0,
                       "stress": float(h["stress_weight"])}}
    if h["pair_force_weight"] is not None:
        loss["extra_metrics"], metrics["extra_metrics"] = _pair_force_entries(h)
    monitored = "val0_epoch/weighted_sum"
    return {
        "run": run,
        "cutoff_radius": float(h["r_max"]),
        "model_type_names": list(TYPE_NAMES),
        "monitored_metric": monitored,
        "data": data,
        "trainer": {
            "_target_": "lightning.Trainer",
            "accelerator": device,
            "devices": 1,
            "max_epochs": h["max_epochs"],
            "check_val_every_n_epoch": 1,
            "log_every_n_steps": 1,
            "enable_progress_bar": False,
            "logger": {"_target_": "lightning.pytorch.loggers.CSVLogger",
                       "save_dir": "${hydra:runtime.output_dir}", "name": "csv"},
            "callbacks": [
                {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                 "monitor": monitored, "dirpath": "${hydra:runtime.output_dir}",
                 "filename": "best"},
                # every epoch (``save_last`` would only copy the best one when it improves:
                # a resumed run would redo every epoch since the last improvement)
                {"_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                 "dirpath": "${hydra:runtime.output_dir}", "filename": "last",
                 "save_on_train_epoch_end": True},
                {"_target_": "lightning.pytorch.callbacks.EarlyStopping",
                 "monitor": monitored, "patience": h["patience"], "min_delta": 0.0},
            ],
        },
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": h["ema_decay"],
            "loss": loss,
            "val_metrics": metrics,
            "train_metrics": metrics,
            "test_metrics": metrics,
            "optimizer": {"_target_": "torch.optim.Adam", "lr": h["learning_rate"],
                          "amsgrad": architecture == "nequip"},
            **_lr_scheduler(h, monitored),
            "model": model,
        },
        "global_options": {"allow_tf32": False},
    }


def _pair_force_entries(h):
    """The pair-force MSE (loss, weighted) and MAE (metric, unweighted) entries of nequip's
    ``extra_metrics`` (checked: a positive weight, two model types, a window within the pair's
    neighbour-list cut-off)."""
    weight, pair, window = h["pair_force_weight"], h["pair_force_pair"], h["pair_force_window"]
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not weight > 0:
        raise ConfigError(f"pair_force_weight {weight!r}: a positive loss weight")
    if len(pair) != 2 or any(e not in TYPE_NAMES for e in pair):
        raise ConfigError(f"pair_force_pair {pair!r}: two of {' '.join(TYPE_NAMES)}")
    cutoff = edge_type_cutoffs(h.get("pair_cutoffs") or {}, h["r_max"])[pair[0]][pair[1]]
    try:
        lo, hi = (float(x) for x in window)
    except (TypeError, ValueError):
        lo = hi = None
    if lo is None or not 0 <= lo < hi <= cutoff:
        raise ConfigError(f"pair_force_window {window!r}: (lo, hi) in Å with 0 <= lo < hi <= "
                          f"the {pair[0]}-{pair[1]} neighbour-list cut-off {cutoff:g} Å")
    name = f"{pair[0]}{pair[1]}_pair_force"
    def field():  # a new dict for each entry (no YAML aliases)
        return {"_target_": "aseml_zif.training.pair_force.PairForceModifier",
                "type_names": "${model_type_names}", "pair": list(pair), "r_min": lo, "r_max": hi}

    return ([{"name": f"{name}_mse", "field": field(), "coeff": float(weight),
              "metric": {"_target_": "aseml_zif.training.pair_force.MeanSquaredErrorOrZero"}}],
            [{"name": f"{name}_mae", "field": field(), "coeff": None,
              "metric": {"_target_": "nequip.train.MeanAbsoluteError"}}])


def _lr_scheduler(h, monitored):
    if h["lr_cosine"]:
        return {"lr_scheduler": {
            "scheduler": {"_target_": "torch.optim.lr_scheduler.CosineAnnealingLR",
                          "T_max": int(h["max_epochs"]),
                          "eta_min": float(h["learning_rate"]) / 100},
            "interval": "epoch", "frequency": 1}}
    if h["lr_plateau_patience"] is None:
        return {}
    return {"lr_scheduler": {
        "scheduler": {"_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                      "factor": float(h["lr_plateau_factor"]),
                      "patience": int(h["lr_plateau_patience"])},
        "monitor": monitored, "interval": "epoch", "frequency": 1}}


def write_config(config, path):
    """Write a configuration dict to ``path`` as YAML (readable by ``nequip-train -cn``)."""
    import yaml

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path
