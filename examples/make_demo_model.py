"""Make the embedded demo model ``data/demo_model/zif4_demo.nequip.zip`` (teacher–student).

The paper's NequIP model (Castel et al., Digital Discovery 3, 355 (2024)) is the teacher: it
labels ZIF-4 frames (crystal, the ten ab initio glasses, rattled and strained copies, then hot
frames from MD run with the student itself), and a small, fast NequIP student is trained on them
with ``nequip-train`` and packaged with ``nequip-package``. The shipped file was made with
these stages (each resumable), on a 2-core CPU with ``OMP_NUM_THREADS=1`` (2 for training on an
otherwise idle machine; threads fighting over busy cores made training ~10x slower)::

    # round 0: static frames; round 1: a first student's Langevin MD
    python make_demo_model.py frames0 round0_input.xyz                  # 72 frames
    python make_demo_model.py label round0_input.xyz round0_labelled.xyz
    python make_demo_model.py train v1 25 round0_labelled.xyz            # stopped at epoch 13
    python make_demo_model.py hot v1/run/best.ckpt hot1_input.xyz \\
        --temperatures 600 --steps 300 --every 75                        # stopped after 2 frames
    python make_demo_model.py hot v1/run/best.ckpt hot1_input.xyz \\
        --temperatures 900 1200 1500 --steps 150 --every 50
    python make_demo_model.py label hot1_input.xyz hot1_labelled.xyz
    python make_demo_model.py train v2 12 round0_labelled.xyz hot1_labelled.xyz \\
        --init v1/run/best.ckpt --seen v1/train.xyz
    python make_demo_model.py train v3 25 round0_labelled.xyz hot1_labelled.xyz \\
        --init v2/run/best.ckpt --seen v1/train.xyz --learning-rate 0.005
    # rounds 2-4: the student's own 6000-step melt-quench (aseml-zif demo), labelled by the
    # teacher, including the watchdog snapshot where the student broke a linker
    python -c "from aseml_zif.training import package; package('v3/run/best.ckpt', 'v3.nequip.zip')"
    aseml-zif demo --model v3.nequip.zip --out d1500 --t-max 1500 --seed 1   # broke at step 2250
    aseml-zif demo --model v3.nequip.zip --out d1200 --t-max 1200 --seed 2   # CN 3.0 at the end
    python make_demo_model.py pick a_input.xyz d1500                     # 39 frames
    python make_demo_model.py pick b_input.xyz d1200 --every 2           # 51 frames
    python make_demo_model.py label a_input.xyz a_labelled.xyz            # (and b)
    python make_demo_model.py train v4 20 round0_labelled.xyz hot1_labelled.xyz \\
        a_labelled.xyz b_labelled.xyz --init v3/run/best.ckpt --seen v3/train.xyz \\
        --learning-rate 0.005
    # v4 (packaged likewise): e1500 (seed 1) broke at step 2820, e1200 (seed 2) at step 3090
    python make_demo_model.py pick c_input.xyz e1500 --rattled 3         # 51 frames
    python make_demo_model.py pick d_input.xyz e1200 --rattled 3         # 56 frames
    python make_demo_model.py train v5 40 ... c_labelled.xyz d_labelled.xyz \\
        --init v4/run/best.ckpt --seen v4/train.xyz --learning-rate 0.005
    # v5: f1500 (seed 1) and f1200 (seed 2) ran through; f1500s3 (seed 3) broke at step 2520
    python make_demo_model.py pick g_input.xyz f1500 f1200 --every 10    # 22 frames
    python make_demo_model.py pick h_input.xyz f1500s3 --rattled 3       # 46 frames
    python make_demo_model.py train v6 30 ... g_labelled.xyz h_labelled.xyz \\
        --init v5/run/best.ckpt --seen v5/train.xyz --learning-rate 0.005
    python make_demo_model.py deploy v6 ../data/demo_model/zif4_demo.nequip.zip

(``...``: all earlier labelled files. The round-0 labelling was stopped after 56 of the 72
frames, when v1 was 23 frames in; v1's training frames are the first 19 labelled. The rattled
copies of rounds 2-3 were drawn by an earlier version of ``pick`` with another random stream.)

``ASEML_ZIF_SHARED_DATA`` points to the published data (default ``../shared/data/castel2024``
next to the repository).
"""
import argparse
import json
import os
from pathlib import Path

import numpy as np
from ase import units

SHARED = Path(os.environ.get("ASEML_ZIF_SHARED_DATA",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "castel2024"))
TEACHER = SHARED / "model" / "nequip_l2r6stress0.pth"
STUDENT = dict(r_max=4.0, l_max=1, parity=True, num_layers=3, num_features=16,
               radial_mlp_depth=1, radial_mlp_width=32, learning_rate=0.01, batch_size=1,
               patience=30, energy_weight=10.0, stress_weight=1.0)


def unlabelled_copy(atoms, source):
    """A wrapped copy without calculator results or custom masses, tagged with ``source``."""
    frame = atoms.copy()  # Atoms.copy leaves the calculator (the student's results) behind
    frame.set_masses(None)
    frame.info = {"source": source}
    frame.wrap()
    return frame


