"""The weights of a legacy (nequip ≤ 0.6) NequIP model placed in current nequip's own NequIP model.

A legacy ``nequip-deploy`` NequIP model (builders ``SimpleIrrepsConfig, EnergyModel,
PerSpeciesRescale, StressForceOutput, RescaleEnergyEtc``) computes the same function as
nequip ≥ 0.7's :func:`nequip.model.FullNequIPGNNModel` built with the legacy irreps, once its
weights are transformed where the two implementations normalise differently:

* one-hot chemical embedding ``Linear(n_types x0e → F x0e)`` → learned type embedding
  ``E = W / √n_types``; the self-connections, which took the one-hot types, take ``E`` instead:
  ``W′ = √(F / n_types) · pinv(E)`` contracted over the type index (exact while ``E`` has full
  row rank, i.e. always for n_types ≤ F with trained weights; checked);
* trainable Bessel frequencies: legacy ``sin(w r / r_max)``, current ``sinc(w′ r / r_max)``:
  ``w′ = w / π``;
* radial MLP: e3nn's ``FullyConnectedNet`` applies ``c·silu`` with ``c`` the second-moment
  normalisation constant of silu (read from the legacy file) and its ``var_in``/``var_out``
  factors; nequip's ``ScalarMLPFunction`` applies plain silu and a gain √2 after the first
  layer: each weight matrix is rescaled accordingly;
* last interaction layer: legacy keeps all irreps, but the readout reads only its scalars;
  current nequip requires a scalar-only last layer, so only the blocks that lead to scalars
  are kept (the radial-MLP columns of those tensor-product paths, the ``0e`` blocks of
  ``linear_2`` and of the self-connection) — exact;
* readout: the two bias-free linears ``F x0e → H x0e → 1`` collapse into one;
* energies: per-species scales/shifts times the global ``scale_by`` become nequip's
  ``per_type_energy_scales``/``per_type_energy_shifts``.

Blocks of e3nn weights are located with ``weight_views(yield_instruction=True)`` on modules
built with the legacy irreps and matched by ``(i_in1, i_in2, ir_out)``; every parameter of the
new model is checked to have been set.
"""
import math

import numpy as np

from ..errors import ModelError

__all__ = ["build_current_nequip"]


def _legacy_tensor(state, key, path):
    import torch

    if key not in state:
        raise ModelError(f"{path}: legacy model has no parameter {key!r}: not a NequIP model "
                         "this converter knows")
    return state[key].detach().to("cpu", torch.float64)


def _silu_constant(fc_layer, path):
    """The constant ``c`` of e3nn's ``normalize2mom(silu)`` baked into a legacy radial MLP layer."""
    try:
        constants = fc_layer.act.code_with_constants[1]
        return float(constants.c0)
    except (AttributeError, RuntimeError) as exc:
        raise ModelError(f"{path}: cannot read the radial MLP's activation constant") from exc


def _radial_weights(fc, state, prefix, path):
    """Legacy e3nn FullyConnectedNet weights rescaled for nequip's ScalarMLPFunction."""
    layers = []
    k = 0
    while f"{prefix}.layer{k}.weight" in state:
        layers.append(getattr(fc, f"layer{k}"))
        k += 1
    if not layers:
        raise ModelError(f"{path}: legacy radial MLP {prefix} has no layers")
    weights = []
    c = _silu_constant(layers[0], path) if len(layers) > 1 else 1.0
    for k, layer in enumerate(layers):
        w = _legacy_tensor(state, f"{prefix}.layer{k}.weight", path)
        var_in, var_out = float(layer.var_in), float(layer.var_out)
        last = k == len(layers) - 1
        factor = 1.0 / math.sqrt(var_in)
        if k > 0:  # input is c·silu(z)·√var_out(previous) in legacy, √2·silu(z) in nequip
            factor *= c * math.sqrt(float(layers[k - 1].var_out)) / math.sqrt(2.0)
        if last:
            factor *= math.sqrt(var_out)
        weights.append(w * factor)
    return weights


def _tp_columns(tp):
    """Column slice of the external weights of every weighted instruction, keyed by path."""
    out, start = {}, 0
    for ins in tp.instructions:
        if not ins.has_weight:
            continue
        size = int(np.prod(ins.path_shape))
        out[(ins.i_in1, ins.i_in2, tp.irreps_out[ins.i_out].ir)] = slice(start, start + size)
        start += size
    return out


def _blocks(module, weight, two_inputs):
    """Weight views of an e3nn Linear (one input) or tensor product (two), keyed by path."""
    views = {}
    for _, ins, view in module.weight_views(weight=weight, yield_instruction=True):
        if two_inputs:
            key = (ins.i_in1, ins.i_in2, module.irreps_out[ins.i_out].ir)
        else:
            key = (ins.i_in, module.irreps_out[ins.i_out].ir)
        views.setdefault(key, []).append(view)
    return views


