#!/usr/bin/python3
"""Per-test-domain agreement of uda and DomainBed on the same DG sweep.

  dg_agreement.py UDA_COLLECT_JSON DOMAINBED_SWEEP_DIR

UDA_COLLECT_JSON: `uda collect UDA_SWEEP --selection training_domain --format
json`. DOMAINBED_SWEEP_DIR: the run directories of bench/domainbed_peer.py
(results.jsonl + done each). DomainBed's runs are selected with DomainBed's
training-domain validation rule (domainbed/model_selection.py,
IIDAccuracySelectionMethod: per run, the record with the highest mean
out-split accuracy of the training environments; its test accuracy is the
test environment's in-split accuracy) — the rule `uda collect` implements.
With one hyper-parameter draw per (test domain, trial), that is all of the
selection.

Prints a Markdown table per test domain: mean over trials and its standard
error for both tools (sample standard deviation / sqrt(n)), the difference,
and z = difference / sqrt(se_uda^2 + se_db^2); "within noise" is |z| <= 2.
"""
import glob
import json
import math
import os
import sys


def mean_se(values):
    n = len(values)
    m = sum(values) / n
    if n < 2:
        return m, float("nan")
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return m, math.sqrt(var / n)


def domainbed_accs(sweep_dir):
    per_env = {}
    for done in sorted(glob.glob(os.path.join(sweep_dir, "*", "done"))):
        run = os.path.dirname(done)
        records = [json.loads(l) for l in open(os.path.join(run, "results.jsonl"))]
        test_envs = records[0]["args"]["test_envs"]
        if len(test_envs) != 1:
            continue
        t = test_envs[0]

        def val(r):
            keys = [k for k in r if k.startswith("env") and k.endswith("_out_acc") and k != f"env{t}_out_acc"]
            return sum(r[k] for k in keys) / len(keys)

        best = max(records, key=val)
        per_env.setdefault(t, []).append(100 * best[f"env{t}_in_acc"])
    return per_env


def uda_accs(collect_json):
    per_env = {}
    for c in json.load(open(collect_json))["chosen"]:
        per_env.setdefault(c["test_env"], []).append(100 * c["test_acc"])
    return per_env


def main():
    uda, db = uda_accs(sys.argv[1]), domainbed_accs(sys.argv[2])
    print("| test domain | uda (n) | DomainBed (n) | uda − DomainBed | z | |")
    print("|---|---|---|---|---|---|")
    all_u, all_d, agree, rows = [], [], 0, 0
    diffs, variances = [], []  # per test domain: the difference and its squared standard error
    for env in sorted(set(uda) | set(db)):
        u, d = uda.get(env, []), db.get(env, [])
        if not u or not d:
            print(f"| {env} | {len(u)} runs | {len(d)} runs | — | — | missing runs |")
            continue
        (mu, su), (md, sd) = mean_se(u), mean_se(d)
        diff = mu - md
        se = math.sqrt(su ** 2 + sd ** 2) if len(u) > 1 and len(d) > 1 else float("nan")
        z = diff / se if se and not math.isnan(se) else float("nan")
        ok = not math.isnan(z) and abs(z) <= 2
        rows += 1
        agree += ok
        if not math.isnan(se):
            diffs.append(diff)
            variances.append(se ** 2)
        all_u += u
        all_d += d
        print(f"| {env} | {mu:.1f} ± {su:.1f} ({len(u)}) | {md:.1f} ± {sd:.1f} ({len(d)}) | {diff:+.1f} | {z:+.2f} | "
              f"{'within noise' if ok else 'DIFFERS'} |")
    if diffs:
        # The average over test domains (DomainBed's Avg column): the mean of
        # the per-domain differences, its standard error from theirs.
        mean_diff = sum(diffs) / len(diffs)
        se_mean = math.sqrt(sum(variances)) / len(diffs)
        z = mean_diff / se_mean if se_mean > 0 else float("nan")
        print(f"| Avg | | | {mean_diff:+.1f} ± {se_mean:.1f} | {z:+.2f} | "
              f"{'within noise' if abs(z) <= 2 else 'DIFFERS'} |")
    if all_u and all_d:
        print(f"\nAll test domains and trials: uda {sum(all_u) / len(all_u):.1f}, DomainBed {sum(all_d) / len(all_d):.1f}; "
              f"{agree} of {rows} test domains within noise (|z| <= 2).")


if __name__ == "__main__":
    main()
