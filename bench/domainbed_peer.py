#!/usr/bin/python3
"""Peer harness: DomainBed's own training script on Fashion-MNIST domains.

Runs facebookresearch/DomainBed's `domainbed/scripts/train.py` (unmodified,
executed with runpy from the checkout given by --domainbed; nothing of
DomainBed is copied here) on two Fashion-MNIST datasets built the DomainBed
way, so uda's domain-generalization track can be compared with it side by
side:

  RotatedFMNIST  DomainBed's RotatedMNIST construction (its rotate_dataset)
                 on Fashion-MNIST: train (60000) + t10k (10000) merged,
                 torch.randperm shuffle, 6 interleaved environments rotated
                 0/15/30/45/60/75 degrees.
  ColoredFMNIST  DomainBed's ColoredMNIST construction (its color_dataset) on
                 Fashion-MNIST: binary label (class < 5), 25% label noise,
                 colour flipped with probability 0.1 / 0.2 / 0.9 per env,
                 2 channels.

The images come from Debian's `dataset-fashion-mnist` IDX files
(/usr/share/datasets/fashion-mnist, `apt-get install -y
dataset-fashion-mnist`), read by a small IDX reader that stands in for
torchvision's MNIST class inside domainbed.datasets (MNIST(root, train,
download) -> .data uint8 [N,28,28], .targets int64 [N]); everything after the
loading (merge, shuffle, slicing, rotation, colouring) is DomainBed's code.

Alternatively --uda_data DIR [DIR ...] reads a dataset converted by `uda
convert` (docs/FORMATS.md: HDF5 shards, /images/<i> uint8 HWC, /class_ids,
/domains; manifest.json; class_stats.json) with h5py, so both tools train on
the very same samples: environment e = the samples whose /domains is e (in
shard order, several DIRs concatenated per domain), x = float CHW / 255 (as
DomainBed scales MNIST), y = /class_ids. The per-sample domain is checked
against class_stats.json's image_domain (what uda's Dataset::domain() uses).

What this script changes around DomainBed (all in-process, nothing on disk):
  * stand-in modules in sys.modules for imports the MNIST track never uses,
    only when the real package is not installed:
      wilds, wilds.datasets, wilds.datasets.camelyon17_dataset,
      wilds.datasets.fmow_dataset   (datasets.py imports Camelyon17Dataset,
                                     FMoWDataset; calling them raises)
      timm                          (networks.py imports it for the ResNet-50
                                     AugMix weights; create_model raises)
      tqdm                          (lib/reporting.py, --collect only; a
                                     pass-through tqdm.tqdm)
    backpack needs none (algorithms.py imports it in try/except).
    torchvision is NOT stubbed: RotatedMNIST's rotation is torchvision's
    rotate (Debian: apt-get install -y --no-install-recommends
    python3-torchvision, 0.14.1 matching python3-torch 1.13).
  * domainbed.datasets gets the classes RotatedFMNIST / ColoredFMNIST (or the
    uda-backed class under the --dataset name), subclasses of DomainBed's.
  * hparams_registry.default_hparams / random_hparams are wrapped so that
    these datasets get DomainBed's small-image (MNIST) hyperparameters: the
    registry's SMALL_IMAGES list is local to _hparams, so the call is made
    with the name given by --hparams_dataset (default RotatedMNIST; the
    SMALL_IMAGES entries are interchangeable: the draws are seeded by
    seed_hash(seed, hparam name) only).
  * numpy scalars among the drawn hparams become Python scalars (same
    values): otherwise MLDG with --hparams_seed > 0 crashes at its first
    checkpoint, json.dumps(np.int64 n_meta_test) (DomainBed issue #115,
    unfixed at b93c22a).
  * N_WORKERS (DomainBed: 8 DataLoader worker processes per loader, i.e. 5
    train + 12 eval loaders on RotatedMNIST) is --num_workers, default 0.
    Note: with workers > 0 torch draws each RandomSampler's seed when the
    loader is built, with 0 at its first batch, so runs with 0 and 8 workers
    consume the global RNG in a different order (statistically equivalent,
    not bit-identical); use --num_workers 8 to match an upstream run bit for
    bit.
  * algorithms.get_algorithm_class returns a subclass whose update() is timed,
    and misc.accuracy is timed: per step the script prints the step time
    (batch fetch + update, what train.py logs as step_time) and per
    checkpoint the evaluation time; peer_timing.json in --output_dir keeps
    them. misc.split_dataset is wrapped only to record the in/out splits
    (--dump_splits). fast_data_loader.InfiniteDataLoader is wrapped only to
    stop with an error where DomainBed would hang (an in-split smaller than
    batch_size never fills a batch: drop_last over len(dataset) draws).

Usage (Debian's python3, torch 1.13 CPU):
  OMP_NUM_THREADS=1 bench/domainbed_peer.py --domainbed /path/DomainBed \\
      --algorithm ERM --dataset RotatedFMNIST --test_envs 0 --steps 20 \\
      --checkpoint_freq 10 --output_dir /tmp/db_erm
  ... --uda_data /data/fmnist_rot_train [/data/fmnist_rot_t10k] ...
  ... --hparams '{"batch_size": 32}' --hparams_seed 3 --trial_seed 1 --seed 7
  ... --dump_splits splits.json     env assignment and in/out/uda splits
  bench/domainbed_peer.py --domainbed DIR --collect SWEEP_DIR [--latex]
                                    DomainBed's collect_results on our runs
Output: DomainBed's results.jsonl (one record per checkpoint: step, epoch,
step_time, loss keys, env{i}_in_acc, env{i}_out_acc, mem_gb, hparams, args),
out.txt, err.txt, done, and peer_timing.json.
"""
import argparse
import importlib
import json
import os
import runpy
import sys
import time
import types