def _copy_blocks(source_module, source_weight, target_module, two_inputs):
    """Target weight (flat) from the source's blocks, each cut to the target's multiplicities.

    Output irreps of the source may have larger multiplicities (legacy scalars + gates); the
    kept leading channels are the scalars, which is what a scalar-only layer computes.
    """
    import torch

    target = torch.zeros_like(target_module.weight, dtype=torch.float64)
    src = _blocks(source_module, source_weight, two_inputs)
    dst = _blocks(target_module, target, two_inputs)
    for key, views in dst.items():
        if key not in src or len(src[key]) != len(views):
            raise ModelError(f"no legacy weights for path {key} of {type(target_module).__name__}")
        for s, d in zip(src[key], views):
            index = tuple(slice(0, n) for n in d.shape)
            d.copy_(s[index])
    return target


def _sc_from_one_hot(sc_onehot, w_legacy, sc_embed, embedding):
    """Self-connection weights for embedded node attributes from one-hot ones (exact)."""
    import torch

    n_types, n_embed = embedding.shape
    pinv = torch.linalg.pinv(embedding)  # (n_embed, n_types), embedding @ pinv = 1
    if not torch.allclose(embedding @ pinv, torch.eye(n_types, dtype=embedding.dtype), atol=1e-10):
        raise ModelError("the legacy type embedding does not have full row rank: the "
                         "self-connection cannot be moved onto learned type embeddings exactly")
    target = torch.zeros(sc_embed.weight.numel(), dtype=torch.float64)
    src = _blocks(sc_onehot, w_legacy, True)
    dst = _blocks(sc_embed, target, True)
    scale = math.sqrt(n_embed / n_types)
    for key, views in dst.items():
        for s, d in zip(src[key], views):
            d.copy_(scale * torch.einsum("utw,bt->ubw", s, pinv))
    return target


