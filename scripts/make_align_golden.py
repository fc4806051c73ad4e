#!/usr/bin/python3
"""Golden values of DomainBed's own alignment losses, for uda's unit tests of
algos/align/losses.h (tests/algos/align_losses_test.cpp,
tests/fixtures/align/*.json).

DomainBed is NOT part of this project: it is imported, unmodified, from the
checkout given by --domainbed (facebookresearch/DomainBed at b93c22a). Only
the packages it imports but these computations never call (wilds, timm) get
the stand-ins of bench/domainbed_peer.py when they are not installed.

Every case runs DomainBed's real update() on fixed inputs. The featurizer is
replaced by nn.Identity after construction (algorithms are built on a 1-D
input_shape, so DomainBed's Featurizer is an MLP of n_outputs = mlp_width =
the feature size), so the minibatches' x ARE the features; x requires grad,
so after update() x.grad holds the gradient of the optimised loss with
respect to the features, and the parameters' .grad the gradient with respect
to them (optimizer.step() changes the parameters afterwards; the values
recorded here are from before).

  mmd.json, coral.json   AbstractMMD.update (algorithms.py:1023-1048) over 3
                         domains: objective, penalty, the gradients of
                         objective + mmd_gamma * penalty with respect to the
                         features and the classifier; and mmd(x_i, x_j) of
                         every pair (:1004-1021). MMD runs in float64 (the
                         module and the features converted): in float32,
                         DomainBed's kernel exp(-1000 D) differentiates the
                         rounding residue of the rows' distances to
                         themselves (||x||^2 - 2 x.x + ||x||^2), which uda
                         takes as the exact 0 (algos/align/losses.h), a
                         ~1e-5 relative difference in the gradients that is
                         rounding, not formula; in float64 the residue is
                         negligible. CORAL and DANN run in float32,
                         DomainBed's dtype.
  dann.json, cdann.json  AbstractDANN.update (:516-562) with
                         d_steps_per_g_step 1, called twice on the same
                         minibatches: update_count 1 is a generator step
                         (gen_loss, gradients of gen_loss with respect to the
                         features and the classifier), update_count 2 a
                         discriminator step (disc_loss, gradients with respect
                         to the discriminator and the class embeddings); the
                         discriminator is not changed by the generator step,
                         so both are at the initial weights. One case with
                         grad_penalty 0 (the plain, or CDANN's class-balanced,
                         cross-entropy) and one with grad_penalty 5. CDANN's
                         labels leave a class below the largest one absent, so
                         that len(y_counts) != number of present classes.

Usage:
  /usr/bin/python3 scripts/make_align_golden.py --domainbed /work/domainbed-src --out tests/fixtures/align
"""
import argparse
import importlib.util
import json
import os
import sys