FMNIST_DEBIAN = "/usr/share/datasets/fashion-mnist"


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domainbed", required=True, help="DomainBed checkout (contains domainbed/)")
    p.add_argument("--collect", metavar="SWEEP_DIR", help="run DomainBed's collect_results on SWEEP_DIR instead")
    p.add_argument("--latex", action="store_true", help="--collect: LaTeX tables")
    # train.py's arguments
    p.add_argument("--algorithm", default="ERM")
    p.add_argument("--dataset", default="RotatedFMNIST")
    p.add_argument("--test_envs", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=None, help="default: DomainBed's N_STEPS (5001)")
    p.add_argument("--checkpoint_freq", type=int, default=None, help="default: CHECKPOINT_FREQ (100)")
    p.add_argument("--hparams", default=None, help="JSON dict overriding hparams")
    p.add_argument("--hparams_seed", type=int, default=0, help="0 = default hparams")
    p.add_argument("--trial_seed", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sweep_seed", action="store_true",
                   help="--seed as DomainBed's sweep.py gives each job: misc.seed_hash(dataset, algorithm, "
                        "test_envs, hparams_seed, trial_seed) (what uda's sweep sets as train.seed); "
                        "without it every job starts from --seed")
    p.add_argument("--holdout_fraction", type=float, default=0.2)
    p.add_argument("--output_dir", default="domainbed_peer_output")
    p.add_argument("--save_model", action="store_true", help="let train.py write model.pkl (default: --skip_model_save)")
    # harness options
    p.add_argument("--fmnist_dir", default=FMNIST_DEBIAN,
                   help="directory with {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]")
    p.add_argument("--uda_data", nargs="+", default=None, metavar="DIR",
                   help="read images/labels/environments from uda-converted dataset(s)")
    p.add_argument("--uda_channels", default=None,
                   help="comma-separated channel indices to keep from uda images (e.g. 0,1 for 2-channel colour)")
    p.add_argument("--hparams_dataset", default="RotatedMNIST",
                   help="DomainBed dataset name whose hparam branch is used (a SMALL_IMAGES name)")
    p.add_argument("--num_workers", type=int, default=0, help="DataLoader workers per loader (DomainBed: 8)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--print_every", type=int, default=1, help="print the step time every N steps")
    p.add_argument("--dump_splits", default=None, metavar="FILE",
                   help="write env assignment (source indices) and in/out/uda splits as JSON")
    return p.parse_args(argv)


# ---------------------------------------------------------------- stand-ins

