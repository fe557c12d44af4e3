"""Split labelled frames into training/test/validation sets: flat-histogram vs random (paper Fig. 3a).

    python examples/flat_histogram_split.py frames.extxyz --n-train 200 --n-test 100
    python examples/flat_histogram_split.py run/ZIF4-300K run/ZIF4-1500K ...   # CP2K prefixes

Flat-histogram sampling (Castel et al. 2024): bin the energies per atom into as many bins as
requested samples and draw one frame per non-empty bin, so rare high-energy frames are as
represented as common ones. Without inputs, a toy set is made: EMT copper sampled at 300 K
(many frames) and 1500 K (few), where a random split misses the hot frames.
``--quick`` (or ASEML_ZIF_EXAMPLE_QUICK=1) makes the toy set small.
"""
import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from aseml_zif.data import (plot_split_histogram, read_cp2k, read_frames,  # noqa: E402
                            split_flat_histogram, split_random, write_frames)

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("inputs", nargs="*", help="extxyz/.db files or CP2K prefixes (default: toy set)")
parser.add_argument("--n-train", type=int, default=40)
parser.add_argument("--n-test", type=int, default=20)
parser.add_argument("--out", default="split_example", help="output folder")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("ASEML_ZIF_EXAMPLE_QUICK")))
args = parser.parse_args()


def toy_frames(n_cold, n_hot):
    """EMT Cu frames with energies: many from 300 K Langevin MD, few from 1500 K."""
    from ase import units
    from ase.build import bulk
    from ase.calculators.emt import EMT
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    frames = []
    for temperature, count in ((300, n_cold), (1500, n_hot)):
        atoms = bulk("Cu", cubic=True).repeat(2)
        atoms.calc = EMT()
        MaxwellBoltzmannDistribution(atoms, temperature_K=temperature, rng=np.random.default_rng(0))
        dyn = Langevin(atoms, 2 * units.fs, temperature_K=temperature, friction=0.05,
                       rng=np.random.default_rng(1))
        for _ in range(count):
            dyn.run(5)
            frame = atoms.copy()
            frame.calc = SinglePointCalculator(frame, energy=atoms.get_potential_energy(),
                                               forces=atoms.get_forces())
            frames.append(frame)
    return frames


if args.inputs:
    frames = []
    for item in args.inputs:
        frames += read_frames(item) if Path(item).is_file() else read_cp2k(item)
else:
    frames = toy_frames(*((120, 15) if args.quick else (600, 60)))

out = Path(args.out)
out.mkdir(parents=True, exist_ok=True)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, split) in zip(axes, (("flat histogram", split_flat_histogram), ("random", split_random))):
    train, test, validation = split(frames, args.n_train, args.n_test, seed=0)
    plot_split_histogram(frames, (train, test, validation), ax=ax)
    ax.set_title(name)
    energies = np.array([frames[i].get_potential_energy() / len(frames[i]) for i in train])
    print(f"{name:15s}: {len(train)} train, {len(test)} test, {len(validation)} validation; "
          f"train energy spread {1000 * energies.std():.1f} meV/atom")
    if split is split_flat_histogram:
        for label, idx in (("train", train), ("test", test), ("validation", validation)):
            write_frames([frames[i] for i in idx], out / f"{label}.extxyz")
fig.tight_layout()
fig.savefig(out / "split_histograms.png", dpi=150)
print(f"wrote {out}/train.extxyz, test.extxyz, validation.extxyz and split_histograms.png")