def load_stubs():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "domainbed_peer.py")
    spec = importlib.util.spec_from_file_location("domainbed_peer", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    peer.install_stubs()


def tolist(t):
    return t.detach().double().tolist()


def minibatches(torch, gen, num_domains, rows, dim, num_classes, scale, labels=None):
    out = []
    for d in range(num_domains):
        x = (scale * torch.randn(rows[d], dim, generator=gen, dtype=torch.float32) + 0.05 * d).requires_grad_(True)
        y = labels[d] if labels is not None else torch.randint(0, num_classes, (rows[d],), generator=gen)
        out.append((x, torch.as_tensor(y, dtype=torch.int64)))
    return out


def state(module):
    return {k: tolist(v) for k, v in module.state_dict().items()}


def grads(module):
    return {k: tolist(p.grad) for k, p in module.named_parameters() if p.grad is not None}


def mmd_case(torch, algorithms, hparams_registry, name, seed, dtype):
    dim, num_classes, num_domains, rows = 6, 4, 3, [5, 4, 6]
    hp = hparams_registry.default_hparams(name, "RotatedMNIST")
    hp.update({"mlp_width": dim, "mlp_depth": 3, "mlp_dropout": 0.0, "mmd_gamma": 0.7})
    torch.manual_seed(seed)
    alg = getattr(algorithms, name)((dim,), num_classes, num_domains, hp).to(dtype)
    alg.featurizer = torch.nn.Identity()
    gen = torch.Generator().manual_seed(seed)
    mbs = [(x.detach().to(dtype).requires_grad_(True), y)
           for x, y in minibatches(torch, gen, num_domains, rows, dim, num_classes, 0.3)]
    classifier = state(alg.classifier)
    pairs = []
    for i in range(num_domains):
        for j in range(i + 1, num_domains):
            pairs.append({"i": i, "j": j, "value": float(alg.mmd(mbs[i][0].detach(), mbs[j][0].detach()))})
    out = alg.update(mbs)
    return {
        "algorithm": name, "source": "domainbed/algorithms.py:973-1068 (AbstractMMD.update, mmd)",
        "dtype": str(dtype).replace("torch.", ""),
        "mmd_gamma": hp["mmd_gamma"], "num_classes": num_classes,
        "domains": [{"x": tolist(x), "y": y.tolist()} for x, y in mbs],
        "classifier": classifier,
        "pairs": pairs,
        "loss": out["loss"], "penalty": out["penalty"],
        "grad_features": [tolist(x.grad) for x, _ in mbs],
        "grad_classifier": grads(alg.classifier),
    }


def dann_case(torch, algorithms, hparams_registry, name, seed, grad_penalty):
    dim, num_classes, num_domains, rows = 6, 5, 3, [5, 4, 6]
    hp = hparams_registry.default_hparams(name, "RotatedMNIST")
    hp.update({"mlp_width": dim, "mlp_depth": 3, "mlp_dropout": 0.0, "d_steps_per_g_step": 1,
               "grad_penalty": grad_penalty, "lambda": 0.8})
    torch.manual_seed(seed)
    alg = getattr(algorithms, name)((dim,), num_classes, num_domains, hp)
    alg.featurizer = torch.nn.Identity()
    gen = torch.Generator().manual_seed(seed + 1)
    # Class 2 absent, 4 the largest: len(y_counts) = 5 but 4 classes present.
    labels = [[0, 1, 1, 3, 4], [0, 0, 4, 1], [3, 3, 3, 0, 1, 4]]
    mbs = minibatches(torch, gen, num_domains, rows, dim, num_classes, 0.5, labels)
    before = {"classifier": state(alg.classifier), "discriminator": state(alg.discriminator),
              "class_embeddings": state(alg.class_embeddings)}
    g = alg.update(mbs)  # update_count 1: 1 % 2 = 1, not < 1: generator step
    assert "gen_loss" in g, g
    gen_grad_features = [tolist(x.grad) for x, _ in mbs]
    gen_grad_classifier = grads(alg.classifier)
    for x, _ in mbs:
        x.grad = None
    d = alg.update(mbs)  # update_count 2: 2 % 2 = 0 < 1: discriminator step
    assert "disc_loss" in d, d
    return {
        "algorithm": name, "source": "domainbed/algorithms.py:477-578 (AbstractDANN.update)",
        "grad_penalty": grad_penalty, "lambda": hp["lambda"], "mlp_width": dim, "mlp_depth": 3,
        "num_classes": num_classes, "num_domains": num_domains,
        "conditional": alg.conditional, "class_balance": alg.class_balance,
        "domains": [{"x": tolist(x), "y": y.tolist()} for x, y in mbs],
        "weights": before,
        "gen_loss": g["gen_loss"], "gen_grad_features": gen_grad_features, "gen_grad_classifier": gen_grad_classifier,
        "disc_loss": d["disc_loss"], "disc_grad_discriminator": grads(alg.discriminator),
        "disc_grad_class_embeddings": grads(alg.class_embeddings),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--domainbed", required=True, help="a DomainBed checkout (facebookresearch/DomainBed, b93c22a)")
    ap.add_argument("--out", required=True, help="folder for the JSON files")
    args = ap.parse_args()
    load_stubs()
    sys.path.insert(0, os.path.abspath(args.domainbed))
    import torch
    from domainbed import algorithms, hparams_registry
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(1)
    commit_file = os.path.join(args.domainbed, "COMMIT")
    commit = open(commit_file).read().strip() if os.path.exists(commit_file) else "unknown"
    meta = {"domainbed_commit": commit, "torch": torch.__version__,
            "generator": "scripts/make_align_golden.py"}
    os.makedirs(args.out, exist_ok=True)
    files = {
        "mmd.json": {"cases": [mmd_case(torch, algorithms, hparams_registry, "MMD", 11, torch.float64)]},
        "coral.json": {"cases": [mmd_case(torch, algorithms, hparams_registry, "CORAL", 12, torch.float32)]},
        "dann.json": {"cases": [dann_case(torch, algorithms, hparams_registry, "DANN", 13, gp) for gp in (0.0, 5.0)]},
        "cdann.json": {"cases": [dann_case(torch, algorithms, hparams_registry, "CDANN", 14, gp)
                                 for gp in (0.0, 5.0)]},
    }
    for name, doc in files.items():
        doc.update(meta)
        with open(os.path.join(args.out, name), "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
        print("wrote", os.path.join(args.out, name))


if __name__ == "__main__":
    main()