def _stub_module(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    m.__file__ = "<domainbed_peer stand-in>"
    sys.modules[name] = m
    return m


def _missing(name):
    def f(*a, **k):
        raise NotImplementedError(name + " is a domainbed_peer stand-in (package not installed)")
    return f


def install_stubs(need_tqdm=False):
    stubs = []
    try:
        importlib.import_module("wilds.datasets.camelyon17_dataset")
        importlib.import_module("wilds.datasets.fmow_dataset")
    except ImportError:
        w = _stub_module("wilds")
        wd = _stub_module("wilds.datasets")
        w.datasets = wd
        wd.camelyon17_dataset = _stub_module("wilds.datasets.camelyon17_dataset",
                                             Camelyon17Dataset=_missing("wilds Camelyon17Dataset"))
        wd.fmow_dataset = _stub_module("wilds.datasets.fmow_dataset", FMoWDataset=_missing("wilds FMoWDataset"))
        stubs.append("wilds")
    try:
        importlib.import_module("timm")
    except ImportError:
        _stub_module("timm", create_model=_missing("timm.create_model"))
        stubs.append("timm")
    if need_tqdm:
        try:
            importlib.import_module("tqdm")
        except ImportError:
            _stub_module("tqdm", tqdm=lambda it=None, *a, **k: it)
            stubs.append("tqdm")
    return stubs


# ---------------------------------------------------------------- IDX reader

class IdxMNIST:
    """Stands in for torchvision.datasets.MNIST(root, train, download) when
    root holds IDX files: .data uint8 [N,H,W], .targets int64 [N]."""

    def __init__(self, root, train=True, download=False, **_):
        import gzip
        import numpy as np
        import torch
        split = "train" if train else "t10k"

        def read(stem):
            for name in (stem, stem + ".gz"):
                path = os.path.join(root, name)
                if os.path.exists(path):
                    opener = gzip.open if name.endswith(".gz") else open
                    with opener(path, "rb") as f:
                        return f.read()
            raise FileNotFoundError(f"{stem}[.gz] not found in {root} "
                                    "(Debian: apt-get install -y dataset-fashion-mnist)")

        img = read(f"{split}-images-idx3-ubyte")
        lab = read(f"{split}-labels-idx1-ubyte")
        if int.from_bytes(img[0:4], "big") != 0x803 or int.from_bytes(lab[0:4], "big") != 0x801:
            raise ValueError(f"bad IDX magic in {root} ({split})")
        n, h, w = (int.from_bytes(img[i:i + 4], "big") for i in (4, 8, 12))
        if int.from_bytes(lab[4:8], "big") != n:
            raise ValueError(f"IDX image/label counts differ in {root} ({split})")
        self.data = torch.from_numpy(np.frombuffer(img, np.uint8, n * h * w, 16).reshape(n, h, w).copy())
        self.targets = torch.from_numpy(np.frombuffer(lab, np.uint8, n, 8).astype(np.int64))


# ---------------------------------------------------------------- uda reader

def read_uda(dirs, channels=None):
    """Returns (domain names, class names, per-env list of (x uint8 [n,C,H,W],
    y int64 [n], global index [n], dir index [n]))."""
    import h5py
    import numpy as np
    domains = classes = None
    per_env = {}
    for d_i, d in enumerate(dirs):
        mpath = os.path.join(d, "manifest.json")
        if not os.path.exists(mpath):
            raise SystemExit(f"{d}: no manifest.json (not a uda dataset, or an unfinished conversion)")
        with open(mpath) as f:
            m = json.load(f)
        if m.get("format") != "uda-dataset" or m.get("task") != "classification":
            raise SystemExit(f"{d}: not a uda classification dataset (format {m.get('format')}, task {m.get('task')})")
        if domains is None:
            domains, classes = m["domains"], m["classes"]
        elif m["domains"] != domains or m["classes"] != classes:
            raise SystemExit(f"{d}: domains/classes differ from {dirs[0]}")
        encoding = m["encoding"]
        image_domain = None
        cs = os.path.join(d, m.get("class_stats", "class_stats.json"))
        if os.path.exists(cs):
            with open(cs) as f:
                image_domain = json.load(f).get("image_domain")
        g = 0
        for s in m["shards"]:
            path = os.path.join(d, s["file"])
            if os.path.getsize(path) != s["bytes"]:
                raise SystemExit(f"{path}: size {os.path.getsize(path)} != manifest {s['bytes']}")
            with h5py.File(path, "r") as f, open(path, "rb") as raw:
                n = int(f.attrs["num_samples"])
                dom = f["domains"][()]
                cls = f["class_ids"][()]
                sizes = f["sizes"][()]
                imgs = []
                for i in range(n):
                    ds = f["images"][str(i)]
                    if encoding == "png":
                        import io
                        from PIL import Image
                        a = np.array(Image.open(io.BytesIO(ds[()].tobytes())))
                    else:
                        off = ds.id.get_offset() if encoding == "raw" else None
                        if off is not None:  # contiguous: read the bytes directly (as uda's reader does)
                            raw.seek(off)
                            a = np.frombuffer(raw.read(int(np.prod(ds.shape))), np.uint8).reshape(ds.shape)
                        else:
                            a = ds[()]
                    if a.ndim == 2:
                        a = a[:, :, None]
                    if tuple(a.shape) != tuple(sizes[i]):
                        raise SystemExit(f"{path}: image {i} shape {a.shape} != /sizes {tuple(sizes[i])}")
                    imgs.append(a)
                for i in range(n):
                    if image_domain is not None and image_domain[int(f.attrs["first_index"]) + i] != dom[i]:
                        raise SystemExit(f"{path}: /domains[{i}] disagrees with class_stats.json image_domain")
                    per_env.setdefault(int(dom[i]), []).append((imgs[i], int(cls[i]), g + i, d_i))
                g += n
    envs = []
    for e in range(len(domains)):
        items = per_env.get(e, [])
        if not items:
            raise SystemExit(f"domain {e} ({domains[e]}) has no samples")
        x = np.stack([a for a, _, _, _ in items]).transpose(0, 3, 1, 2)  # HWC -> CHW
        if channels is not None:
            x = x[:, channels]
        envs.append((np.ascontiguousarray(x), np.array([c for _, c, _, _ in items], np.int64),
                     [gi for _, _, gi, _ in items], [di for _, _, _, di in items]))
    return domains, classes, envs


# ---------------------------------------------------------------- datasets

def register_datasets(dbd, args):
    """Adds our dataset classes to domainbed.datasets (what train.py looks up)."""
    import torch
    from torch.utils.data import TensorDataset
    real_mnist = dbd.MNIST

    def mnist_loader(root, train=True, download=True, **kw):
        if root is not None and any(os.path.exists(os.path.join(root, f"{'train' if train else 't10k'}"
                                                                "-images-idx3-ubyte" + z)) for z in ("", ".gz")):
            return IdxMNIST(root, train=train)
        return real_mnist(root, train=train, download=download, **kw)

    dbd.MNIST = mnist_loader  # MultipleEnvironmentMNIST calls MNIST(root, train=..., download=True)

    def source_index(self, state):
        # MultipleEnvironmentMNIST's first torch RNG call is torch.randperm(N):
        # replay it from the saved state to record which source image (train
        # 0..59999, then t10k 60000..69999) each env sample is.
        g = torch.Generator()
        g.set_state(state)
        n = sum(len(d) for d in self.datasets)
        perm = torch.randperm(n, generator=g)
        k = len(self.datasets)
        self.source_indices = [perm[i::k].tolist() for i in range(k)]

    class RotatedFMNIST(dbd.RotatedMNIST):
        """DomainBed's RotatedMNIST on Fashion-MNIST (root = IDX directory)."""
        def __init__(self, root, test_envs, hparams):
            state = torch.get_rng_state()
            super().__init__(args.fmnist_dir, test_envs, hparams)
            source_index(self, state)

    class ColoredFMNIST(dbd.ColoredMNIST):
        """DomainBed's ColoredMNIST on Fashion-MNIST (label = class < 5)."""
        def __init__(self, root, test_envs, hparams):
            state = torch.get_rng_state()
            super().__init__(args.fmnist_dir, test_envs, hparams)
            source_index(self, state)

    for cls in (RotatedFMNIST, ColoredFMNIST):
        cls.N_WORKERS = args.num_workers
        setattr(dbd, cls.__name__, cls)
        if cls.__name__ not in dbd.DATASETS:
            dbd.DATASETS.append(cls.__name__)

    if args.uda_data:
        channels = [int(c) for c in args.uda_channels.split(",")] if args.uda_channels else None
        t0 = time.time()
        domains, classes, envs = read_uda(args.uda_data, channels)
        print(f"[peer] read {sum(len(e[1]) for e in envs)} samples from {len(args.uda_data)} uda dataset(s) "
              f"in {time.time() - t0:.1f} s; domains {domains}", flush=True)

        class UdaShards(dbd.MultipleDomainDataset):
            """Environments, images and labels of a uda-converted dataset."""
            ENVIRONMENTS = list(domains)
            N_WORKERS = args.num_workers

            def __init__(self, root, test_envs, hparams):
                super().__init__()
                self.datasets = [TensorDataset(torch.from_numpy(x).float().div_(255.0), torch.from_numpy(y))
                                 for x, y, _, _ in envs]
                self.input_shape = tuple(envs[0][0].shape[1:])
                self.num_classes = len(classes)
                self.source_indices = [gi for _, _, gi, _ in envs]
                self.source_dirs = [di for _, _, _, di in envs]

        UdaShards.__name__ = args.dataset
        setattr(dbd, args.dataset, UdaShards)
        if args.dataset not in dbd.DATASETS:
            dbd.DATASETS.append(args.dataset)
    return [RotatedFMNIST.__name__, ColoredFMNIST.__name__] + ([args.dataset] if args.uda_data else [])


# ---------------------------------------------------------------- instrumentation

class Timing:
    def __init__(self):
        self.steps = []          # per step: {step, step_s, update_s, batch_s}
        self.evals = []          # per checkpoint: {step, eval_s, loaders, samples}
        self.cur_eval = None
        self.last_end = None     # end of the previous update or evaluation
        self.n_updates = 0


def instrument(algorithms, misc, args, timing, splits):
    orig_get = algorithms.get_algorithm_class
    orig_acc = misc.accuracy
    orig_split = misc.split_dataset

    def get_algorithm_class(name):
        cls = orig_get(name)

        def update(self, minibatches, unlabeled=None):
            t0 = time.time()
            if timing.cur_eval is not None:  # the previous checkpoint's evaluation has ended
                ev = timing.cur_eval
                timing.evals.append(ev)
                print(f"[peer] eval at step {ev['step']}: {ev['loaders']} loaders, {ev['samples']} samples, "
                      f"{ev['eval_s']:.3f} s", flush=True)
                timing.cur_eval = None
            out = cls.update(self, minibatches, unlabeled)
            t1 = time.time()
            step = timing.n_updates
            timing.n_updates += 1
            # train.py's step_time = batch fetch + .to(device) + update; the
            # batch part is the time since the previous update (or eval) ended.
            # (step 0: unknown, the loaders start before the algorithm is called)
            batch_s = max(0.0, t0 - timing.last_end) if timing.last_end is not None else float("nan")
            rec = {"step": step, "update_s": t1 - t0, "batch_s": batch_s,
                   "step_s": (t1 - t0) + (batch_s if batch_s == batch_s else 0.0)}
            timing.steps.append(rec)
            timing.last_end = t1
            if args.print_every > 0 and (step % args.print_every == 0 or step == (args.steps or 0) - 1):
                print(f"[peer] step {step}: step_s {rec['step_s']:.4f} (update {rec['update_s']:.4f}, "
                      f"batch {rec['batch_s']:.4f})", flush=True)
            return out

        return type(cls.__name__, (cls,), {"update": update, "__module__": cls.__module__})

    def accuracy(network, loader, weights, device):
        t0 = time.time()
        acc = orig_acc(network, loader, weights, device)
        dt = time.time() - t0
        if timing.cur_eval is None:
            timing.cur_eval = {"step": timing.n_updates - 1, "eval_s": 0.0, "loaders": 0, "samples": 0}
        ev = timing.cur_eval
        ev["eval_s"] += dt
        ev["loaders"] += 1
        it = getattr(loader, "_infinite_iterator", None)  # FastDataLoader keeps its DataLoader iterator
        ds = getattr(it, "_dataset", None) if it is not None else getattr(loader, "dataset", None)
        ev["samples"] += len(ds) if ds is not None else 0
        timing.last_end = time.time()
        return acc

    def split_dataset(dataset, n, seed=0):
        a, b = orig_split(dataset, n, seed)
        splits.append((dataset, n, seed, a, b))
        return a, b

    # DomainBed's InfiniteDataLoader never yields a batch when an in-split is
    # smaller than batch_size (RandomSampler draws len(dataset) indices per
    # pass, BatchSampler drop_last=True): fail instead of spinning forever.
    from domainbed.lib import fast_data_loader as fdl
    orig_idl = fdl.InfiniteDataLoader

    class InfiniteDataLoader(orig_idl):
        def __init__(self, dataset, weights, batch_size, num_workers):
            if weights is None and len(dataset) < batch_size:
                raise SystemExit(f"[peer] a training in-split has {len(dataset)} samples < batch_size {batch_size}: "
                                 "DomainBed's InfiniteDataLoader would never yield a batch")
            super().__init__(dataset, weights, batch_size, num_workers)

    fdl.InfiniteDataLoader = InfiniteDataLoader
    algorithms.get_algorithm_class = get_algorithm_class
    misc.accuracy = accuracy
    misc.split_dataset = split_dataset


def dump_splits(path, splits, misc, args):
    """in/out(/uda) keys per env, as indices into the env dataset, plus the
    source index of every env sample (IDX: 0..59999 train, 60000.. t10k;
    uda: global sample index in shard order of its DIR)."""
    envs, base_of = [], {}
    for ds, n, seed, a, b in splits:
        if isinstance(ds, misc._SplitDataset):  # uda split of a test env's in-split
            e, base = base_of[id(ds)]
            envs[e]["uda"] = [base[k] for k in a.keys]
            envs[e]["in"] = [base[k] for k in b.keys]
            envs[e]["uda_seed"] = seed
        else:
            e = len(envs)
            envs.append({"size": len(ds), "seed": seed, "out": list(a.keys), "in": list(b.keys)})
            base_of[id(b)] = (e, list(b.keys))
    out = {"dataset": args.dataset, "test_envs": args.test_envs, "trial_seed": args.trial_seed, "seed": args.seed,
           "holdout_fraction": args.holdout_fraction,
           "note": "keys index the env dataset; out, in = split_dataset(env, int(len(env)*holdout_fraction), "
                   "seed_hash(trial_seed, env_i)): out = first n keys of np.random.RandomState(seed).shuffle("
                   "list(range(len(env)))), in = the rest",
           "envs": envs}
    if getattr(dump_splits, "source_indices", None) is not None:
        out["source_indices"] = dump_splits.source_indices
        out["source_indices_note"] = ("env e sample k = source image source_indices[e][k] (IDX: train 0..59999 then "
                                      "t10k 60000..; uda: global index in shard order of its directory)")
    if getattr(dump_splits, "source_dirs", None) is not None:
        out["source_dirs"] = dump_splits.source_dirs
        out["uda_data"] = [os.path.abspath(d) for d in args.uda_data]
    with open(path, "w") as f:
        json.dump(out, f)


# ---------------------------------------------------------------- main

def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    os.environ.setdefault("MKL_NUM_THREADS", str(args.threads))
    root = os.path.abspath(args.domainbed)
    if not os.path.exists(os.path.join(root, "domainbed", "scripts", "train.py")):
        raise SystemExit(f"{root}: not a DomainBed checkout (domainbed/scripts/train.py missing)")
    sys.path.insert(0, root)
    try:
        import torchvision  # noqa: F401
    except ImportError:
        raise SystemExit("torchvision is required (DomainBed's rotation and transforms): "
                         "apt-get install -y --no-install-recommends python3-torchvision")
    import torch
    torch.set_num_threads(args.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    stubs = install_stubs(need_tqdm=bool(args.collect))

    from domainbed import datasets as dbd
    from domainbed import hparams_registry, algorithms
    from domainbed.lib import misc
    ours = register_datasets(dbd, args)

    orig_default, orig_random = hparams_registry.default_hparams, hparams_registry.random_hparams
    hp_name = lambda d: args.hparams_dataset if d in ours else d  # noqa: E731
    # numpy scalars -> Python scalars (same values): r.choice returns numpy
    # types and MLDG's n_meta_test (np.int64, hparams_registry.py:105) makes
    # train.py's json.dumps of the results fail (DomainBed issue #115).
    plain = lambda hp: {k: (v.item() if hasattr(v, "item") and not isinstance(v, (str, bytes)) else v)  # noqa: E731
                        for k, v in hp.items()}
    hparams_registry.default_hparams = lambda a, d: plain(orig_default(a, hp_name(d)))
    hparams_registry.random_hparams = lambda a, d, s: plain(orig_random(a, hp_name(d), s))

    if args.collect:
        # Datasets of the records that DomainBed does not know: infer the
        # environment count from the record keys.
        from domainbed.lib import reporting
        for r in reporting.load_records(args.collect):
            d = r["args"]["dataset"]
            if d not in dbd.DATASETS:
                n = len([k for k in r if k.startswith("env") and k.endswith("_out_acc")])
                setattr(dbd, d, type(d, (dbd.MultipleDomainDataset,), {"ENVIRONMENTS": [str(i) for i in range(n)]}))
                dbd.DATASETS.append(d)
        sys.argv = ["collect_results.py", "--input_dir", args.collect] + (["--latex"] if args.latex else [])
        runpy.run_path(os.path.join(root, "domainbed", "scripts", "collect_results.py"), run_name="__main__")
        return

    timing = Timing()
    splits = []
    instrument(algorithms, misc, args, timing, splits)

    # record the source indices of the env samples once the dataset is built
    cls = getattr(dbd, args.dataset, None)
    if cls is not None and args.dataset in ours:
        orig_init = cls.__init__

        def init(self, *a, **k):
            t0 = time.time()
            orig_init(self, *a, **k)
            dump_splits.build_s = time.time() - t0
            dump_splits.source_indices = getattr(self, "source_indices", None)
            dump_splits.source_dirs = getattr(self, "source_dirs", None)
            print(f"[peer] dataset {args.dataset}: {len(self.datasets)} envs, sizes "
                  f"{[len(d) for d in self.datasets]}, input_shape {tuple(self.input_shape)}, "
                  f"{self.num_classes} classes; built in {dump_splits.build_s:.1f} s", flush=True)
        cls.__init__ = init

    if args.sweep_seed:
        # domainbed/scripts/sweep.py, Job arguments: the per-job seed.
        args.seed = misc.seed_hash(args.dataset, args.algorithm, args.test_envs, args.hparams_seed, args.trial_seed)
    train_argv = ["train.py", "--data_dir", args.fmnist_dir, "--dataset", args.dataset,
                  "--algorithm", args.algorithm, "--hparams_seed", str(args.hparams_seed),
                  "--trial_seed", str(args.trial_seed), "--seed", str(args.seed),
                  "--test_envs", *[str(e) for e in args.test_envs], "--output_dir", args.output_dir,
                  "--holdout_fraction", str(args.holdout_fraction)]
    if args.steps is not None:
        train_argv += ["--steps", str(args.steps)]
    if args.checkpoint_freq is not None:
        train_argv += ["--checkpoint_freq", str(args.checkpoint_freq)]
    if args.hparams:
        train_argv += ["--hparams", args.hparams]
    if not args.save_model:
        train_argv += ["--skip_model_save"]

    print(f"[peer] DomainBed {root}; stand-ins: {stubs or 'none'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), num_workers {args.num_workers}", flush=True)
    sys.argv = train_argv
    t0 = time.time()
    runpy.run_path(os.path.join(root, "domainbed", "scripts", "train.py"), run_name="__main__")
    total = time.time() - t0
    if timing.cur_eval is not None:
        ev = timing.cur_eval
        timing.evals.append(ev)
        print(f"[peer] eval at step {ev['step']}: {ev['loaders']} loaders, {ev['samples']} samples, "
              f"{ev['eval_s']:.3f} s", flush=True)

    st = [s["step_s"] for s in timing.steps[1:]]  # step 0 has no batch timing and warms up
    mean = sum(st) / len(st) if st else float("nan")
    evs = [e["eval_s"] for e in timing.evals]
    summary = {"algorithm": args.algorithm, "dataset": args.dataset, "test_envs": args.test_envs,
               "threads": torch.get_num_threads(), "num_workers": args.num_workers,
               "steps": len(timing.steps), "mean_step_s_excl_first": mean,
               "first_step_s": timing.steps[0]["update_s"] if timing.steps else None,
               "dataset_build_s": getattr(dump_splits, "build_s", None), "evals": timing.evals, "mean_eval_s": sum(evs) / len(evs) if evs else None,
               "total_s": total, "per_step": timing.steps}
    with open(os.path.join(args.output_dir, "peer_timing.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"[peer] {len(timing.steps)} steps: mean step {mean:.4f} s (steps 1..), first step "
          f"{summary['first_step_s']:.4f} s; {len(evs)} evaluations, mean {summary['mean_eval_s']:.3f} s; "
          f"total {total:.1f} s", flush=True)
    if args.dump_splits:
        dump_splits(args.dump_splits, splits, misc, args)
        print(f"[peer] splits written to {args.dump_splits}", flush=True)


if __name__ == "__main__":
    main()
