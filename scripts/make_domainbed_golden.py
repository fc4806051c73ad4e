#!/usr/bin/python3
"""Golden values of DomainBed's sweep, hyper-parameter registry, model
selection and result tables, for uda's DomainBed protocol tests
(tests/launcher/dg_golden_test.cpp, tests/fixtures/domainbed/golden.json).

DomainBed is NOT part of this project: it is imported, unmodified, from the
checkout given by --domainbed (facebookresearch/DomainBed at b93c22a). Only
the packages it imports but these computations never call (wilds, timm,
tqdm) get the stand-ins of bench/domainbed_peer.py when they are not
installed.

What it records:
  seed_hash   misc.seed_hash of assorted argument tuples
  hparams     the hyper-parameters of jobs as scripts/train.py:75-79 chooses
              them (hparams_seed 0: default_hparams, else random_hparams with
              seed_hash(hparams_seed, trial_seed)) for ERM, DANN, CDANN,
              CORAL, MMD, MLDG on RotatedMNIST (small images), PACS and
              DomainNet (big images), trial_seed 0..2, hparams_seed 0..5
  sweeps      scripts/sweep.py make_args_list of two small sweeps (single
              test environments, and all_test_env_combinations)
  selection   fabricated training records (runs of ColoredMNIST and VLCS,
              three algorithms, three draws, two trials, with accuracies
              that tie, runs left out, and no run of DANN holding out
              VLCS's domain 3), and for each selection method
              the sweep_acc of every group and collect_results' LaTeX
              output. The records are handed to DomainBed sorted by
              (dataset, algorithm, trial_seed, hparams_seed, test_envs,
              step); DomainBed itself reads them in os.listdir order, which
              decides its ties between draws and uda sorts them this way.

Usage:
  /usr/bin/python3 scripts/make_domainbed_golden.py --domainbed /work/domainbed-src \\
      --out tests/fixtures/domainbed/golden.json
"""
import argparse
import contextlib
import importlib.util
import io
import json
import os
import random
import sys


def load_stubs():
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "domainbed_peer.py")
    spec = importlib.util.spec_from_file_location("domainbed_peer", path)
    peer = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(peer)
    peer.install_stubs(need_tqdm=True)


def py(v):
    """numpy scalars -> Python scalars (json)."""
    return v.item() if hasattr(v, "item") else v


def seed_hashes(misc):
    cases = [[0, 0], [1, 0], [2, 0], [3, 0], [1, 1], [1, 2], [0, 5], [785910682, "lr"], [2147483647, "batch_size"],
             ["RotatedMNIST", "ERM", [0], 0, 0], ["VLCS", "CDANN", [1, 3], 19, 2], ["PACS", "MLDG", [], 4, 1],
             ["x"], [7]]
    return [{"args": c, "value": misc.seed_hash(*c)} for c in cases]


def hparams(registry, misc):
    out = []
    for dataset in ["RotatedMNIST", "PACS", "DomainNet"]:
        for algorithm in ["ERM", "DANN", "CDANN", "CORAL", "MMD", "MLDG"]:
            for trial in range(3):
                for hs in range(6):
                    if hs == 0:
                        h = registry.default_hparams(algorithm, dataset)
                    else:
                        h = registry.random_hparams(algorithm, dataset, misc.seed_hash(hs, trial))
                    out.append({"dataset": dataset, "algorithm": algorithm, "trial_seed": trial, "hparams_seed": hs,
                                "hparams": {k: py(v) for k, v in h.items()}})
    return out


def sweeps(sweep):
    out = []
    for single in [True, False]:
        args = sweep.make_args_list(n_trials=2, dataset_names=["ColoredMNIST", "VLCS"], algorithms=["ERM", "DANN"],
                                    n_hparams_from=0, n_hparams=3, steps=None, data_dir="/d",
                                    task="domain_generalization", holdout_fraction=0.2, single_test_envs=single,
                                    hparams=None)
        out.append({"single_test_envs": single,
                    "jobs": [{k: a[k] for k in ["dataset", "algorithm", "test_envs", "hparams_seed", "trial_seed",
                                                "seed"]} for a in args]})
    return out