def rattled(atoms, sigma, rng):
    """A copy of ``atoms`` with Gaussian displacements of ``sigma`` Å per component (not wrapped)."""
    frame = atoms.copy()
    frame.positions += rng.normal(0.0, sigma, frame.positions.shape)
    return frame


def random_strain(rng, normal=0.04, shear=0.02):
    """A random symmetric deformation matrix: diagonal within ±``normal``, off-diagonal ±``shear``."""
    strain = np.eye(3) + np.diag(rng.uniform(-normal, normal, 3))
    off = rng.uniform(-shear, shear, 3)
    strain[0, 1] = strain[1, 0] = off[0]
    strain[0, 2] = strain[2, 0] = off[1]
    strain[1, 2] = strain[2, 1] = off[2]
    return strain


def base_structures():
    """The shared thermal crystal, the experimental crystal and the ten ab initio glasses."""
    from aseml_zif.io import read_structure

    paths = [SHARED / "structures" / "zif4_crystal.lmp", SHARED / "structures" / "zif4_crystal_exp.cif"]
    paths += sorted((SHARED / "structures" / "abinitio_glasses").glob("ZIF4_15glass*.cif"))
    names = ["crystal_lmp", "crystal_exp"] + [p.stem for p in paths[2:]]
    return [(n, read_structure(p)) for n, p in zip(names, paths)]


def frames0(output, seed=2024):
    """Bases, rattled copies (σ = 0.03, 0.06, 0.10 Å) and strained+rattled copies (±4 %, ±2 % shear)."""
    from aseml_zif.data import write_frames

    bases = base_structures()
    rng = np.random.default_rng(seed)
    frames = []
    for name, a in bases:
        b = a.copy()
        b.info = {"source": name}
        frames.append(b)
    for sigma in (0.03, 0.06, 0.10):
        for name, a in bases:
            b = rattled(a, sigma, rng)
            b.info = {"source": f"{name}_rattle{sigma}"}
            frames.append(b)
    for _ in range(2):
        for name, a in bases:
            b = a.copy()
            b.set_cell(b.cell[:] @ random_strain(rng), scale_atoms=True)
            b = rattled(b, 0.04, rng)
            b.info = {"source": f"{name}_strain"}
            frames.append(b)
    rest = frames[len(bases):]  # shuffled so that an early stop still covers every kind
    frames = frames[:len(bases)] + [rest[i] for i in rng.permutation(len(rest))]
    for f in frames:
        f.wrap()
    write_frames(frames, output)


def label(inp, out):
    import aseml_zif
    from aseml_zif.data import label as label_frames, read_frames

    label_frames(read_frames(inp), aseml_zif.load_potential(TEACHER, device="cpu"), out)


