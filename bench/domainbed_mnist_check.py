#!/usr/bin/python3
"""Checks a `uda convert --format idx --domains rotated|colored` dataset
against DomainBed's own RotatedMNIST / ColoredMNIST classes.

DomainBed (a checkout given by --domainbed, unmodified) builds the
environments the way its train.py does: torch.manual_seed(seed), then the
dataset (domainbed/datasets.py:91-183), on the Fashion-MNIST IDX files through
bench/domainbed_peer.py's loader and its RotatedFMNIST / ColoredFMNIST
subclasses. The uda dataset is read with h5py (bench/domainbed_peer.py
read_uda). Per environment the float tensors x (uda: uint8 / 255, as
DomainBed's ToTensor / .float().div_(255)), the labels y and the source image
of every sample (uda: the sample name) must be identical; a `--count N`
conversion must equal the beginning of each environment. Exit status 0 when
everything matches, 1 otherwise.

Usage (Debian's python3 with torch 1.13 and torchvision):
  uda convert --format idx --src /usr/share/datasets/fashion-mnist --domains rotated --seed 0 --out /tmp/rot
  bench/domainbed_mnist_check.py --domainbed /path/DomainBed --dataset RotatedFMNIST --seed 0 /tmp/rot
The whole 70,000-image construction takes about 10 s per dataset.
"""
import argparse
import importlib.util
import json
import os
import sys


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--domainbed", required=True, help="DomainBed checkout (contains domainbed/)")
    p.add_argument("--dataset", choices=["RotatedFMNIST", "ColoredFMNIST"], required=True)
    p.add_argument("--seed", type=int, required=True, help="the --seed given to uda convert (DomainBed's --seed)")
    p.add_argument("--fmnist_dir", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("uda_dir")
    a = p.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    spec = importlib.util.spec_from_file_location("domainbed_peer", os.path.join(here, "domainbed_peer.py"))
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    import h5py
    import torch
    peer.install_stubs()
    sys.path.insert(0, a.domainbed)
    from domainbed import datasets as dbd
    peer.register_datasets(dbd, peer.parse_args(["--domainbed", a.domainbed, "--fmnist_dir", a.fmnist_dir]))

    torch.manual_seed(a.seed)  # train.py seeds right before building the dataset
    reference = getattr(dbd, a.dataset)(None, [0], {})
    domains, _, envs = peer.read_uda([a.uda_dir])
    with open(os.path.join(a.uda_dir, "manifest.json")) as f:
        manifest = json.load(f)
    names = {}
    for s in manifest["shards"]:
        with h5py.File(os.path.join(a.uda_dir, s["file"]), "r") as f:
            for name, dom in zip(f["names"][()], f["domains"][()]):
                names.setdefault(int(dom), []).append(int(name.decode() if isinstance(name, bytes) else name))
    ok = domains == list(getattr(dbd, a.dataset).ENVIRONMENTS) and len(envs) == len(reference.datasets)
    if not ok:
        print(f"environments differ: uda {domains}, DomainBed {getattr(dbd, a.dataset).ENVIRONMENTS}")
    for e, (x8, y, _, _) in enumerate(envs[:len(reference.datasets)]):
        # A `--count N` conversion holds the beginning of each environment.
        n = len(y)
        xd, yd = (t[:n] for t in reference.datasets[e].tensors)
        x = torch.from_numpy(x8).float().div_(255.0)
        same_x = x.shape == xd.shape and torch.equal(x, xd)
        same_y = len(yd) == n and torch.equal(torch.from_numpy(y), yd)
        same_src = names.get(e) == reference.source_indices[e][:n]
        ok = ok and same_x and same_y and same_src
        part = "" if n == len(reference.datasets[e]) else f" (the first {n} of {len(reference.datasets[e])})"
        print(f"{a.dataset} environment {domains[e]!r}: {n} samples{part}; x {'identical' if same_x else 'DIFFERENT'}, "
              f"y {'identical' if same_y else 'DIFFERENT'}, source images {'identical' if same_src else 'DIFFERENT'}")
    print("uda dataset equals DomainBed's construction" if ok else "MISMATCH")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