def fabricated_runs(rng):
    levels = [0.5 + i / 16 for i in range(5)]  # exact binary fractions: many ties
    runs = []
    for dataset, n_envs in [("ColoredMNIST", 3), ("VLCS", 4)]:
        for algorithm in ["ERM", "CORAL", "DANN"]:
            for trial in range(2):
                for hs in range(3):
                    for envs in [[i] for i in range(n_envs)] + [[i, j] for i in range(n_envs)
                                                                 for j in range(i + 1, n_envs)]:
                        if rng.random() < 0.08 or (algorithm, dataset) == ("DANN", "VLCS") and 3 in envs:
                            continue  # a run that is missing; DANN never held out VLCS's V
                        steps = [0, 100, 200] if rng.random() > 0.1 else [0, 100]
                        runs.append({"dataset": dataset, "algorithm": algorithm, "trial_seed": trial,
                                     "hparams_seed": hs, "test_envs": envs,
                                     "checkpoints": [{"step": s,
                                                      "in": [rng.choice(levels) for _ in range(n_envs)],
                                                      "out": [rng.choice(levels) for _ in range(n_envs)]}
                                                     for s in steps]})
    return runs


def records_of(runs):
    recs = []
    for r in sorted(runs, key=lambda r: (r["dataset"], r["algorithm"], r["trial_seed"], r["hparams_seed"],
                                         r["test_envs"])):
        for c in r["checkpoints"]:
            rec = {"args": {k: r[k] for k in ["dataset", "algorithm", "trial_seed", "hparams_seed", "test_envs"]},
                   "step": c["step"]}
            for i, (a, b) in enumerate(zip(c["in"], c["out"])):
                rec["env%d_in_acc" % i] = a
                rec["env%d_out_acc" % i] = b
            recs.append(rec)
    return recs


def selection(model_selection, reporting, collect_results, Q, runs):
    records = Q(records_of(runs))
    out = {}
    methods = {"training_domain": model_selection.IIDAccuracySelectionMethod,
               "leave_one_out": model_selection.LeaveOneOutSelectionMethod,
               "oracle": model_selection.OracleSelectionMethod}
    for name, method in methods.items():
        groups = []
        for g in reporting.get_grouped_records(records):
            acc = method.hparams_accs(g["records"])
            if len(acc):
                best = acc[0]
                groups.append({"trial_seed": g["trial_seed"], "dataset": g["dataset"], "algorithm": g["algorithm"],
                               "test_env": g["test_env"], "hparams_seed": best[1][0]["args"]["hparams_seed"],
                               "val_acc": float(best[0]["val_acc"]), "test_acc": float(best[0]["test_acc"])})
        latex = io.StringIO()
        with contextlib.redirect_stdout(latex):
            # collect_results' __main__ (:205-232) for one method
            print("\\documentclass{article}")
            print("\\usepackage{booktabs}")
            print("\\usepackage{adjustbox}")
            print("\\begin{document}")
            print("\\section{Full DomainBed results}")
            print("% Total records:", len(records))
            print()
            print("\\subsection{{Model selection: {}}}".format(method.name))
            collect_results.print_results_tables(records, method, True)
            print("\\end{document}")
        text = io.StringIO()
        with contextlib.redirect_stdout(text):
            collect_results.print_results_tables(records, method, False)
        out[name] = {"groups": groups, "latex": latex.getvalue(), "text": text.getvalue()}
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--domainbed", required=True, help="DomainBed checkout (the repository root)")
    p.add_argument("--out", required=True)
    p.add_argument("--seed", type=int, default=7, help="seed of the fabricated records")
    args = p.parse_args()
    sys.path.insert(0, os.path.abspath(args.domainbed))
    load_stubs()
    from domainbed import hparams_registry, model_selection
    from domainbed.lib import misc, reporting
    from domainbed.lib.query import Q
    from domainbed.scripts import collect_results, sweep

    runs = fabricated_runs(random.Random(args.seed))
    golden = {"domainbed_commit": open(os.path.join(args.domainbed, "COMMIT")).read().strip()
              if os.path.exists(os.path.join(args.domainbed, "COMMIT")) else "unknown",
              "seed_hash": seed_hashes(misc),
              "hparams": hparams(hparams_registry, misc),
              "sweeps": sweeps(sweep),
              "runs": runs,
              "domains": {"ColoredMNIST": ["+90%", "+80%", "-90%"], "VLCS": ["C", "L", "S", "V"]},
              "selection": selection(model_selection, reporting, collect_results, Q, runs)}
    with open(args.out, "w") as f:
        json.dump(golden, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
