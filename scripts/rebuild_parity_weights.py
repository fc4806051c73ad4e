#!/usr/bin/python3
"""Rebuild a parity fixture set's .pth files from their *.weights.json manifests.

Usage:
    /usr/bin/python3 scripts/rebuild_parity_weights.py OUT_DIR SOURCE [SOURCE ...]

  OUT_DIR  where each manifest's "file" (the .pth name it describes) is written
  SOURCE   a <name>.weights.json manifest, or a set folder: every
           *.weights.json in it (e.g. tests/fixtures/parity)

Nothing about a particular set is assumed: the manifests name their files,
seeds and layouts. Follows the "Weight recipe" and "Rebuilding a .pth file"
sections of the fixture README exactly; every tensor's sha256 is checked
against its manifest entry. Idempotent: a file already present whose sha256
equals the manifest's pth_file.sha256 (or, written by another torch version
or under another name, whose tensors all match their sha256) is kept. Files
appear atomically (written in a temporary folder, then renamed), so
concurrent callers never see a half-written .pth. The tests give each
manifest its own OUT_DIR keyed by the manifest's content, so files of two
sets never mix. Needs only Debian's python3-torch and python3-numpy (use
/usr/bin/python3). Exit status 0 on success, 1 on any mismatch or error.
Prints one line per file with the time it took.
"""
import collections
import hashlib
import json
import os
import sys
import tempfile
import time
import zlib

import numpy as np
import torch

def recipe_tensor(entry):
    """The float32 / int64 numpy array of one manifest entry (README recipe)."""
    kind = entry["kind"]
    shape = tuple(entry["shape"])
    if kind == "bn_num_batches_tracked":
        return np.array(entry["value"], dtype=np.int64).reshape(shape)
    seed = [entry["set_seed"], zlib.crc32(entry["hash_key"].encode("utf-8")) & 0xFFFFFFFF]
    z = np.random.default_rng(seed).standard_normal(size=shape)
    if kind in ("conv_weight", "linear_weight"):
        v = (z * entry["gain"]) / np.sqrt(float(entry["fan_in"]))
    elif kind == "bias" or kind == "norm_bias" or kind == "bn_running_mean":
        v = entry["scale"] * z
    elif kind == "norm_weight":
        v = entry["offset"] + entry["scale"] * z
    elif kind == "bn_running_var":
        v = np.exp(entry["exp_scale"] * z)
    else:
        raise ValueError("unknown kind %r for %s" % (kind, entry["key"]))
    return v.astype(np.float32)


def tensor_sha256(array):
    dt = array.dtype.newbyteorder("<")
    return hashlib.sha256(np.ascontiguousarray(array, dtype=dt).tobytes()).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


def build_object(manifest):
    sd = collections.OrderedDict()
    for entry in manifest["tensors"]:
        arr = recipe_tensor(entry)
        got = tensor_sha256(arr)
        if got != entry["sha256"]:
            raise RuntimeError("%s: tensor %s sha256 %s != manifest %s"
                               % (manifest["file"], entry["key"], got, entry["sha256"]))
        sd[entry["key"]] = torch.from_numpy(arr)
    sd._metadata = collections.OrderedDict((prefix, dict(v)) for prefix, v in manifest["metadata"])
    container = manifest["container"]
    if container["python_type"] == "dict":
        meta_in = container["meta"]
        meta = {}
        for k in container["meta_key_order"]:
            meta[k] = tuple(meta_in[k]) if k == "CLASSES" else meta_in[k]
        obj = {}
        for k in container["keys_in_order"]:
            obj[k] = meta if k == "meta" else sd
        return obj
    return sd


def tensors_verified(path, manifest):
    """True when every tensor of the .pth at path matches the manifest."""
    obj = torch.load(path, map_location="cpu")
    sd = obj["state_dict"] if isinstance(obj, dict) and "state_dict" in obj else obj
    if list(sd.keys()) != [e["key"] for e in manifest["tensors"]]:
        return False
    return all(tensor_sha256(sd[e["key"]].numpy()) == e["sha256"] for e in manifest["tensors"])


def rebuild(manifest_path, out_dir):
    t0 = time.monotonic()
    with open(manifest_path) as f:
        manifest = json.load(f)
    target = os.path.join(out_dir, manifest["file"])
    want = manifest["pth_file"]["sha256"]
    if os.path.exists(target):
        if file_sha256(target) == want or tensors_verified(target, manifest):
            print("%s: present and verified (%.1f s)" % (target, time.monotonic() - t0))
            return
        print("%s: present but does not match its manifest, rebuilding" % target)
    obj = build_object(manifest)
    # Same base name inside a private folder: torch.save names the zip
    # records after it, so the bytes equal the official file's.
    tmp_dir = tempfile.mkdtemp(prefix=".rebuild-", dir=out_dir)
    try:
        tmp = os.path.join(tmp_dir, manifest["file"])
        torch.save(obj, tmp)
        got = file_sha256(tmp)
        exact = got == want
        if not exact and not tensors_verified(tmp, manifest):
            raise RuntimeError("%s: written file does not read back as the manifest" % target)
        os.replace(tmp, target)
    finally:
        for leftover in os.listdir(tmp_dir):
            os.unlink(os.path.join(tmp_dir, leftover))
        os.rmdir(tmp_dir)
    print("%s: rebuilt, %d tensors, %d bytes, %s (%.1f s)"
          % (target, len(manifest["tensors"]), os.path.getsize(target),
             "byte-identical to the official file" if exact else "same tensors, other bytes",
             time.monotonic() - t0))


def manifests_of(source):
    if os.path.isdir(source):
        found = sorted(os.path.join(source, n) for n in os.listdir(source) if n.endswith(".weights.json"))
        if not found:
            raise RuntimeError("no *.weights.json manifest in %s" % source)
        return found
    if not source.endswith(".weights.json") or not os.path.isfile(source):
        raise RuntimeError("%s is neither a set folder nor a *.weights.json manifest" % source)
    return [source]


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 1
    out_dir = argv[1]
    os.makedirs(out_dir, exist_ok=True)
    try:
        for source in argv[2:]:
            for manifest_path in manifests_of(source):
                rebuild(manifest_path, out_dir)
    except Exception as e:  # one clear line for the calling test
        print("rebuild_parity_weights: error: %s" % e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
