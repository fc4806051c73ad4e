#!/usr/bin/python3
"""Golden values of DomainBed's MLDG update for uda's first-order MLDG.

Runs DomainBed's own MLDG.update (facebookresearch/DomainBed b93c22a,
domainbed/algorithms.py:857-939, imported from the checkout given by
--domainbed; nothing of DomainBed is copied here) on DomainBed's MNIST_CNN +
linear classifier, in float64, with parameters and inputs given by closed
formulas that tests/algos/meta_test.cpp evaluates the same way, and writes
what the C++ update must reproduce:

  * the permutation of the training domains each update drew
    (lib/misc.py:196-210 split_meta_train_test: torch.randperm from the
    global RNG; read back here by replaying the RNG state),
  * the loss each update returned,
  * per parameter, after the last update: the sum of the parameters, the L1
    norm of the change (theta_final - theta_init) and the change at 8 evenly
    spaced flat positions.

Formulas (float64; t = the parameter's index in network.parameters(),
q = the flat element index):
  weight with >= 2 dims:  sin(0.37 q + 1.1 t + 0.5) / sqrt(numel / size(0))
  1-d "weight":           1 + 0.1 sin(0.37 q + 1.1 t + 0.5)
  1-d "bias":             0.1 sin(0.37 q + 1.1 t + 0.5)
  image of domain d:      sin(0.013 q + 0.7 d + 0.1), q over [N, C, H, W]
  label n of domain d:    (3 n + d) mod num_classes

Usage:
  /usr/bin/python3 scripts/make_meta_golden.py --domainbed /work/domainbed-src \\
      --out tests/fixtures/meta/mldg_domainbed.json
"""
import argparse
import json
import math
import os
import sys


def formula_parameters(network, torch):
    with torch.no_grad():
        for t, (name, p) in enumerate(network.named_parameters()):
            q = torch.arange(p.numel(), dtype=torch.float64)
            s = torch.sin(0.37 * q + 1.1 * t + 0.5)
            if p.dim() >= 2:
                v = s / math.sqrt(p.numel() / p.size(0))
            elif name.endswith("weight"):
                v = 1 + 0.1 * s
            else:
                v = 0.1 * s
            p.copy_(v.view_as(p))


def formula_batch(d, n, channels, size, classes, torch):
    q = torch.arange(n * channels * size * size, dtype=torch.float64)
    x = torch.sin(0.013 * q + 0.7 * d + 0.1).view(n, channels, size, size)
    y = torch.tensor([(3 * i + d) % classes for i in range(n)], dtype=torch.long)
    return x, y


def run_case(case, algorithms, hparams_registry, torch):
    hp = hparams_registry.default_hparams("MLDG", "RotatedMNIST")
    hp.update({"lr": case["lr"], "weight_decay": case["weight_decay"], "mldg_beta": case["mldg_beta"],
               "n_meta_test": case["n_meta_test"]})
    num_domains = len(case["domain_sizes"])
    torch.manual_seed(0)
    # input_shape (1, 28, 28) selects MNIST_CNN (networks.py:235-236); the
    # network takes any spatial size (adaptive average pool).
    algo = algorithms.MLDG((case["channels"], 28, 28), case["classes"], num_domains, hp)
    algo.double()  # in place: the optimizer keeps the same Parameter objects
    formula_parameters(algo.network, torch)
    init = [p.detach().clone() for p in algo.network.parameters()]
    minibatches = [formula_batch(d, n, case["channels"], case["size"], case["classes"], torch)
                   for d, n in enumerate(case["domain_sizes"])]
    torch.manual_seed(case["seed"])
    perms, losses = [], []
    for _ in range(case["steps"]):
        state = torch.get_rng_state()
        perms.append(torch.randperm(num_domains).tolist())  # what split_meta_train_test draws next
        torch.set_rng_state(state)
        losses.append(algo.update(minibatches)["loss"])
    params = []
    names = [n for n, _ in algo.network.named_parameters()]
    for name, p0, p in zip(names, init, algo.network.parameters()):
        delta = (p.detach() - p0).reshape(-1)
        idx = sorted(set(int(round(i * (delta.numel() - 1) / 7)) for i in range(8)))
        params.append({"domainbed_name": name, "shape": list(p.shape), "init_sum": p0.sum().item(),
                       "sum": p.detach().sum().item(), "delta_l1": delta.abs().sum().item(),
                       "delta_at": {str(i): delta[i].item() for i in idx}})
    out = dict(case)
    out.update({"perms": perms, "losses": losses, "parameters": params})
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domainbed", required=True, help="DomainBed checkout (b93c22a)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    here = os.path.dirname(os.path.abspath(__file__))
    sys.path.insert(0, os.path.join(here, "..", "bench"))
    from domainbed_peer import install_stubs  # stand-ins for wilds/timm when not installed
    stubs = install_stubs()
    sys.path.insert(0, os.path.abspath(args.domainbed))
    import torch
    torch.set_num_threads(1)
    from domainbed import algorithms, hparams_registry

    cases = [
        # 3 domains, 2 pairs, unequal batches (truncation), weight decay, 2 updates
        {"name": "three_domains_one_meta_test", "domain_sizes": [4, 3, 4], "n_meta_test": 1, "lr": 1e-3,
         "weight_decay": 1e-4, "mldg_beta": 0.7, "steps": 2, "seed": 5},
        # 4 domains, 2 meta-test domains cycled over 2 pairs
        {"name": "four_domains_two_meta_test", "domain_sizes": [3, 3, 3, 3], "n_meta_test": 2, "lr": 2e-3,
         "weight_decay": 0.0, "mldg_beta": 1.3, "steps": 2, "seed": 11},
        # n_meta_test = number of domains: no pair, an Adam step on zero gradients (+ weight decay)
        {"name": "no_pair", "domain_sizes": [3, 3], "n_meta_test": 2, "lr": 1e-3, "weight_decay": 1e-3,
         "mldg_beta": 1.0, "steps": 2, "seed": 3},
    ]
    common = {"channels": 1, "size": 10, "classes": 4}
    results = [run_case(dict(common, **c), algorithms, hparams_registry, torch) for c in cases]
    doc = {
        "source": "facebookresearch/DomainBed b93c22a domainbed/algorithms.py:857-939 MLDG.update, run by "
                  "scripts/make_meta_golden.py (float64, torch " + torch.__version__ + ")",
        "stand_ins": stubs,
        "cases": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print("wrote", args.out, "-", ", ".join(f"{r['name']}: losses {r['losses']} perms {r['perms']}" for r in results))


if __name__ == "__main__":
    main()
