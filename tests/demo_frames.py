"""Rattled copies of the built-in ZIF-4 crystal labelled by the shipped demo model: cheap,
self-consistent training and evaluation frames for tests of the training tools."""
import numpy as np

import aseml_zif
from aseml_zif.data import label
from aseml_zif.structures import zif4_crystal


def demo_labelled_crystals(sigmas, path, seed=0):
    """One crystal copy per Gaussian displacement σ (Å) in ``sigmas``, labelled by the demo
    model and written to ``path`` (extxyz); returns the labelled frames."""
    rng = np.random.default_rng(seed)
    frames = []
    for sigma in sigmas:
        atoms = zif4_crystal()
        atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
        frames.append(atoms)
    return label(frames, aseml_zif.load_potential("demo", device="cpu"), path, progress=False)