def train(name, epochs, files, init=None, seen=None, learning_rate=None, seed=1):
    """Held-out test and validation sets drawn by flat-histogram sampling; the rest trains.

    ``init``: checkpoint to continue from (next active-learning round); ``seen``: the training
    file of that checkpoint, whose frames are kept out of the new test and validation sets so
    that the held-out errors stay honest.
    """
    from aseml_zif.data import read_frames, split_flat_histogram, write_frames
    from aseml_zif.training import train as nequip_train, training_config

    frames = [f for p in files for f in read_frames(p)]
    trained_on = {f.positions.round(4).tobytes() for f in read_frames(seen)} if seen else set()
    fresh = np.array([k for k, f in enumerate(frames)
                      if f.positions.round(4).tobytes() not in trained_on])
    n_hold = max(2, len(frames) // 10)
    test, val, _ = split_flat_histogram([frames[k] for k in fresh], n_hold, n_hold, seed=seed)
    test, val = fresh[test], fresh[val]
    rest = np.setdiff1d(np.arange(len(frames)), np.concatenate([test, val]))
    Path(name).mkdir(exist_ok=True)
    for part, idx in (("train", rest), ("val", val), ("test", test)):
        write_frames([frames[i] for i in idx], f"{name}/{part}.xyz")
    print(f"train/val/test: {len(rest)}/{len(val)}/{len(test)}", flush=True)
    hyper = {**STUDENT, **({"learning_rate": learning_rate} if learning_rate else {})}
    cfg = training_config(f"{name}/train.xyz", f"{name}/val.xyz", f"{name}/test.xyz", seed=7,
                          max_epochs=epochs, initial_checkpoint=init, **hyper)
    print(nequip_train(cfg, f"{name}/run", hyperparameters=hyper))


def hot(model, output, temperatures=(600, 900, 1200, 1500), steps=300, every=75, seed=5):
    """Langevin MD (0.5 fs, H with the deuterium mass as in the AIMD) with the student itself."""
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import MaxwellBoltzmannDistribution

    import aseml_zif
    from aseml_zif.data.store import append_frame
    from aseml_zif.neighbors import neighbor_list

    calc = aseml_zif.load_potential(model, device="cpu")
    bases = base_structures()
    rng = np.random.default_rng(seed)
    for k, T in enumerate(temperatures):
        name, start = bases[(2 * k) % len(bases)]
        atoms = start.copy()
        masses = atoms.get_masses()
        masses[atoms.numbers == 1] = 2.014
        atoms.set_masses(masses)
        atoms.calc = calc
        MaxwellBoltzmannDistribution(atoms, temperature_K=T, rng=rng)
        dyn = Langevin(atoms, 0.5 * units.fs, temperature_K=T, friction=0.01 / units.fs,
                       rng=rng)
        for block in range(steps // every):
            dyn.run(every)
            d = neighbor_list(atoms, 0.8, "d")[0]
            fmax = np.abs(atoms.get_forces()).max()
            print(f"{name} {T} K step {(block + 1) * every}: T={atoms.get_temperature():.0f} K "
                  f"fmax={fmax:.1f} eV/Å, pairs<0.8 Å: {len(d)}", flush=True)
            if len(d):
                break  # the student fell apart: keep what came before
            append_frame(unlabelled_copy(atoms, f"{name}_md{T}K_step{(block + 1) * every}"),
                         output)


def pick(output, run_dirs, every=1, n_rattled=0, sigma=0.05, seed=11):
    """Frames of student melt-quench runs (``aseml-zif demo --model STUDENT --out RUN``) to label.

    Every ``every``-th saved frame of ``RUN/md/trajectory.traj`` (and its last one), the
    watchdog snapshot where the student broke a linker, and ``n_rattled`` copies of that
    snapshot with Gaussian displacements of ``sigma`` Å: the teacher's labels there teach the
    student the short-range repulsion it lacked.
    """
    from ase.io import read

    from aseml_zif.data import write_frames

    rng = np.random.default_rng(seed)
    frames = []
    for run in map(Path, run_dirs):
        trajectory = read(run / "md" / "trajectory.traj", ":")
        chosen = sorted(set(range(every - 1, len(trajectory), every)) | {len(trajectory) - 1})
        frames += [unlabelled_copy(trajectory[k], f"{run.name}_step{trajectory[k].info['step']}")
                   for k in chosen]
        snapshot = run / "md" / "watchdog_snapshot.traj"
        if snapshot.exists():
            broken = unlabelled_copy(read(snapshot), f"{run.name}_watchdog")
            frames.append(broken)
            for k in range(n_rattled):
                copy = rattled(unlabelled_copy(broken, f"{run.name}_watchdog_rattle{k}"), sigma, rng)
                copy.wrap()
                frames.append(copy)
    print(f"{len(frames)} frames", flush=True)
    write_frames(frames, output)


def deploy(name, output):
    """Package the best checkpoint, evaluate it on the held-out frames, time it and the teacher."""
    import aseml_zif
    from aseml_zif.data import read_frames
    from aseml_zif.training import efficiency, evaluate, package

    zip_path = package(Path(name) / "run" / "best.ckpt", output)
    test = read_frames(Path(name) / "test.xyz")
    student = aseml_zif.load_potential(zip_path, device="cpu")
    result = {"student": evaluate(student, test, timing_calls=300, warmup_calls=6)}
    teacher = aseml_zif.load_potential(TEACHER, device="cpu")
    result["teacher_us_per_atom_per_call"] = efficiency(teacher, test[0], n_calls=5, n_warmup=2)
    result["n_train"] = len(read_frames(Path(name) / "train.xyz"))
    result["n_val"] = len(read_frames(Path(name) / "val.xyz"))
    result["n_test"] = len(test)
    result["size_bytes"] = zip_path.stat().st_size
    print(json.dumps(result, indent=1))
    Path(name, "deploy.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="stage", required=True)
    sub.add_parser("frames0").add_argument("output")
    p = sub.add_parser("label")
    p.add_argument("inp")
    p.add_argument("out")
    p = sub.add_parser("train")
    p.add_argument("name")
    p.add_argument("epochs", type=int)
    p.add_argument("files", nargs="+")
    p.add_argument("--init", help="checkpoint to continue from")
    p.add_argument("--seen", help="training frames of that checkpoint (kept out of test/val)")
    p.add_argument("--learning-rate", type=float)
    p = sub.add_parser("hot")
    p.add_argument("model")
    p.add_argument("output")
    p.add_argument("--temperatures", type=float, nargs="+", default=[600, 900, 1200, 1500])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--every", type=int, default=75)
    p = sub.add_parser("pick")
    p.add_argument("output")
    p.add_argument("runs", nargs="+", help="run folders of aseml-zif demo")
    p.add_argument("--every", type=int, default=1)
    p.add_argument("--rattled", type=int, default=0)
    p = sub.add_parser("deploy")
    p.add_argument("name")
    p.add_argument("output")
    args = parser.parse_args()
    if args.stage == "frames0":
        frames0(args.output)
    elif args.stage == "label":
        label(args.inp, args.out)
    elif args.stage == "train":
        train(args.name, args.epochs, args.files, args.init, args.seen, args.learning_rate)
    elif args.stage == "hot":
        hot(args.model, args.output, args.temperatures, args.steps, args.every)
    elif args.stage == "pick":
        pick(args.output, args.runs, args.every, args.rattled)
    else:
        deploy(args.name, args.output)