def build_current_nequip(module, settings, dtype, path):
    """A current nequip GraphModel with the weights of a legacy NequIP TorchScript module.

    Parameters
    ----------
    module : torch.jit.ScriptModule
        The legacy deployed model (``RescaleOutput`` around ``StressOutput``).
    settings : dict
        Architecture read and checked by :mod:`aseml_zif.calculator.convert`: ``type_names``,
        ``r_max``, ``num_layers``, ``feature_irreps_hidden``, ``irreps_edge_sh``,
        ``num_basis``, ``bessel_trainable``, ``polynomial_p``, ``radial_depth``,
        ``radial_width``, ``avg_num_neighbors``, ``use_sc``.
    dtype : {"float32", "float64"}
        Precision of the new model.
    path : pathlib.Path
        The legacy file (for error messages).

    Returns
    -------
    nequip.nn.GraphModel
    """
    import torch
    from e3nn import o3
    from e3nn.o3 import FullyConnectedTensorProduct, Linear
    from nequip.model import FullNequIPGNNModel
    from nequip.nn import ConvNetLayer

    state = {k: v for k, v in module.state_dict().items()}
    func = module.model.func
    f = "model.func."
    n_types = len(settings["type_names"])
    hidden = o3.Irreps(settings["feature_irreps_hidden"])
    scalars = o3.Irreps([(mul, ir) for mul, ir in hidden if ir == o3.Irrep("0e")])
    n_layers = settings["num_layers"]

    embed = _legacy_tensor(state, f + "chemical_embedding.linear.weight", path)
    n_embed = embed.numel() // n_types
    embedding = embed.reshape(n_types, n_embed) / math.sqrt(n_types)

    scale_by = float(state["scale_by"]) if state["scale_by"].numel() else 1.0
    scales = _legacy_tensor(state, f + "per_species_rescale.scales", path).reshape(-1)
    shifts = _legacy_tensor(state, f + "per_species_rescale.shifts", path).reshape(-1)
    scales = (scales.expand(n_types) if scales.numel() == 1 else scales) * scale_by
    shifts = (shifts.expand(n_types) if shifts.numel() == 1 else shifts) * scale_by

    kwargs = dict(
        type_names=list(settings["type_names"]),
        r_max=settings["r_max"],
        feature_irreps_hidden=[str(hidden)] * (n_layers - 1) + [str(scalars)],
        irreps_edge_sh=settings["irreps_edge_sh"],
        type_embed_num_features=n_embed,
        radial_mlp_depth=[settings["radial_depth"]] * n_layers,
        radial_mlp_width=[settings["radial_width"]] * n_layers,
        num_bessels=settings["num_basis"],
        bessel_trainable=settings["bessel_trainable"],
        polynomial_cutoff_p=settings["polynomial_p"],
        avg_num_neighbors=settings["avg_num_neighbors"],
        per_type_energy_scales=dict(zip(settings["type_names"], scales.tolist())),
        per_type_energy_shifts=dict(zip(settings["type_names"], shifts.tolist())),
        convnet_sc=settings["use_sc"],
        learnable_shift=settings["use_sc"],  # legacy layer 0 has a self-connection too
    )
    model = FullNequIPGNNModel(seed=0, model_dtype="float64", **kwargs)
    net = model.model.func
    new = {}

    new["type_embed.embed_module.weight"] = embedding
    bessel = _legacy_tensor(state, f + "radial_basis.basis.bessel_weights", path)
    new["bessel_encode.bessel_weights"] = (bessel / math.pi).reshape(net.bessel_encode.bessel_weights.shape)

    for i in range(n_layers):
        name = f"layer{i}_convnet"
        lp = f"{f}{name}.conv."
        target_layer = getattr(net, name)
        legacy_conv = getattr(func, name).conv
        last = i == n_layers - 1
        if last:  # the same layer with the legacy (full) irreps, to read the legacy blocks
            reference = ConvNetLayer(
                irreps_in=target_layer.irreps_in,
                feature_irreps_hidden=hidden,
                convolution_kwargs=dict(
                    radial_mlp_depth=settings["radial_depth"],
                    radial_mlp_width=settings["radial_width"],
                    use_sc=settings["use_sc"],
                    is_first_layer=i == 0,
                    avg_num_neighbors=settings["avg_num_neighbors"],
                    type_names=list(settings["type_names"]),
                ),
            ).conv
        else:
            reference = target_layer.conv
        conv = target_layer.conv
        np_ = f"{name}.conv."

        new[np_ + "linear_1.weight"] = _legacy_tensor(state, lp + "linear_1.weight", path)
        radial = _radial_weights(legacy_conv.fc, state, lp + "fc", path)
        if last:
            columns_ref = _tp_columns(reference.tp_scatter.tp)
            columns_new = _tp_columns(conv.tp_scatter.tp)
            keep = np.concatenate([np.arange(columns_ref[key].start, columns_ref[key].stop)
                                   for key in sorted(columns_new, key=lambda k: columns_new[k].start)])
            radial[-1] = radial[-1][:, torch.as_tensor(keep)]
        mlp_layers = [k for k, m in enumerate(conv.edge_mlp.mlp) if hasattr(m, "weight")]
        if len(mlp_layers) != len(radial):
            raise ModelError(f"{path}: radial MLP of {name} has {len(radial)} layers, expected "
                             f"{len(mlp_layers)}")
        for k, w in zip(mlp_layers, radial):
            new[np_ + f"edge_mlp.mlp.{k}.weight"] = w

        linear_2 = _legacy_tensor(state, lp + "linear_2.weight", path)
        if last:
            linear_2 = _copy_blocks(reference.linear_2, linear_2, conv.linear_2, two_inputs=False)
        new[np_ + "linear_2.weight"] = linear_2

        if settings["use_sc"]:
            sc_legacy = _legacy_tensor(state, lp + "sc.weight", path)
            one_hot_sc = FullyConnectedTensorProduct(
                reference.sc.irreps_in1, o3.Irreps(f"{n_types}x0e"), reference.sc.irreps_out
            )
            if one_hot_sc.weight.numel() != sc_legacy.numel():
                raise ModelError(f"{path}: self-connection of {name} does not have the shape "
                                 "of a one-hot-typed NequIP layer")
            sc = _sc_from_one_hot(one_hot_sc, sc_legacy, reference.sc, embedding)
            if last:
                sc = _copy_blocks(reference.sc, sc, conv.sc, two_inputs=True)
            new[np_ + "sc.weight"] = sc

    w1 = _legacy_tensor(state, f + "conv_to_output_hidden.linear.weight", path)
    w2 = _legacy_tensor(state, f + "output_hidden_to_scalar.linear.weight", path)
    n_hidden = w2.numel()
    readout = Linear(scalars, o3.Irreps(f"{n_hidden}x0e"))
    if readout.weight.numel() != w1.numel():
        raise ModelError(f"{path}: readout reads more than the {scalars} scalars")
    w = w1.reshape(scalars.dim, n_hidden) @ w2.reshape(n_hidden, 1) / math.sqrt(n_hidden)
    new["per_atom_energy_readout.mlp_module.mlp.0.weight"] = w

    params = dict(net.named_parameters())
    missing = sorted(set(params) - set(new))
    extra = sorted(set(new) - set(params))
    if missing or extra:
        raise ModelError(f"{path}: converted weights do not match the new model "
                         f"(unset: {missing[:5]}, unknown: {extra[:5]})")
    with torch.no_grad():
        for key, value in new.items():
            if params[key].numel() != value.numel():
                raise ModelError(f"{path}: {key} has {value.numel()} values, the new model "
                                 f"{params[key].numel()}")
            params[key].copy_(value.reshape(params[key].shape))
    if dtype == "float32":
        model = FullNequIPGNNModel(seed=0, model_dtype="float32", **kwargs)
        model.load_state_dict(_float64_state(net, model))
    return model


def _float64_state(source_net, target):
    """State dict of ``target`` with the parameters of ``source_net`` (float64 model)."""
    state = target.state_dict()
    for key, value in source_net.named_parameters():
        full = "model.func." + key
        state[full] = value.detach().to(state[full].dtype)
    return state
