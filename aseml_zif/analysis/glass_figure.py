"""The paper's Figs. 6–8 for melt-quenched ZIF-4 against the ab initio glasses (Castel et al.,
Digital Discovery 3, 355 (2024)): partial RDFs and their potentials of mean force, the N–Zn–N
angle distribution and its PMF, and the ring-size histogram.

:func:`structure_profiles` computes these curves for one glass, :func:`plot_profiles` draws the
reference glasses (mean ± sd) against the runs in one figure.
"""
import numpy as np

from .frames import _evenly_spaced

__all__ = ["structure_profiles", "plot_profiles"]


def structure_profiles(frames, pairs=(("Zn", "N"), ("Zn", "Zn")), temperature=300.0,
                       zn_n_cutoff=2.5, max_ring_frames=10):
    """Curves of the paper's Figs. 6–8 for one glass: partial RDFs and PMFs, N–Zn–N angles, rings.

    Parameters
    ----------
    frames : ase.Atoms or list of ase.Atoms
    pairs : sequence of (str, str)
        Element pairs of the RDFs (0–10 Å, 200 bins).
    temperature : float
        Temperature of the potentials of mean force, K.
    zn_n_cutoff : float
        Zn–N bond cut-off of the angles and rings, Å.
    max_ring_frames : int
        Rings are averaged over at most this many frames, evenly spread.

    Returns
    -------
    dict
        ``r`` (Å), ``g`` and ``pmf`` (kJ/mol, NaN where g = 0; one array per pair), ``theta``
        (degrees), ``p_theta`` and ``pmf_theta`` (kJ/mol, NaN where unsampled), ``rings``
        (``{size: rings per Zn}``).
    """
    from . import RDF, BondAngles, RingStatistics

    frames = [frames] if not isinstance(frames, (list, tuple)) else list(frames)
    rdfs = [RDF(pair, r_max=10.0).compute(frames) for pair in pairs]
    angles = BondAngles("Zn", "N", zn_n_cutoff).compute(frames)
    heavy = [frames[k] for k in _evenly_spaced(len(frames), max_ring_frames)]
    rings = RingStatistics(zn_n_cutoff=zn_n_cutoff).compute(heavy, progress=False).counts_per_zn

    def finite(pmf):
        return np.where(np.isfinite(pmf), pmf, np.nan)

    return {"r": rdfs[0].bin_centers, "g": [r.rdf for r in rdfs],
            "pmf": [finite(r.pmf(temperature)) for r in rdfs], "theta": angles.bin_centers,
            "p_theta": angles.distribution, "pmf_theta": finite(angles.pmf(temperature)),
            "rings": rings}


def plot_profiles(reference, runs, pairs):
    """The paper's Figs. 6–8 in one figure: reference glasses (mean ± sd) against runs.

    Rows: partial g(r), their PMFs (kJ/mol), then the N–Zn–N angle distribution, its PMF and
    the ring-size histogram (rings per Zn); one column per pair.

    Parameters
    ----------
    reference : list of dict
        :func:`structure_profiles` of each reference glass (drawn as mean ± standard deviation).
    runs : list of (str, dict)
        Label and :func:`structure_profiles` of each structure to compare (one line each).
    pairs : sequence of (str, str)
        The pairs the profiles were computed for (the figure has at least three columns).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import warnings

    from matplotlib.figure import Figure

    ref = reference
    ncols = max(3, len(pairs))
    fig = Figure(figsize=(4.2 * ncols, 10))
    axes = fig.subplots(3, ncols, squeeze=False)

    def band(ax, x, curves, label):
        curves = np.asarray(curves, dtype=float)
        with warnings.catch_warnings():  # columns where no glass has a finite PMF
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, sd = np.nanmean(curves, axis=0), np.nanstd(curves, axis=0)
        ax.plot(x, mean, "k-", lw=1, label=label)
        ax.fill_between(x, mean - sd, mean + sd, color="0.6", alpha=0.5, lw=0)

    label = f"ab initio glasses (mean ± sd, n={len(ref)})"
    for col, pair in enumerate(pairs):
        for row, key, ylabel in ((0, "g", "g(r)"), (1, "pmf", "PMF (kJ/mol)")):
            ax = axes[row, col]
            band(ax, ref[0]["r"], [c[key][col] for c in ref], label)
            for k, (name, c) in enumerate(runs):
                ax.plot(c["r"], c[key][col], f"C{k}-", lw=1, label=name)
            ax.set(xlabel="r (Å)", ylabel=f"{'–'.join(pair)} {ylabel}")
        axes[1, col].set_ylim(-1, 25)
    ax_p, ax_f, ax_r = axes[2, 0], axes[2, 1], axes[2, -1]
    band(ax_p, ref[0]["theta"], [c["p_theta"] for c in ref], label)
    band(ax_f, ref[0]["theta"], [c["pmf_theta"] for c in ref], label)
    for k, (name, c) in enumerate(runs):
        ax_p.plot(c["theta"], c["p_theta"], f"C{k}-", lw=1, label=name)
        ax_f.plot(c["theta"], c["pmf_theta"], f"C{k}-", lw=1, label=name)
    ax_p.set(xlim=(60, 160), xlabel="N–Zn–N angle (°)", ylabel="distribution")
    ax_f.set(xlim=(60, 160), ylim=(-1, 25), xlabel="N–Zn–N angle (°)", ylabel="PMF (kJ/mol)")
    sizes = sorted({int(s) for c in ref + [c for _, c in runs] for s in c["rings"]})
    counts = np.array([[c["rings"].get(s, 0.0) for s in sizes] for c in ref])
    width = 0.8 / (1 + len(runs))
    ax_r.bar(np.arange(len(sizes)), counts.mean(axis=0), width, yerr=counts.std(axis=0),
             color="0.6", label="ab initio glasses")
    for k, (name, c) in enumerate(runs):
        ax_r.bar(np.arange(len(sizes)) + (k + 1) * width, [c["rings"].get(s, 0.0) for s in sizes],
                 width, color=f"C{k}", label=name)
    ax_r.set(xticks=np.arange(len(sizes)), xticklabels=sizes, xlabel="ring size (Zn + Im nodes)",
             ylabel="rings per Zn")
    for ax in axes.flat:
        if ax.has_data():
            ax.legend(fontsize="x-small")
        else:
            ax.set_axis_off()
    fig.tight_layout()
    return fig
