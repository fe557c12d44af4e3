"""Random and flat-histogram splits (Castel et al. 2024, Fig. 3a)."""
import matplotlib

matplotlib.use("Agg")
import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator

from aseml_zif.data import plot_split_histogram, split_flat_histogram, split_random
from aseml_zif.errors import StructureError


@pytest.fixture
def gaussian_energies():
    return np.random.default_rng(42).normal(-220.9, 0.01, 5000)


def _bin_of(values, edges):
    return np.clip(np.searchsorted(edges, values, side="right") - 1, 0, len(edges) - 2)


def test_one_frame_per_non_empty_bin():
    # two clusters with a gap: the middle bins are empty, so fewer frames than requested
    rng = np.random.default_rng(0)
    e = np.concatenate([rng.uniform(0.0, 1.0, 300), rng.uniform(3.0, 4.0, 300)])
    train, test, val = split_flat_histogram(e, 40, 20, seed=3)
    edges = np.histogram_bin_edges(e, bins=40)
    non_empty = np.count_nonzero(np.histogram(e, bins=edges)[0])
    assert len(train) == non_empty < 40
    assert len(set(_bin_of(e[train], edges))) == len(train)
    remaining = np.setdiff1d(np.arange(len(e)), train)
    edges_test = np.histogram_bin_edges(e[remaining], bins=20)
    assert len(test) == np.count_nonzero(np.histogram(e[remaining], bins=edges_test)[0])
    assert len(set(_bin_of(e[test], edges_test))) == len(test)
    # a partition of all frames
    assert sorted(np.concatenate([train, test, val])) == list(range(len(e)))


def test_flatter_than_random(gaussian_energies):
    e = gaussian_energies
    flat, _, _ = split_flat_histogram(e, 100, 100, seed=0)
    rand, _, _ = split_random(e, len(flat), 100, seed=0)
    edges = np.linspace(e.min(), e.max(), 11)
    h_flat = np.histogram(e[flat], bins=edges)[0]
    h_rand = np.histogram(e[rand], bins=edges)[0]
    # flat histogram: near-uniform counts over the energy range; random: peaked like the data
    assert h_flat.std() / h_flat.mean() < 0.5 * h_rand.std() / h_rand.mean()
    assert np.ptp(e[flat]) > 0.95 * np.ptp(e)
    assert e[flat].std() > 1.5 * e[rand].std()


def test_seeded_and_reproducible(gaussian_energies):
    a = split_flat_histogram(gaussian_energies, 50, 30, seed=5)
    b = split_flat_histogram(gaussian_energies, 50, 30, seed=5)
    c = split_flat_histogram(gaussian_energies, 50, 30, seed=6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])
    r1, r2 = split_random(gaussian_energies, 50, 30, seed=1), split_random(gaussian_energies, 50, 30, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(r1, r2))
    assert [len(x) for x in r1] == [50, 30, 5000 - 80]


def test_frames_with_energies_per_atom():
    frames = []
    for k, n in enumerate([2, 4, 2, 4]):
        a = Atoms("H" * n, positions=np.zeros((n, 3)))
        a.calc = SinglePointCalculator(a, energy=float(n * k))  # k eV/atom
        frames.append(a)
    train, test, val = split_flat_histogram(frames, 4, 0, seed=0)
    assert list(train) == [0, 1, 2, 3] and len(test) == 0 and len(val) == 0
    with pytest.raises(StructureError, match="frame 1 has no energy"):
        split_random([frames[0], Atoms("H")], 1, 0)
    with pytest.raises(StructureError, match="cannot draw"):
        split_random(frames, 3, 2)


def test_histogram_plot(gaussian_energies):
    splits = split_flat_histogram(gaussian_energies, 60, 40, seed=0)
    ax = plot_split_histogram(gaussian_energies, splits)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "all" and labels[1].startswith("train (")
    assert "eV/atom" in ax.get_xlabel()
