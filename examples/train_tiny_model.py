"""Train a tiny NequIP model on ZIF-4 frames labelled by a teacher potential, then package, load
and evaluate it: the paper's training pipeline (Sec. 2.3) in miniature.

    python examples/train_tiny_model.py --teacher nequip_l2r6stress0.pth --frames 60 --epochs 50

Frames are the crystal with random displacements of growing amplitude (0.02–0.15 Å), a stand-in
for AIMD frames at several temperatures; they are labelled (resumably) by the teacher, split by
flat-histogram sampling, trained with nequip's own ``nequip-train`` (l_max 1, r_max 4 Å, 2 layers,
8 features) and packaged with ``nequip-package``. ``--quick`` (or ASEML_ZIF_EXAMPLE_QUICK=1):
8 frames, 30 epochs (seconds) — a model that has learnt something (its force error is a
fraction of that of predicting zero forces), not a useful one.
"""
import argparse
import os
from pathlib import Path

import numpy as np

from aseml_zif import load_potential
from aseml_zif.data import label, split_flat_histogram, write_frames
from aseml_zif.structures import zif4_crystal
from aseml_zif.training import evaluate, package, train, training_config

parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
parser.add_argument("--teacher", default="demo", help="labelling potential: 'demo' or a model file")
parser.add_argument("--frames", type=int, default=60, help="number of frames to label")
parser.add_argument("--epochs", type=int, default=50, help="maximum training epochs")
parser.add_argument("--workdir", default="tiny_model", help="output folder")
parser.add_argument("--quick", action="store_true", default=bool(os.environ.get("ASEML_ZIF_EXAMPLE_QUICK")))
args = parser.parse_args()
n_frames, epochs = (8, 30) if args.quick else (args.frames, args.epochs)
workdir = Path(args.workdir)
workdir.mkdir(parents=True, exist_ok=True)

# 1. frames and their labels (rerunning skips frames already labelled)
crystal = zif4_crystal()
frames = []
for k, amplitude in enumerate(np.linspace(0.02, 0.15, n_frames)):
    atoms = crystal.copy()
    atoms.rattle(stdev=amplitude, seed=k)
    frames.append(atoms)
labelled = label(frames, load_potential(args.teacher), workdir / "labelled.extxyz")

# 2. flat-histogram split: one frame per energy bin for training, then for test
n_train, n_test = max(2, n_frames // 2), max(2, n_frames // 4)
splits = split_flat_histogram(labelled, n_train, n_test, seed=0)
files = {}
for name, idx in zip(("train", "test", "validation"), splits):
    files[name] = workdir / f"{name}.extxyz"
    write_frames([labelled[i] for i in idx], files[name])
print({name: len(idx) for name, idx in zip(("train", "test", "validation"), splits)})

# 3. nequip-train with the paper's settings, made tiny; then nequip-package
config = training_config(files["train"], files["validation"], files["test"], l_max=1, r_max=4.0,
                         num_layers=2, num_features=8, max_epochs=epochs)
run = train(config, workdir / "run")
model = package(run.best_checkpoint, workdir / "tiny.nequip.zip")

# 4. load it like any deployed model and compare with the teacher on the test frames
metrics = evaluate(load_potential(model), [labelled[i] for i in splits[1]])
print(f"{model}: energy MAE {metrics['energy_mae_meV_per_atom']:.1f} meV/atom, "
      f"force MAE {metrics['force_mae_meV_per_A']:.0f} meV/Å against the teacher")
