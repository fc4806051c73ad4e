#!/usr/bin/python3
"""Generate a parity fixture set (golden.h5 + *.weights.json manifests).

Follows the recipe of the public set (tests/fixtures/parity/README.md):
synthetic recipe weights described tensor by tensor by manifests, written
with torch.save, read back with torch.load and loaded (strict) into the
OFFICIAL modules, which then compute every expected output on CPU, float32,
eval mode, one intra-op thread.

The official code is NOT part of this project: it is imported from the
checkouts named on the command line:

  --daformer DIR   github.com/lhoyer/DAFormer at e6f6e04 (the repository root)
  --advent DIR     github.com/valeoai/ADVENT at 3e58d45 (the repository root)
  --mmcv DIR       github.com/open-mmlab/mmcv at v1.3.7 (the repository root)

Only the plumbing listed in the public README is replaced by stand-ins
(registry/config plumbing, fp16 decorators, checkpoint file reading, timm
DropPath/to_2tuple/trunc_normal_, the parameter-free loss module and unused
imports); every other module is the official file, executed unmodified.

Usage (needs Debian's python: torch 1.13, numpy, h5py):

  OMP_NUM_THREADS=1 /usr/bin/python3 scripts/make_parity_set.py \\
      --daformer SRC/DAFormer --advent SRC/ADVENT --mmcv SRC/mmcv \\
      --out OUT --variant mit_b1 --seed-offset 500 --set-name alt-b1 \\
      --sizes alt

  Reproduce the public set's manifests and outputs from its own inputs:

  ... --out /tmp/pub --variant mit_b0 --seed-offset 0 --set-name public \\
      --inputs-from build/fixtures/parity/golden.h5 \\
      --compare build/fixtures/parity

Inputs: with --inputs-from FILE every input (images, helper inputs, LR
iterations, the RCS json) and hence every size is taken from an existing
golden.h5; otherwise they are drawn from --sizes (a preset) with a
deterministic numpy generator seeded by --data-seed (default 1100 + offset);
--daformer-inputs / --daformer-detail / --advent-input / --disc-inputs
override the preset's network input sizes.

The .pth files are written to --work-dir (a temporary folder unless given)
and deleted at the end unless --keep-pth; the fixture folder never holds
them (rebuild them with scripts/rebuild_parity_weights.py).
"""
import argparse
import collections
import copy
import hashlib
import importlib.util
import json
import logging
import math
import os
import shutil
import sys
import tempfile
import textwrap
import types
import warnings
import zlib

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# Debian's torch calls the BLAS behind the libblas.so.3 alternative for
# nn.Linear (and some convolutions). The public set was computed with the
# reference (netlib) BLAS: with it the DAFormer outputs are reproduced bit for
# bit, with OpenBLAS only to ~1e-5. Unless --blas system is given, re-execute
# with the reference BLAS first on the library path (this process only).
REFERENCE_BLAS_DIR = "/usr/lib/x86_64-linux-gnu/blas"
if ("--blas" not in sys.argv or sys.argv[sys.argv.index("--blas") + 1] == "reference") and \
        os.path.exists(os.path.join(REFERENCE_BLAS_DIR, "libblas.so.3")) and \
        os.environ.get("LD_LIBRARY_PATH", "").split(":")[0] != REFERENCE_BLAS_DIR and \
        __name__ == "__main__":
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = ":".join(p for p in [REFERENCE_BLAS_DIR, env.get("LD_LIBRARY_PATH", "")] if p)
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402

DAFORMER_COMMIT = "e6f6e041e7477b642106c134c1715fc934ccd210"
ADVENT_COMMIT = "3e58d45a32fb9763a9d1b459326e1dec7caafe78"
MMCV_REFERENCE = "v1.3.7 (1b59409e94c69cfc8a4dd3e0fa55f02d0ae281d3)"

NUM_CLASSES = 19
IGNORE = 255
MIT_DIMS = {
    "mit_b0": [32, 64, 160, 256],
    "mit_b1": [64, 128, 320, 512],
    "mit_b2": [64, 128, 320, 512],
    "mit_b3": [64, 128, 320, 512],
    "mit_b4": [64, 128, 320, 512],
    "mit_b5": [64, 128, 320, 512],
}
CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light",
    "traffic sign", "vegetation", "terrain", "sky", "person", "rider", "car",
    "truck", "bus", "train", "motorcycle", "bicycle")

# Set seeds of the public set; another set adds --seed-offset to each.
BASE_SEEDS = {
    "model.": 1001,
    "ema_model.": 1002,
    "imagenet": 1003,  # mit_bX_imagenet.pth = imnet_model.backbone.*
    "imnet_model.decode_head.": 1006,
    "deeplabv2": 1020,
    "discriminator": 1022,
}
NUM_BATCHES_TRACKED = {"model.": 80000, "ema_model.": 40000, "imnet_model.": 0,
                       "deeplabv2": 120000}
KIND_CONSTANTS = {
    "bias": {"scale": 0.02},
    "norm_weight": {"offset": 1.0, "scale": 0.1},
    "norm_bias": {"scale": 0.05},
    "bn_running_mean": {"scale": 0.1},
    "bn_running_var": {"exp_scale": 0.2},
}
SQRT2 = math.sqrt(2.0)

# ---------------------------------------------------------------------------
# size presets (network inputs and helper cases)
# ---------------------------------------------------------------------------
PRESETS = {
    # the sizes of the public set (its inputs themselves come from
    # --inputs-from; drawn ones differ from the public data)
    "public": {
        "daformer_inputs": [(2, 64, 64), (1, 128, 128), (1, 96, 160)],
        "daformer_detail": (128, 128),
        "advent_input": (1, 65, 97),
        "entropy": {"shape": (1, 33, 49), "onehot_class": 5},
        "disc_inputs": [((1, 33, 49), "entropy"), ((2, 65, 97), "noise")],
        "downscale": [((2, 64, 64), 4), ((1, 67, 93), 8)],
        "fd": [((2, 256, 256), 64, 32, "things"), ((1, 100, 160), 32, 16, "things"),
               ((1, 64, 64), 16, 16, "stuff")],
        "pseudo_weight": [(2, 160, 128)],
        "lr_iters": [0, 1, 10, 749, 1499, 1500, 1501, 20000, 39999],
        "rcs": {"num_samples": 12, "absent": [16], "tie": (12, 17),
                "temperatures": [0.01, 0.1]},
    },
    # the alternative set: other sizes and other case counts everywhere
    "alt": {
        "daformer_inputs": [(2, 96, 96), (1, 112, 144), (1, 80, 176)],
        "daformer_detail": (112, 144),
        "advent_input": (1, 73, 89),
        "entropy": {"shape": (1, 37, 101), "onehot_class": 11},
        "disc_inputs": [((1, 37, 101), "entropy"), ((3, 48, 80), "noise")],
        "downscale": [((2, 50, 70), 4), ((1, 96, 72), 8), ((1, 33, 47), 2)],
        "fd": [((1, 192, 128), 64, 32, "things"), ((2, 96, 160), 32, 16, "things"),
               ((1, 48, 80), 16, 16, "stuff")],
        "pseudo_weight": [(1, 150, 100), (2, 144, 72)],
        "lr_iters": [0, 3, 100, 750, 1498, 1500, 1502, 25000, 39998, 39999],
        "rcs": {"num_samples": 10, "absent": [4, 16], "tie": (11, 15),
                "temperatures": [0.01, 0.1]},
    },
}


# ---------------------------------------------------------------------------
# loading the official code
# ---------------------------------------------------------------------------
def _pkg(name, path=None):
    """An empty package module whose submodules are found under path."""
    mod = types.ModuleType(name)
    mod.__path__ = [path] if path else []
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, mod)
    return mod


def _stub(name, **attrs):
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules:
        setattr(sys.modules[parent], child, mod)
    return mod


def _load(name, path):
    """Execute one official file, unmodified, as module `name`."""
    if not os.path.isfile(path):
        raise FileNotFoundError(path)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    parent, _, child = name.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, mod)
    spec.loader.exec_module(mod)
    return mod


# ---- stand-ins: registry / config plumbing ---------------------------------
class ConfigDict(dict):
    """Stand-in for mmcv.ConfigDict: a dict with attribute access."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)

    def __setattr__(self, name, value):
        self[name] = value

    def copy(self):
        return ConfigDict(self)


def to_config_dict(obj):
    if isinstance(obj, dict):
        return ConfigDict((k, to_config_dict(v)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_config_dict(v) for v in obj)
    return obj


class Registry:
    """Stand-in for mmcv.utils.Registry (name -> class, build from cfg)."""

    def __init__(self, name, build_func=None, parent=None, scope=None):
        self._name = name
        self._module_dict = {}
        self.parent = parent

    def __len__(self):
        return len(self._module_dict)

    def __contains__(self, key):
        return self.get(key) is not None

    @property
    def name(self):
        return self._name

    @property
    def module_dict(self):
        return self._module_dict

    def get(self, key):
        if key in self._module_dict:
            return self._module_dict[key]
        if self.parent is not None:
            return self.parent.get(key)
        return None

    def build(self, cfg, default_args=None):
        return build_from_cfg(cfg, self, default_args)

    def _register_module(self, module_class, module_name=None, force=False):
        names = module_name if module_name is not None else module_class.__name__
        if isinstance(names, str):
            names = [names]
        for name in names:
            if not force and name in self._module_dict:
                raise KeyError(f"{name} is already registered in {self._name}")
            self._module_dict[name] = module_class

    def register_module(self, name=None, force=False, module=None):
        if module is not None:
            self._register_module(module, name, force)
            return module

        def _register(cls):
            self._register_module(cls, name, force)
            return cls

        return _register


def build_from_cfg(cfg, registry, default_args=None):
    """Stand-in for mmcv.utils.build_from_cfg."""
    if not isinstance(cfg, dict) or "type" not in cfg:
        raise TypeError(f"cfg must be a dict with a type, got {cfg!r}")
    args = cfg.copy()
    if default_args is not None:
        for name, value in default_args.items():
            args.setdefault(name, value)
    obj_type = args.pop("type")
    if isinstance(obj_type, str):
        obj_cls = registry.get(obj_type)
        if obj_cls is None:
            raise KeyError(f"{obj_type} is not in the {registry.name} registry")
    else:
        obj_cls = obj_type
    return obj_cls(**args)


def _merge_a_into_b(a, b):
    """mmcv Config._merge_a_into_b (dict part), including _delete_."""
    b = dict(b)
    for k, v in a.items():
        if isinstance(v, dict) and k in b and not v.pop("_delete_", False):
            if not isinstance(b[k], dict):
                raise TypeError(f"cannot merge non-dict {k}")
            b[k] = _merge_a_into_b(v, b[k])
        else:
            b[k] = v
    return b


def load_config(path):
    """Stand-in for mmcv Config.fromfile for python configs with _base_."""
    path = os.path.abspath(path)
    ns = {}
    with open(path) as f:
        exec(compile(f.read(), path, "exec"), ns)
    cfg = {k: v for k, v in ns.items()
           if not k.startswith("__") and not isinstance(v, types.ModuleType)}
    bases = cfg.pop("_base_", None)
    if bases is not None:
        merged = {}
        for base in bases if isinstance(bases, list) else [bases]:
            bcfg = load_config(os.path.join(os.path.dirname(path), base))
            dup = set(merged) & set(bcfg)
            if dup:
                raise KeyError(f"duplicate keys {dup} in the bases of {path}")
            merged.update(bcfg)
        cfg = _merge_a_into_b(cfg, merged)
    return cfg


# ---- stand-ins: fp16 decorators, checkpoint reading, timm, loss ------------
def auto_fp16(apply_to=None, out_fp32=False):
    """Identity, as mmcv's auto_fp16 when fp16 is off."""
    return lambda f: f


def force_fp32(apply_to=None, out_fp16=False):
    """Identity, as mmcv's force_fp32 when fp16 is off."""
    return lambda f: f


def _load_checkpoint(filename, map_location=None, logger=None):
    """Stand-in for mmcv.runner._load_checkpoint: a plain torch.load."""
    return torch.load(filename, map_location=map_location)


def to_2tuple(x):
    import collections.abc
    if isinstance(x, collections.abc.Iterable):
        return x
    return (x, x)


def trunc_normal_(tensor, mean=0., std=1., a=-2., b=2.):
    return nn.init.trunc_normal_(tensor, mean, std, a, b)


class DropPath(nn.Module):
    """timm DropPath (stochastic depth); the identity in eval mode."""

    def __init__(self, drop_prob=None):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x):
        if self.drop_prob == 0. or not self.training:
            return x
        keep = 1 - self.drop_prob
        shape = (x.shape[0],) + (1,) * (x.ndim - 1)
        mask = keep + torch.rand(shape, dtype=x.dtype, device=x.device)
        return x.div(keep) * mask.floor_()


class ParameterFreeLoss(nn.Module):
    """Stand-in for mmseg CrossEntropyLoss (no parameters, unused in eval)."""

    def __init__(self, use_sigmoid=False, use_mask=False, reduction="mean",
                 class_weight=None, loss_weight=1.0):
        super().__init__()
        self.loss_weight = loss_weight

    def forward(self, cls_score, label, weight=None, **kwargs):
        return self.loss_weight * nn.functional.cross_entropy(
            cls_score, label, ignore_index=IGNORE)


class _Unused:
    def __init__(self, *a, **k):
        raise RuntimeError("stand-in for an import that this generator never uses")


def _unused(*a, **k):
    raise RuntimeError("stand-in for an import that this generator never uses")


def load_official(daformer_dir, advent_dir, mmcv_dir):
    """Import the official modules (with the stand-ins above) and return them."""
    mm = os.path.join(os.path.abspath(mmcv_dir), "mmcv")
    ms = os.path.join(os.path.abspath(daformer_dir), "mmseg")
    ad = os.path.abspath(advent_dir)
    for name in list(sys.modules):
        if name.split(".")[0] in ("mmcv", "mmseg", "timm", "advent", "matplotlib"):
            raise RuntimeError(f"{name} is already imported")

    version = {}
    with open(os.path.join(mm, "version.py")) as f:
        exec(compile(f.read(), "version.py", "exec"), version)
    mmcv_version = version["__version__"]
    if mmcv_version != "1.3.7":
        warnings.warn(f"mmcv checkout is {mmcv_version}, DAFormer requires 1.3.7")

    # ---- mmcv ----
    mmcv = _pkg("mmcv", mm)
    mmcv.ConfigDict = ConfigDict
    mmcv.__version__ = mmcv_version
    _pkg("mmcv.utils", os.path.join(mm, "utils"))
    misc = _load("mmcv.utils.misc", os.path.join(mm, "utils", "misc.py"))
    pw = _load("mmcv.utils.parrots_wrapper", os.path.join(mm, "utils", "parrots_wrapper.py"))
    lg = _load("mmcv.utils.logging", os.path.join(mm, "utils", "logging.py"))
    mu = sys.modules["mmcv.utils"]
    for n in ("is_str", "is_seq_of", "is_list_of", "is_tuple_of", "deprecated_api_warning"):
        setattr(mu, n, getattr(misc, n))
        setattr(mmcv, n, getattr(misc, n))
    mu.TORCH_VERSION = pw.TORCH_VERSION
    mu.get_logger, mu.print_log = lg.get_logger, lg.print_log
    mmcv.print_log = lg.print_log
    mu.Registry, mu.build_from_cfg = Registry, build_from_cfg
    mu.ConfigDict = ConfigDict

    _pkg("mmcv.cnn", os.path.join(mm, "cnn"))
    _pkg("mmcv.cnn.utils", os.path.join(mm, "cnn", "utils"))
    wi = _load("mmcv.cnn.utils.weight_init", os.path.join(mm, "cnn", "utils", "weight_init.py"))
    cu = sys.modules["mmcv.cnn.utils"]
    for n in ("constant_init", "kaiming_init", "normal_init", "xavier_init",
              "trunc_normal_init", "uniform_init", "caffe2_xavier_init",
              "bias_init_with_prob", "initialize", "INITIALIZERS"):
        setattr(cu, n, getattr(wi, n))
    _pkg("mmcv.cnn.bricks", os.path.join(mm, "cnn", "bricks"))
    bricks = os.path.join(mm, "cnn", "bricks")
    reg = _load("mmcv.cnn.bricks.registry", os.path.join(bricks, "registry.py"))
    for n in ("activation", "conv", "norm", "padding", "conv_module",
              "depthwise_separable_conv_module"):
        _load("mmcv.cnn.bricks." + n, os.path.join(bricks, n + ".py"))
    cnn = sys.modules["mmcv.cnn"]
    b = sys.modules["mmcv.cnn.bricks"]
    cnn.ConvModule = b.conv_module.ConvModule
    cnn.DepthwiseSeparableConvModule = b.depthwise_separable_conv_module.DepthwiseSeparableConvModule
    cnn.build_norm_layer = b.norm.build_norm_layer
    cnn.build_conv_layer = b.conv.build_conv_layer
    cnn.build_activation_layer = b.activation.build_activation_layer
    cnn.MODELS = Registry("model")  # mmcv/cnn/builder.py (plumbing)
    cnn.initialize = wi.initialize
    for n in ("constant_init", "kaiming_init", "normal_init", "xavier_init"):
        setattr(cnn, n, getattr(wi, n))
    cnn.ATTENTION = reg.ATTENTION

    _pkg("mmcv.runner", os.path.join(mm, "runner"))
    bm = _load("mmcv.runner.base_module", os.path.join(mm, "runner", "base_module.py"))
    run = sys.modules["mmcv.runner"]
    run.BaseModule, run.Sequential, run.ModuleList = bm.BaseModule, bm.Sequential, bm.ModuleList
    run.auto_fp16, run.force_fp32 = auto_fp16, force_fp32
    run._load_checkpoint = _load_checkpoint
    _pkg("mmcv.runner.hooks", os.path.join(mm, "runner", "hooks"))
    hook = _load("mmcv.runner.hooks.hook", os.path.join(mm, "runner", "hooks", "hook.py"))
    lru = _load("mmcv.runner.hooks.lr_updater", os.path.join(mm, "runner", "hooks", "lr_updater.py"))
    _stub("mmcv.parallel", MMDistributedDataParallel=type("MMDistributedDataParallel", (nn.Module,), {}))

    # ---- timm, matplotlib (stand-ins) ----
    _pkg("timm")
    _pkg("timm.models")
    _stub("timm.models.layers", DropPath=DropPath, to_2tuple=to_2tuple, trunc_normal_=trunc_normal_)
    _pkg("matplotlib")
    _stub("matplotlib.pyplot")

    # ---- mmseg ----
    _pkg("mmseg", ms)
    _pkg("mmseg.core", os.path.join(ms, "core"))
    _pkg("mmseg.core.utils", os.path.join(ms, "core", "utils"))
    core_misc = _load("mmseg.core.utils.misc", os.path.join(ms, "core", "utils", "misc.py"))
    sys.modules["mmseg.core"].add_prefix = core_misc.add_prefix
    sys.modules["mmseg.core"].build_pixel_sampler = _unused
    _pkg("mmseg.ops", os.path.join(ms, "ops"))
    wr = _load("mmseg.ops.wrappers", os.path.join(ms, "ops", "wrappers.py"))
    sys.modules["mmseg.ops"].resize = wr.resize
    sys.modules["mmseg.ops"].Upsample = wr.Upsample
    _pkg("mmseg.utils", os.path.join(ms, "utils"))
    mlog = _load("mmseg.utils.logger", os.path.join(ms, "utils", "logger.py"))
    sys.modules["mmseg.utils"].get_root_logger = mlog.get_root_logger
    mutils = _load("mmseg.utils.utils", os.path.join(ms, "utils", "utils.py"))
    mlog.get_root_logger(log_level=logging.WARNING)

    _pkg("mmseg.models", os.path.join(ms, "models"))
    builder = _load("mmseg.models.builder", os.path.join(ms, "models", "builder.py"))
    mods = sys.modules["mmseg.models"]
    for n in ("BACKBONES", "NECKS", "HEADS", "LOSSES", "SEGMENTORS", "UDA", "MODELS",
              "build_backbone", "build_head", "build_loss", "build_segmentor",
              "build_train_model"):
        setattr(mods, n, getattr(builder, n))
    _stub("mmseg.models.losses", accuracy=_unused)
    builder.LOSSES.register_module(name="CrossEntropyLoss", module=ParameterFreeLoss)
    _pkg("mmseg.models.backbones", os.path.join(ms, "models", "backbones"))
    mit = _load("mmseg.models.backbones.mix_transformer",
                os.path.join(ms, "models", "backbones", "mix_transformer.py"))
    _pkg("mmseg.models.decode_heads", os.path.join(ms, "models", "decode_heads"))
    _stub("mmseg.models.decode_heads.isa_head", ISALayer=_Unused)
    dh = _load("mmseg.models.decode_heads.daformer_head",
               os.path.join(ms, "models", "decode_heads", "daformer_head.py"))
    _pkg("mmseg.models.segmentors", os.path.join(ms, "models", "segmentors"))
    base = _load("mmseg.models.segmentors.base", os.path.join(ms, "models", "segmentors", "base.py"))
    mods.BaseSegmentor = base.BaseSegmentor
    ed = _load("mmseg.models.segmentors.encoder_decoder",
               os.path.join(ms, "models", "segmentors", "encoder_decoder.py"))
    _pkg("mmseg.models.utils", os.path.join(ms, "models", "utils"))
    _stub("mmseg.models.utils.dacs_transforms", denorm=_unused, get_class_masks=_unused,
          get_mean_std=_unused, strong_transform=_unused)
    _stub("mmseg.models.utils.visualization", subplotimg=_unused)
    _pkg("mmseg.models.uda", os.path.join(ms, "models", "uda"))
    _load("mmseg.models.uda.uda_decorator", os.path.join(ms, "models", "uda", "uda_decorator.py"))
    dacs = _load("mmseg.models.uda.dacs", os.path.join(ms, "models", "uda", "dacs.py"))
    _pkg("mmseg.datasets", os.path.join(ms, "datasets"))
    sys.modules["mmseg.datasets"].CityscapesDataset = _Unused
    _stub("mmseg.datasets.builder", DATASETS=Registry("dataset"))
    uda_ds = _load("mmseg.datasets.uda_dataset", os.path.join(ms, "datasets", "uda_dataset.py"))

    # ---- ADVENT (a plain package; its __init__ files are harmless) ----
    sys.path.insert(0, ad)
    import advent.dataset.base_dataset as adv_ds
    import advent.model.deeplabv2 as adv_dl
    import advent.model.discriminator as adv_disc
    import advent.utils.func as adv_func
    for m in (adv_ds, adv_dl, adv_disc, adv_func):
        if not os.path.abspath(m.__file__).startswith(ad + os.sep):
            raise RuntimeError(f"{m.__name__} was not imported from {ad}")

    return types.SimpleNamespace(
        mmcv_version=mmcv_version, mit=mit, daformer_head=dh, encoder_decoder=ed,
        builder=builder, dacs=dacs, dacs_path=os.path.join(ms, "models", "uda", "dacs.py"),
        downscale_label_ratio=mutils.downscale_label_ratio,
        get_rcs_class_probs=uda_ds.get_rcs_class_probs,
        hooks=hook.HOOKS, lr_updater=lru,
        configs=os.path.join(os.path.abspath(daformer_dir), "configs"),
        get_deeplab_v2=adv_dl.get_deeplab_v2,
        get_fc_discriminator=adv_disc.get_fc_discriminator,
        prob_2_entropy=adv_func.prob_2_entropy,
        BaseDataset=adv_ds.BaseDataset,
        advent_config=os.path.join(ad, "advent", "domain_adaptation", "config.py"),
    )


# ---------------------------------------------------------------------------
# weight recipe and manifests
# ---------------------------------------------------------------------------
def crc32(s):
    return zlib.crc32(s.encode("utf-8")) & 0xFFFFFFFF


# The recipe itself (one tensor from its manifest entry) and the per-tensor
# sha256 are the rebuild script's: one implementation of the README's recipe.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rebuild_parity_weights import file_sha256, recipe_tensor as recipe_array, tensor_sha256 as array_sha256  # noqa: E402


def make_entries(module, seed_fn, gain_fn, nbt_fn, hash_fn=None, same_as_fn=None, extra=None):
    """One manifest entry per state_dict key of module (in order).

    seed_fn(key) -> set seed; gain_fn(key) -> gain; nbt_fn(key) -> int;
    hash_fn(key) -> hash key (default: the key); same_as_fn(key) -> str|None.
    extra: list of (key, tensor, module_type) appended (the ImageNet head).
    Returns (entries, arrays) with arrays[key] the recipe numpy array.
    """
    sd = module.state_dict()
    items = [(k, v) for k, v in sd.items()]
    owners = {}
    for k, _ in items:
        prefix, _, _ = k.rpartition(".")
        owners[k] = module.get_submodule(prefix) if prefix else module
    if extra:
        for k, v, owner in extra:
            items.append((k, v))
            owners[k] = owner
    entries, arrays = [], {}
    for key, t in items:
        owner = owners[key]
        mtype = type(owner).__name__
        leaf = key.rsplit(".", 1)[-1]
        if isinstance(owner, (nn.Conv2d, nn.Linear)):
            kind = {"weight": "conv_weight" if isinstance(owner, nn.Conv2d) else "linear_weight",
                    "bias": "bias"}[leaf]
        elif isinstance(owner, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
            kind = {"weight": "norm_weight", "bias": "norm_bias", "running_mean": "bn_running_mean",
                    "running_var": "bn_running_var",
                    "num_batches_tracked": "bn_num_batches_tracked"}[leaf]
        else:
            raise ValueError(f"no recipe kind for {key} ({mtype})")
        e = collections.OrderedDict()
        e["key"] = key
        e["shape"] = list(t.shape)
        e["dtype"] = str(t.dtype).replace("torch.", "")
        e["kind"] = kind
        e["module_type"] = mtype
        if kind == "bn_num_batches_tracked":
            e["value"] = int(nbt_fn(key))
        else:
            e["set_seed"] = int(seed_fn(key))
            e["hash_key"] = hash_fn(key) if hash_fn else key
            if kind in ("conv_weight", "linear_weight"):
                e["gain"] = float(gain_fn(key))
                e["fan_in"] = int(np.prod(t.shape[1:]))
            else:
                e.update(KIND_CONSTANTS[kind])
            sa = same_as_fn(key) if same_as_fn else None
            if sa:
                e["same_as"] = sa
        arr = recipe_array(e)
        if list(arr.shape) != e["shape"] or arr.dtype != t.numpy().dtype:
            raise RuntimeError(f"{key}: recipe shape/dtype mismatch")
        e["sha256"] = array_sha256(arr)
        entries.append(e)
        arrays[key] = arr
    return entries, arrays


def metadata_pairs(module, extra_prefixes=()):
    md = module.state_dict()._metadata
    pairs = [[k, dict(v)] for k, v in md.items()]
    for p in extra_prefixes:
        pairs.append([p, {"version": 1}])
    return pairs


def state_dict_object(entries, arrays, metadata):
    sd = collections.OrderedDict()
    for e in entries:
        sd[e["key"]] = torch.from_numpy(arrays[e["key"]])
    sd._metadata = collections.OrderedDict((k, dict(v)) for k, v in metadata)
    return sd


RECIPE_TEXT = {
    "random_numbers": "z = numpy.random.default_rng([set_seed, zlib.crc32(hash_key.encode('utf-8'))]).standard_normal(size=shape), float64 (numpy Generator API, PCG64); then the kind formula in float64, evaluated left to right; then cast to float32 (round to nearest even); int64 kinds take no random numbers",
    "kinds": {
        "conv_weight": "(z * gain) / sqrt(fan_in), fan_in = prod(shape[1:])",
        "linear_weight": "(z * gain) / sqrt(fan_in), fan_in = prod(shape[1:])",
        "bias": "scale * z, scale = 0.02",
        "norm_weight": "offset + scale * z, offset = 1.0, scale = 0.1",
        "norm_bias": "scale * z, scale = 0.05",
        "bn_running_mean": "scale * z, scale = 0.1",
        "bn_running_var": "exp(exp_scale * z), exp_scale = 0.2",
        "bn_num_batches_tracked": "int64 scalar = value (no random numbers)",
    },
    "sha256": "hex sha256 of the tensor values in C (row-major) order as little-endian float32 bytes (int64 for bn_num_batches_tracked)",
}
OD_CONTENT = "the tensors listed under \"tensors\", in that order; the OrderedDict carries the attribute _metadata = OrderedDict built from \"metadata\" (module prefix -> {\"version\": n}), in that order, as nn.Module.state_dict() returns it"
PTH_NOTE = "the whole-file sha256 only holds for torch 1.13 torch.save writing to a file with exactly this base name (the zip records sit in a folder named after the base name without extension); the per-tensor sha256 values are the authoritative check"


def manifest_text(head, metadata, entries):
    """JSON layout of the public manifests: indent 1, one line per
    metadata pair and per tensor entry."""
    obj = collections.OrderedDict(head)
    obj["metadata"] = "@@METADATA@@"
    obj["tensors"] = "@@TENSORS@@"
    text = json.dumps(obj, indent=1, ensure_ascii=False)
    md = "[\n" + ",\n".join("  " + json.dumps(p, ensure_ascii=False) for p in metadata) + "\n ]"
    te = "[\n" + ",\n".join("  " + json.dumps(e, ensure_ascii=False) for e in entries) + "\n ]"
    return text.replace('"@@METADATA@@"', md).replace('"@@TENSORS@@"', te) + "\n"


def write_pth(obj, work_dir, name):
    path = os.path.join(work_dir, name)
    torch.save(obj, path)
    return path, {
        "name": name,
        "bytes": os.path.getsize(path),
        "sha256": file_sha256(path),
        "torch_version": torch.__version__,
        "written_by": f"torch.save, torch {torch.__version__}, default zip-based format, pickle protocol 2",
        "note": PTH_NOTE,
    }


def manifest_head(file, set_name, description, set_seeds, hash_key_rule, gains, container, pth_file,
                  entries):
    head = collections.OrderedDict()
    head["manifest_version"] = 1
    head["file"] = file
    head["set"] = set_name
    head["description"] = description
    recipe = copy.deepcopy(RECIPE_TEXT)
    recipe["generated_with"] = f"numpy {np.__version__}, torch {torch.__version__}"
    head["recipe"] = recipe
    head["set_seeds"] = set_seeds
    head["hash_key_rule"] = hash_key_rule
    head["gains"] = gains
    head["container"] = container
    head["pth_file"] = pth_file
    head["num_tensors"] = len(entries)
    head["num_values"] = int(sum(int(np.prod(e["shape"])) for e in entries))
    return head


# ---------------------------------------------------------------------------
# inputs
# ---------------------------------------------------------------------------
class Inputs:
    """Every input of a set (arrays and sizes), drawn or read from a file."""


def _rng(data_seed, name):
    return np.random.default_rng([data_seed, crc32(name)])


def draw_image(rng, n, h, w):
    base = rng.uniform(30.0, 225.0, size=(n, 3, 1, 1))
    yy = np.linspace(-1.0, 1.0, h).reshape(1, 1, h, 1)
    xx = np.linspace(-1.0, 1.0, w).reshape(1, 1, 1, w)
    grad = rng.uniform(-45, 45, size=(n, 3, 1, 1)) * yy + rng.uniform(-45, 45, size=(n, 3, 1, 1)) * xx
    img = base + grad + rng.normal(0.0, 22.0, size=(n, 3, h, w))
    img = np.clip(np.rint(img), 0, 255).astype(np.float32)
    return img


def draw_block_labels(rng, n, h, w, block, classes, mix_counts, ignore_dominant_p=0.06, offset=(0, 0)):
    """Label map made of block x block regions (grid shifted by offset), each
    with a dominant label and k replaced pixels, k drawn from mix_counts."""
    oy, ox = offset
    gh = (h + oy + block - 1) // block
    gw = (w + ox + block - 1) // block
    lab = np.empty((n, 1, h, w), dtype=np.int64)
    for i in range(n):
        for by in range(gh):
            for bx in range(gw):
                y0, y1 = max(by * block - oy, 0), min((by + 1) * block - oy, h)
                x0, x1 = max(bx * block - ox, 0), min((bx + 1) * block - ox, w)
                if y1 <= y0 or x1 <= x0:
                    continue
                dom = IGNORE if rng.random() < ignore_dominant_p else int(rng.choice(classes))
                reg = np.full((y1 - y0, x1 - x0), dom, dtype=np.int64)
                k = min(int(rng.choice(mix_counts)), reg.size - 1)
                if k > 0:
                    idx = rng.choice(reg.size, size=k, replace=False)
                    others = [c for c in list(range(NUM_CLASSES)) + [IGNORE] if c != dom]
                    reg.flat[idx] = rng.choice(others, size=k)
                lab[i, 0, y0:y1, x0:x1] = reg
    return lab


def draw_inputs(preset, data_seed):
    P = preset
    I = Inputs()
    I.daformer_images = collections.OrderedDict()
    for n, h, w in P["daformer_inputs"]:
        I.daformer_images[(h, w)] = draw_image(_rng(data_seed, f"daformer/image_rgb_{h}x{w}"), n, h, w)
    I.daformer_detail = tuple(P["daformer_detail"])
    n, h, w = P["advent_input"]
    I.advent_image = draw_image(_rng(data_seed, f"advent/image_rgb_{h}x{w}"), n, h, w)

    n, h, w = P["entropy"]["shape"]
    c = P["entropy"]["onehot_class"]
    r = _rng(data_seed, "advent/entropy_input")
    logits = torch.from_numpy(r.normal(0.0, 2.5, size=(n, NUM_CLASSES, h, w)).astype(np.float32))
    prob = torch.softmax(logits, dim=1).numpy().copy()
    prob[:, :, 0, 0:3] = 0.0
    prob[:, c, 0, 0:3] = 1.0
    I.entropy_input = prob
    I.entropy_onehot_class = c

    I.disc_inputs = []
    for (n, h, w), kind in P["disc_inputs"]:
        r = _rng(data_seed, f"advent/disc_input_{n}x{NUM_CLASSES}x{h}x{w}")
        if kind == "entropy":
            # the input itself is computed with the official prob_2_entropy later
            lg = r.normal(0.0, 2.0, size=(n, NUM_CLASSES, h, w)).astype(np.float32)
            I.disc_inputs.append(("entropy", lg, None))
        else:
            I.disc_inputs.append(("noise", None, r.standard_normal(size=(n, NUM_CLASSES, h, w)).astype(np.float32)))

    I.downscale = []
    for i, ((n, h, w), sf) in enumerate(P["downscale"]):
        r = _rng(data_seed, f"helpers/downscale/case{i}")
        q = sf * sf
        mix = [0, 0, 1, q // 8, q // 4, q // 4, q // 4 + 1, q // 2] if q >= 8 else [0, 0, 1, q // 4, 2]
        gt = draw_block_labels(r, n, h, w, sf, list(range(NUM_CLASSES)), mix)
        I.downscale.append((gt, sf))

    things = [6, 7, 11, 12, 13, 14, 15, 16, 17, 18]
    stuff = [0, 1, 2, 3, 4, 5, 8, 9, 10]
    I.fd = []
    for i, ((n, h, w), ch, sf, kind) in enumerate(P["fd"]):
        r = _rng(data_seed, f"helpers/fd/case{i}")
        classes = list(range(NUM_CLASSES)) if kind == "things" else stuff
        block = sf + sf // 2
        gt = draw_block_labels(r, n, h, w, block, classes, [0, 0, 0, block, block * 2],
                               ignore_dominant_p=0.05, offset=(sf // 4, sf // 2))
        if kind == "stuff":
            gt[np.isin(gt, things)] = IGNORE
        fh, fw = h // sf, w // sf
        if w // fw != sf:
            raise ValueError("fd case: W // w must equal the scale factor")
        fm = r.standard_normal(size=(n, ch, fh, fw)).astype(np.float32)
        fi = (fm + 0.5 * r.standard_normal(size=(n, ch, fh, fw))).astype(np.float32)
        I.fd.append((gt, fm, fi))

    I.pseudo = []
    for i, (n, h, w) in enumerate(P["pseudo_weight"]):
        r = _rng(data_seed, f"helpers/pseudo_weight/case{i}")
        lg = r.normal(0.0, 1.5, size=(n, NUM_CLASSES, h, w))
        blk = 16
        for b in range(n):
            for y in range(0, h, blk):
                for x in range(0, w, blk):
                    lg[b, int(r.integers(NUM_CLASSES)), y:y + blk, x:x + blk] += r.uniform(0.0, 13.0)
        I.pseudo.append(lg.astype(np.float32))

    I.lr_iters = np.array(P["lr_iters"], dtype=np.int64)
    I.rcs_json = draw_rcs_json(_rng(data_seed, "helpers/rcs"), P["rcs"])
    I.rcs_temperatures = list(P["rcs"]["temperatures"])
    return I


def draw_rcs_json(r, spec):
    absent = set(spec["absent"])
    ta, tb = spec["tie"]
    while True:
        samples = []
        for s in range(spec["num_samples"]):
            stats = {}
            for c in range(NUM_CLASSES):
                if c in absent or c == tb:
                    continue
                if c in (0, 8) or r.random() < 0.7:
                    scale = 300000 if c in (0, 2, 8, 10) else (30000 if c < 11 or c == 13 else 4000)
                    stats[c] = int(max(1, round(scale * r.uniform(0.15, 1.6))))
            if ta in stats:
                stats[tb] = stats[ta]  # same counts in the same samples -> tie
            d = collections.OrderedDict((str(c), stats[c]) for c in sorted(stats))
            d["file"] = f"data/gta/labels/{s:05d}_labelTrainIds.png"
            samples.append(d)
        totals = collections.Counter()
        for d in samples:
            for k, v in d.items():
                if k != "file":
                    totals[int(k)] += v
        vals = [v for k, v in totals.items() if k != tb]
        if tb in totals and len(set(vals)) == len(vals):
            break
    return json.dumps(samples, indent=2)


def read_inputs(path):
    """All inputs (and hence all sizes) of an existing golden.h5."""
    import h5py
    I = Inputs()
    with h5py.File(path, "r") as f:
        dg = f["daformer"]
        I.daformer_images = collections.OrderedDict()
        detail = None
        for name in dg:
            if name.startswith("image_rgb_"):
                h, w = (int(v) for v in name[len("image_rgb_"):].split("x"))
                I.daformer_images[(h, w)] = dg[name][()]
            if name.startswith("stage1_"):
                detail = tuple(int(v) for v in name[len("stage1_"):].split("x"))
        I.daformer_detail = detail
        ag = f["advent"]
        imgs = [n for n in ag if n.startswith("image_rgb_")]
        assert len(imgs) == 1
        I.advent_image = ag[imgs[0]][()]
        ent = [n for n in ag if n.startswith("entropy_input_")]
        assert len(ent) == 1
        I.entropy_input = ag[ent[0]][()]
        I.entropy_onehot_class = int(np.argmax(I.entropy_input[0, :, 0, 0]))
        I.disc_inputs = []
        for n in sorted(ag):
            if n.startswith("disc_input_"):
                d = ag[n]
                kind = "entropy" if "prob_2_entropy" in d.attrs["description"] else "noise"
                I.disc_inputs.append((kind, None, d[()]))
        hg = f["helpers"]
        I.downscale = [(hg["downscale"][c]["gt"][()], int(hg["downscale"][c].attrs["scale_factor"]))
                       for c in sorted(hg["downscale"], key=lambda s: int(s[4:]))]
        I.fd = [(hg["fd"][c]["gt"][()], hg["fd"][c]["feat_model"][()], hg["fd"][c]["feat_imnet"][()])
                for c in sorted(hg["fd"], key=lambda s: int(s[4:]))]
        I.pseudo = [hg["pseudo_weight"][c]["ema_logits"][()]
                    for c in sorted(hg["pseudo_weight"], key=lambda s: int(s[4:]))]
        I.lr_iters = hg["lr"]["iters"][()]
        js = hg["rcs"]["sample_class_stats_json"][()]
        I.rcs_json = js.decode("utf-8") if isinstance(js, bytes) else js
        I.rcs_temperatures = sorted(float(hg["rcs"][g].attrs["temperature"])
                                    for g in hg["rcs"] if g.startswith("T"))
    return I


def size_tag(shape):
    return "x".join(str(int(s)) for s in shape)


# ---------------------------------------------------------------------------
# generation
# ---------------------------------------------------------------------------
class ActivationMeter:
    """Largest |value| of every module output (inf/NaN detection)."""

    def __init__(self):
        self.max = 0.0
        self.nonfinite = False
        self.handles = []

    def attach(self, module):
        for m in module.modules():
            self.handles.append(m.register_forward_hook(self._hook))

    def _hook(self, mod, inp, out):
        outs = out if isinstance(out, (list, tuple)) else [out]
        for o in outs:
            if isinstance(o, torch.Tensor) and o.is_floating_point() and o.numel():
                if not torch.isfinite(o).all():
                    self.nonfinite = True
                self.max = max(self.max, float(o.detach().abs().max()))

    def detach(self):
        for h in self.handles:
            h.remove()
        self.handles = []


def loaded_blas():
    """Path of the libblas / libopenblas mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            p = line.split()[-1]
            if "blas" in os.path.basename(p):
                libs.add(os.path.realpath(p))
    return sorted(libs)


def generate(args):
    torch.set_num_threads(1)
    blas = loaded_blas()
    print("BLAS libraries loaded:", ", ".join(blas) or "none")
    if args.blas == "reference" and not any(p.startswith(REFERENCE_BLAS_DIR + "/") for p in blas):
        raise SystemExit("the reference BLAS is not loaded (use --blas system to accept another)")
    torch.manual_seed(0)
    off = args.seed_offset
    seeds = {k: v + off for k, v in BASE_SEEDS.items()}
    variant = args.variant
    if variant not in MIT_DIMS:
        raise SystemExit(f"unknown variant {variant}")
    dims = MIT_DIMS[variant]
    vtag = variant.replace("_", "")  # mit_b1 -> mitb1
    daformer_name = f"daformer_{vtag}"
    imagenet_name = f"{variant}_imagenet"
    deeplab_name = "deeplabv2_r101"
    disc_name = "fc_discriminator"
    set_name = args.set_name

    O = load_official(args.daformer, args.advent, args.mmcv)
    os.makedirs(args.out, exist_ok=True)
    work = args.work_dir or tempfile.mkdtemp(prefix="parity-work-")
    os.makedirs(work, exist_ok=True)
    log = print

    # ---------------- configs ----------------
    exp_cfg = load_config(os.path.join(
        O.configs, "daformer", "gta2cs_uda_warm_fdthings_rcs_croppl_a999_daformer_mitb5_s0.py"))
    dacs_base = load_config(os.path.join(O.configs, "_base_", "uda", "dacs.py"))["uda"]
    poly = load_config(os.path.join(O.configs, "_base_", "schedules", "poly10warm.py"))["lr_config"]
    cfg = to_config_dict(exp_cfg)
    cfg.model.backbone.type = variant
    cfg.model.decode_head.in_channels = list(dims)
    imagenet_pth = os.path.join(work, imagenet_name + ".pth")
    cfg.model.pretrained = imagenet_pth  # the ImageNet file, read by MiT.init_weights
    img_norm = cfg.img_norm_cfg
    mean = np.array(img_norm["mean"], dtype=np.float64)
    std = np.array(img_norm["std"], dtype=np.float64)

    # ---------------- official modules ----------------
    dacs = O.builder.build_train_model(copy.deepcopy(cfg))
    assert type(dacs).__name__ == "DACS"

    # ---------------- ImageNet-style MiT file ----------------
    mit_cls = O.builder.BACKBONES.get(variant)
    imnet_mit = mit_cls()  # raw MiT keys; + classifier head (official mit_b*.pth layout)
    head = nn.Linear(dims[3], 1000)
    imnet_mit.head = head
    im_entries, im_arrays = make_entries(
        imnet_mit, seed_fn=lambda k: seeds["imagenet"], gain_fn=lambda k: 1.0, nbt_fn=None)
    im_md = metadata_pairs(imnet_mit)
    del imnet_mit.head
    im_obj = state_dict_object(im_entries, im_arrays, im_md)
    _, im_pth_info = write_pth(im_obj, work, imagenet_name + ".pth")
    del im_obj

    # ---------------- DAFormer / DACS checkpoint ----------------
    def seg_prefix(k):
        for p in ("model.", "ema_model.", "imnet_model."):
            if k.startswith(p):
                return p
        raise KeyError(k)

    def da_seed(k):
        if k.startswith("imnet_model.backbone."):
            return seeds["imagenet"]
        if k.startswith("imnet_model.decode_head."):
            return seeds["imnet_model.decode_head."]
        return seeds[seg_prefix(k)]

    def da_gain(k):
        return 10.0 if k.endswith("decode_head.conv_seg.weight") else 1.0

    def da_hash(k):
        return k[len("imnet_model.backbone."):] if k.startswith("imnet_model.backbone.") else k

    def da_same(k):
        if k.startswith("imnet_model.backbone."):
            return f"{imagenet_name}.pth: {k[len('imnet_model.backbone.'):]}"
        return None

    da_entries, da_arrays = make_entries(
        dacs, seed_fn=da_seed, gain_fn=da_gain, nbt_fn=lambda k: NUM_BATCHES_TRACKED[seg_prefix(k)],
        hash_fn=da_hash, same_as_fn=da_same)
    for e in da_entries:  # imnet_model.backbone.* are exactly the ImageNet file's tensors
        if e["key"].startswith("imnet_model.backbone."):
            assert e["sha256"] == next(x["sha256"] for x in im_entries if x["key"] == e["hash_key"])
    da_md = metadata_pairs(dacs)
    da_sd = state_dict_object(da_entries, da_arrays, da_md)
    da_obj = {"meta": {"iter": int(cfg.runner.max_iters), "CLASSES": CITYSCAPES_CLASSES},
              "state_dict": da_sd}
    da_pth, da_pth_info = write_pth(da_obj, work, daformer_name + ".pth")
    del da_obj, da_sd, da_arrays

    # ---------------- ADVENT ----------------
    deeplab = O.get_deeplab_v2(num_classes=NUM_CLASSES, multi_level=True)

    def dl_gain(k):
        if k == "conv1.weight":
            return 0.025
        parts = k.split(".")
        if parts[0] in ("layer1", "layer2", "layer3", "layer4") and parts[2] in ("conv1", "conv2"):
            return SQRT2
        if parts[0] in ("layer1", "layer2", "layer3", "layer4") and parts[2] == "conv3":
            return 0.25
        if parts[0] in ("layer5", "layer6"):
            return 3.0
        return 1.0

    dl_entries, dl_arrays = make_entries(
        deeplab, seed_fn=lambda k: seeds["deeplabv2"], gain_fn=dl_gain,
        nbt_fn=lambda k: NUM_BATCHES_TRACKED["deeplabv2"])
    dl_md = metadata_pairs(deeplab)
    dl_pth, dl_pth_info = write_pth(state_dict_object(dl_entries, dl_arrays, dl_md), work, deeplab_name + ".pth")
    del dl_arrays

    disc = O.get_fc_discriminator(num_classes=NUM_CLASSES, ndf=64)
    last = max(int(k.split(".")[0]) for k in disc.state_dict())
    di_entries, di_arrays = make_entries(
        disc, seed_fn=lambda k: seeds["discriminator"],
        gain_fn=lambda k: 1.0 if int(k.split(".")[0]) == last else SQRT2, nbt_fn=None)
    di_md = metadata_pairs(disc)
    di_pth, di_pth_info = write_pth(state_dict_object(di_entries, di_arrays, di_md), work, disc_name + ".pth")
    del di_arrays

    # ---------------- manifests ----------------
    def prefix_counts(entries, prefixes):
        return [{"prefix": p, "count": sum(e["key"].startswith(p) for e in entries)} for p in prefixes]

    manifests = {}
    manifests[daformer_name] = manifest_text(manifest_head(
        daformer_name + ".pth", set_name,
        f"DAFormer/DACS training checkpoint layout (mmcv save_checkpoint style) for backbone {variant} with DAFormerHead (daformer_sepaspp): the state dict of the official DACS module (student \"model\", teacher \"ema_model\", frozen \"imnet_model\"); synthetic recipe weights, not a trained model",
        collections.OrderedDict([("model.", seeds["model."]), ("ema_model.", seeds["ema_model."]),
                                 ("imnet_model.backbone.", seeds["imagenet"]),
                                 ("imnet_model.decode_head.", seeds["imnet_model.decode_head."])]),
        f"hash_key = the full state_dict key (with its segmentor prefix), except for imnet_model.backbone.* where hash_key = the key without \"imnet_model.backbone.\" and the set seed is that of {imagenet_name}.pth: these tensors are exactly the tensors of {imagenet_name}.pth (DACS loads that file into imnet_model.backbone with strict=False); every entry states its own set_seed and hash_key",
        [{"applies_to": "decode_head.conv_seg.weight of every segmentor (model, ema_model, imnet_model)", "gain": 10.0},
         {"applies_to": "every other conv_weight and linear_weight", "gain": 1.0},
         {"applies_to": "imnet_model.backbone.* (as in the ImageNet file)", "gain": 1.0}],
        collections.OrderedDict([
            ("python_type", "dict"),
            ("keys_in_order", ["meta", "state_dict"]),
            ("meta", {"iter": int(cfg.runner.max_iters), "CLASSES": list(CITYSCAPES_CLASSES)}),
            ("meta_python_types", {"iter": "int", "CLASSES": f"tuple of {len(CITYSCAPES_CLASSES)} str (a JSON list here)"}),
            ("meta_key_order", ["iter", "CLASSES"]),
            ("state_dict", "collections.OrderedDict holding the tensors listed under \"tensors\", in that order, with the attribute _metadata = OrderedDict built from \"metadata\" (module prefix -> {\"version\": n}), in that order, as mmcv weights_to_cpu keeps it"),
            ("key_prefixes", prefix_counts(da_entries, [f"{s}.{m}." for s in ("model", "ema_model", "imnet_model")
                                                         for m in ("backbone", "decode_head")])),
            ("num_batches_tracked", {k: NUM_BATCHES_TRACKED[k] for k in ("model.", "ema_model.", "imnet_model.")}),
        ]),
        da_pth_info, da_entries), da_md, da_entries)
    manifests[imagenet_name] = manifest_text(manifest_head(
        imagenet_name + ".pth", set_name,
        f"ImageNet-style MiT weights file for {variant} (raw MixVisionTransformer keys followed by a classifier head.weight (1000 x {dims[3]}) and head.bias), same layout as the official mit_b*.pth files; synthetic recipe weights, not a trained model",
        {"all keys": seeds["imagenet"]}, "hash_key = the state_dict key",
        [{"applies_to": "every conv_weight and linear_weight (MiT backbone and ImageNet head)", "gain": 1.0}],
        collections.OrderedDict([("python_type", "collections.OrderedDict"), ("content", OD_CONTENT)]),
        im_pth_info, im_entries), im_md, im_entries)
    manifests[deeplab_name] = manifest_text(manifest_head(
        deeplab_name + ".pth", set_name,
        "ADVENT DeepLabV2-ResNet101 state dict: get_deeplab_v2(num_classes=19, multi_level=True) (ResNetMulti); synthetic recipe weights, not a trained model",
        {"all keys": seeds["deeplabv2"]}, "hash_key = the state_dict key",
        [{"applies_to": "conv1.weight (stem 7x7 conv; the input is not divided by a std)", "gain": 0.025},
         {"applies_to": "layer1..layer4 Bottleneck conv1.weight and conv2.weight", "gain": SQRT2},
         {"applies_to": "layer1..layer4 Bottleneck conv3.weight (last conv of the residual branch)", "gain": 0.25},
         {"applies_to": "layer5.conv2d_list.*.weight and layer6.conv2d_list.*.weight (classifiers)", "gain": 3.0},
         {"applies_to": "every other conv_weight (layerN.0.downsample.0.weight)", "gain": 1.0}],
        collections.OrderedDict([("python_type", "collections.OrderedDict"), ("content", OD_CONTENT),
                                 ("num_batches_tracked", NUM_BATCHES_TRACKED["deeplabv2"])]),
        dl_pth_info, dl_entries), dl_md, dl_entries)
    manifests[disc_name] = manifest_text(manifest_head(
        disc_name + ".pth", set_name,
        "ADVENT fully-convolutional discriminator state dict: get_fc_discriminator(num_classes=19, ndf=64) (nn.Sequential, convs at indices 0, 2, 4, 6, 8); synthetic recipe weights, not a trained model",
        {"all keys": seeds["discriminator"]}, "hash_key = the state_dict key",
        [{"applies_to": "0.weight, 2.weight, 4.weight, 6.weight (convs followed by LeakyReLU)", "gain": SQRT2},
         {"applies_to": "8.weight (last conv)", "gain": 1.0}],
        collections.OrderedDict([("python_type", "collections.OrderedDict"), ("content", OD_CONTENT)]),
        di_pth_info, di_entries), di_md, di_entries)
    for name, text in manifests.items():
        with open(os.path.join(args.out, name + ".weights.json"), "w", encoding="utf-8") as f:
            f.write(text)
        log(f"wrote {name}.weights.json")

    # ---------------- inputs ----------------
    if args.inputs_from:
        I = read_inputs(args.inputs_from)
        log(f"inputs read from {args.inputs_from}")
    else:
        preset = copy.deepcopy(PRESETS[args.sizes])
        if args.daformer_inputs:
            preset["daformer_inputs"] = [(d[0], d[2], d[3]) for d in map(parse_nchw, args.daformer_inputs.split(","))]
        if args.daformer_detail:
            preset["daformer_detail"] = tuple(int(v) for v in args.daformer_detail.split("x"))
        if args.advent_input:
            s = parse_nchw(args.advent_input)
            preset["advent_input"] = (s[0], s[2], s[3])
        if args.disc_inputs:
            lst = []
            for i, s in enumerate(args.disc_inputs.split(",")):
                d = parse_nchw(s)
                lst.append(((d[0], d[2], d[3]), "entropy" if i == 0 else "noise"))
            preset["disc_inputs"] = lst
            preset["entropy"]["shape"] = lst[0][0]
        data_seed = args.data_seed if args.data_seed is not None else 1100 + off
        I = draw_inputs(preset, data_seed)
        log(f"inputs drawn from preset {args.sizes!r}, data seed {data_seed}")
    if I.daformer_detail not in I.daformer_images:
        raise SystemExit(f"detail size {I.daformer_detail} is not one of the DAFormer inputs")

    # ---------------- load the weights back (torch.load) ----------------
    meter = ActivationMeter()
    dacs.init_weights()  # MiT.init_weights: non-strict load of the ImageNet file
    imnet_bb_after_init = {k: v.clone() for k, v in dacs.imnet_model.backbone.state_dict().items()}
    ckpt = torch.load(da_pth, map_location="cpu")
    assert list(ckpt.keys()) == ["meta", "state_dict"]
    dacs.load_state_dict(ckpt["state_dict"], strict=True)
    del ckpt
    for k, v in dacs.imnet_model.backbone.state_dict().items():
        assert torch.equal(v, imnet_bb_after_init[k]), k
    del imnet_bb_after_init
    dacs.eval()
    meter.attach(dacs)
    deeplab.load_state_dict(torch.load(dl_pth, map_location="cpu"), strict=True)
    deeplab.eval()
    meter.attach(deeplab)
    disc.load_state_dict(torch.load(di_pth, map_location="cpu"), strict=True)
    disc.eval()
    meter.attach(disc)

    import h5py
    out_h5 = os.path.join(args.out, "golden.h5")
    tmp_h5 = out_h5 + ".tmp"
    ranges = collections.defaultdict(lambda: [np.inf, -np.inf])

    def track(tag, a):
        r = ranges[tag]
        r[0] = min(r[0], float(np.nanmin(a)))
        r[1] = max(r[1], float(np.nanmax(a)))

    with torch.no_grad(), h5py.File(tmp_h5, "w") as f:
        f.attrs["advent_commit"] = args.advent_commit
        f.attrs["daformer_commit"] = args.daformer_commit
        f.attrs["mmcv_reference"] = args.mmcv_reference
        f.attrs["set"] = set_name
        f.attrs["torch_version"] = str(torch.__version__)
        f.attrs["weights"] = "synthetic recipe weights; each .pth is described by <name>.weights.json (rebuild it from there)"

        def ds(group, name, data, description, **attrs):
            d = group.create_dataset(name, data=data)
            d.attrs["description"] = description
            for k, v in attrs.items():
                d.attrs[k] = v
            return d

        # ---------------- DAFormer ----------------
        g = f.create_group("daformer")
        g.attrs["backbone"] = variant
        g.attrs["checkpoint"] = daformer_name + ".pth"
        g.attrs["checkpoint_manifest"] = daformer_name + ".weights.json"
        g.attrs["commit"] = args.daformer_commit
        g.attrs["decoder"] = "DAFormerHead (daformer_sepaspp)"
        g.attrs["imagenet_file"] = imagenet_name + ".pth"
        g.attrs["imagenet_manifest"] = imagenet_name + ".weights.json"
        g.attrs["num_classes"] = np.int64(cfg.model.decode_head.num_classes)
        model, ema, imnet = dacs.get_model(), dacs.get_ema_model(), dacs.get_imnet_model()
        for (h, w), img in I.daformer_images.items():
            tag = f"{h}x{w}"
            inp = (img - mean.astype(np.float32).reshape(1, 3, 1, 1)) / std.astype(np.float32).reshape(1, 3, 1, 1)
            assert inp.dtype == np.float32
            x = torch.from_numpy(inp)
            metas = [dict(img_shape=(h, w, 3), ori_shape=(h, w, 3), pad_shape=(h, w, 3))
                     for _ in range(img.shape[0])]
            ds(g, f"image_rgb_{tag}", img, "raw RGB image, integer values 0..255 stored as float32, NCHW")
            ds(g, f"input_{tag}", inp, "network input: (image_rgb - mean)/std per channel, RGB, NCHW",
               mean=mean, std=std)
            logits = model.encode_decode(x, metas).numpy()
            ds(g, f"model_logits_{tag}", logits,
               "EncoderDecoder.encode_decode of 'model.*' weights: decode-head logits bilinearly resized (align_corners=False) to input size")
            track("DAFormer logits", logits)
            el = ema.encode_decode(x, metas).numpy()
            ds(g, f"ema_logits_{tag}", el, "same as model_logits but with the 'ema_model.*' weights")
            track("DAFormer logits", el)
            if (h, w) == I.daformer_detail:
                feats = model.extract_feat(x)
                for i, ft in enumerate(feats):
                    ds(g, f"stage{i + 1}_{tag}", ft.numpy(),
                       f"MiT backbone output {i + 1} (after norm{i + 1}) of 'model.*' weights, NCHW")
                    track("backbone stage maps", ft.numpy())
                hl = model._decode_head_forward_test(feats, metas)
                ds(g, f"model_head_logits_{tag}", hl.numpy(),
                   "DAFormerHead output of 'model.*' before the final resize (1/4 input size)")
                re = O.encoder_decoder.resize(input=hl, size=x.shape[2:], mode="bilinear",
                                              align_corners=model.align_corners)
                assert torch.equal(re, torch.from_numpy(logits))
                for i, ft in enumerate(imnet.extract_feat(x)):
                    ds(g, f"imnet_stage{i + 1}_{tag}", ft.numpy(),
                       f"MiT backbone output {i + 1} of 'imnet_model.backbone.*' (= {imagenet_name}.pth loaded non-strictly)")
                    track("backbone stage maps", ft.numpy())

        # ---------------- ADVENT ----------------
        g = f.create_group("advent")
        g.attrs["checkpoint"] = deeplab_name + ".pth"
        g.attrs["checkpoint_manifest"] = deeplab_name + ".weights.json"
        g.attrs["commit"] = args.advent_commit
        g.attrs["discriminator"] = disc_name + ".pth"
        g.attrs["discriminator_manifest"] = disc_name + ".weights.json"
        g.attrs["model"] = "get_deeplab_v2(num_classes=19, multi_level=True)"
        img = I.advent_image
        n, _, h, w = img.shape
        tag = f"{h}x{w}"
        img_mean = advent_img_mean(O.advent_config)
        ds_obj = types.SimpleNamespace(mean=img_mean)
        ainp = np.stack([O.BaseDataset.preprocess(ds_obj, img[i].transpose(1, 2, 0).copy()).copy()
                         for i in range(n)])
        ds(g, f"image_rgb_{tag}", img, "raw RGB image, integer values 0..255 as float32, NCHW")
        ds(g, f"input_{tag}", ainp,
           "network input: BGR channel order, image - IMG_MEAN(BGR), no std division (advent BaseDataset.preprocess), NCHW",
           img_mean_bgr=img_mean.astype(np.float64))
        aux, main = deeplab(torch.from_numpy(ainp))
        ds(g, f"pred_aux_{tag}", aux.numpy(),
           "first output of ResNetMulti.forward (layer5 on layer3 features), eval mode")
        ds(g, f"pred_main_{tag}", main.numpy(),
           "second output of ResNetMulti.forward (layer6 on layer4 features), eval mode")
        up = nn.Upsample(size=(h, w), mode="bilinear", align_corners=True)(main)
        ds(g, f"pred_main_upsampled_{tag}", up.numpy(),
           "pred_main upsampled to input size with nn.Upsample(bilinear, align_corners=True) as in eval_UDA.py")
        track("DeepLabV2 predictions", aux.numpy())
        track("DeepLabV2 predictions", main.numpy())

        ent = I.entropy_input
        etag = size_tag(ent.shape)
        ds(g, f"entropy_input_{etag}", ent,
           f"softmax probability map; pixels [:, :, 0, 0:3] are exactly one-hot (class {I.entropy_onehot_class})")
        ds(g, f"entropy_output_{etag}", O.prob_2_entropy(torch.from_numpy(ent)).numpy(),
           "prob_2_entropy(prob) = -prob*log2(prob+1e-30)/log2(19), (N,19,H,W)")
        for kind, logits, x in I.disc_inputs:
            if x is None:
                x = O.prob_2_entropy(torch.softmax(torch.from_numpy(logits), dim=1)).numpy()
            dtag = size_tag(x.shape)
            desc = ("discriminator input = prob_2_entropy(softmax(random logits)), NCHW" if kind == "entropy"
                    else "discriminator input = standard normal noise, NCHW")
            ds(g, f"disc_input_{dtag}", x, desc)
            y = disc(torch.from_numpy(x)).numpy()
            ds(g, f"disc_output_{dtag}", y, "get_fc_discriminator(19, 64) output (N,1,h,w), eval mode")
            track("discriminator outputs", y)

        # ---------------- helpers ----------------
        hg = f.create_group("helpers")
        gg = hg.create_group("downscale")
        min_ratio = float(exp_cfg["uda"]["imnet_feature_dist_scale_min_ratio"])
        for i, (gt, sf) in enumerate(I.downscale):
            c = gg.create_group(f"case{i}")
            c.attrs["ignore_index"] = np.int64(IGNORE)
            c.attrs["min_ratio"] = min_ratio
            c.attrs["n_classes"] = np.int64(NUM_CLASSES)
            c.attrs["scale_factor"] = np.int64(sf)
            out = O.downscale_label_ratio(torch.from_numpy(gt), sf, min_ratio, NUM_CLASSES, IGNORE)
            ds(c, "gt", gt, "input label map (N,1,H,W), int64, 255 = ignore")
            ds(c, "output", out.numpy().astype(np.int64),
               f"downscale_label_ratio(gt, scale_factor={sf}, min_ratio={min_ratio:g}, n_classes={NUM_CLASSES}, ignore_index={IGNORE}), int64 (N,1,H//sf,W//sf)",
               scale_factor=np.int64(sf))

        gg = hg.create_group("fd")

        class StoredFeatures(nn.Module):
            def __init__(self, feat):
                super().__init__()
                self.feat = feat

            def extract_feat(self, img):
                return [self.feat]

        real_imnet = dacs.imnet_model
        for i, (gt, fm, fi) in enumerate(I.fd):
            c = gg.create_group(f"case{i}")
            dacs.imnet_model = StoredFeatures(torch.from_numpy(fi))
            try:
                feat_loss, _ = dacs.calc_feat_dist(None, torch.from_numpy(gt), [torch.from_numpy(fm)])
            finally:
                dacs.imnet_model = real_imnet
            mask = dacs.debug_fdist_mask
            c.attrs["fdist_classes"] = np.array(dacs.fdist_classes, dtype=np.int64)
            c.attrs["fdist_lambda"] = float(dacs.fdist_lambda)
            c.attrs["fdist_scale_min_ratio"] = float(dacs.fdist_scale_min_ratio)
            c.attrs["note"] = "" if bool(mask.any()) else "empty mask -> mean of empty -> NaN"
            c.attrs["scale_factor"] = np.int64(gt.shape[-1] // fm.shape[-1])
            ds(c, "fdist_mask", mask.numpy().astype(np.uint8), "thing-class mask (N,1,h,w), bool stored as uint8")
            ds(c, "feat_imnet", fi, "ImageNet-model features feat_imnet[-1] (N,C,h,w)")
            ds(c, "feat_model", fm, "student features feat[-1] (N,C,h,w)")
            ds(c, "gt", gt, "source label map (N,1,H,W) int64, 255 = ignore")
            ds(c, "gt_rescaled", dacs.debug_gt_rescale.numpy().astype(np.int64),
               "downscale_label_ratio(gt, W//w, 0.75, 19, 255) int64 (N,1,h,w)")
            assert feat_loss.dtype == torch.float32 and feat_loss.dim() == 0
            ds(c, "loss", feat_loss.numpy(),
               "fdist_lambda * mean(pixel_dist[mask]) as returned by DACS.calc_feat_dist (float32 scalar)")
            ds(c, "loss_unscaled", (feat_loss / dacs.fdist_lambda).numpy(),
               "loss / fdist_lambda, informative only (float32)")
            ds(c, "pixel_dist", torch.norm(torch.from_numpy(fm) - torch.from_numpy(fi), dim=1, p=2).numpy(),
               "per-pixel L2 distance over channels (N,h,w) (intermediate of masked_feat_dist)")

        # LR (official PolyLrUpdaterHook on an AdamW optimizer)
        lr_cfg = dict(poly)
        policy = lr_cfg.pop("policy")
        base_lr = float(cfg.optimizer.lr)
        head_mult = float(cfg.optimizer.paramwise_cfg.custom_keys.head.lr_mult)
        hook = O.hooks.build(dict(type=policy.title() + "LrUpdaterHook", **lr_cfg))
        p0, p1 = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
        opt = torch.optim.AdamW([{"params": [p0]}, {"params": [p1], "lr": base_lr * head_mult}],
                                lr=base_lr, betas=tuple(cfg.optimizer.betas),
                                weight_decay=cfg.optimizer.weight_decay)
        runner = types.SimpleNamespace(optimizer=opt, iter=0, epoch=0,
                                       max_iters=int(cfg.runner.max_iters), max_epochs=None)
        hook.before_run(runner)
        lrs, lrs_head = [], []
        for it in I.lr_iters:
            runner.iter = int(it)
            hook.before_train_iter(runner)
            lrs.append(opt.param_groups[0]["lr"])
            lrs_head.append(opt.param_groups[1]["lr"])
        gg = hg.create_group("lr")
        gg.attrs["base_lr"] = base_lr
        gg.attrs["head_lr_mult"] = head_mult
        gg.attrs["max_iters"] = np.int64(cfg.runner.max_iters)
        gg.attrs["min_lr"] = float(lr_cfg["min_lr"])
        gg.attrs["power"] = float(lr_cfg["power"])
        gg.attrs["warmup"] = lr_cfg["warmup"]
        gg.attrs["warmup_iters"] = np.int64(lr_cfg["warmup_iters"])
        gg.attrs["warmup_ratio"] = float(lr_cfg["warmup_ratio"])
        ds(gg, "iters", np.asarray(I.lr_iters, dtype=np.int64),
           "0-based runner.iter values at which before_train_iter was called")
        ds(gg, "lr", np.array(lrs, dtype=np.float64),
           f"learning rate of a base param group (lr {short_float(base_lr)}), float64")
        ds(gg, "lr_head", np.array(lrs_head, dtype=np.float64),
           f"learning rate of a 'head' param group (initial lr {short_float(base_lr)}*{head_mult}), float64")

        # pseudo-label weight: the official lines of DACS.forward_train
        first, last = args.pseudo_lines
        with open(O.dacs_path) as fh:
            src = fh.read().splitlines()[first - 1:last]
        code = textwrap.dedent("\n".join(src))
        lines = code.splitlines()
        if not lines[0].startswith("ema_softmax = torch.softmax(ema_logits.detach(), dim=1)") or \
                "pseudo_weight[:, -self.psweight_ignore_bottom:, :] = 0" not in lines[-1]:
            raise SystemExit(f"dacs.py lines {first}-{last} are not the pseudo-weight lines")
        split = next(i for i, l in enumerate(lines) if l.startswith("pseudo_weight = pseudo_weight * torch.ones("))
        part1 = compile("\n".join(lines[:split]), f"{O.dacs_path}:{first}", "exec")
        part2 = compile("\n".join(lines[split:]), f"{O.dacs_path}:{first + split}", "exec")

        def pseudo(ema_logits, top, bottom):
            me = types.SimpleNamespace(pseudo_threshold=dacs.pseudo_threshold,
                                       psweight_ignore_top=top, psweight_ignore_bottom=bottom)
            ns = {"torch": torch, "np": np, "self": me, "ema_logits": ema_logits, "dev": torch.device("cpu")}
            exec(part1, ns)
            scalar = ns["pseudo_weight"]
            exec(part2, ns)
            return ns, scalar

        gg = hg.create_group("pseudo_weight")
        btop, bbot = int(dacs_base["pseudo_weight_ignore_top"]), int(dacs_base["pseudo_weight_ignore_bottom"])
        for i, lg in enumerate(I.pseudo):
            c = gg.create_group(f"case{i}")
            c.attrs["official_lines"] = f"mmseg/models/uda/dacs.py lines {first}-{last}"
            c.attrs["pseudo_threshold"] = float(dacs.pseudo_threshold)
            ns, scalar = pseudo(torch.from_numpy(lg), btop, bbot)
            ns2, scalar2 = pseudo(torch.from_numpy(lg), dacs.psweight_ignore_top, dacs.psweight_ignore_bottom)
            assert scalar == scalar2 and isinstance(scalar, float)
            ds(c, "ema_logits", lg, "teacher logits (N,19,H,W)")
            ds(c, "pseudo_label", ns["pseudo_label"].numpy().astype(np.int64), "argmax class (N,H,W) int64")
            ds(c, "pseudo_prob", ns["pseudo_prob"].numpy(), "max softmax probability (N,H,W) float32")
            ds(c, "pseudo_weight", ns["pseudo_weight"].numpy(),
               f"pseudo_weight map (N,H,W) float32, ignore_top={btop}, ignore_bottom={bbot} (dacs.py base)")
            ds(c, "pseudo_weight_croppl", ns2["pseudo_weight"].numpy(),
               f"pseudo_weight map with pseudo_weight_ignore_top={dacs.psweight_ignore_top} and pseudo_weight_ignore_bottom={dacs.psweight_ignore_bottom} (DAFormer experiment config)",
               ignore_bottom=np.int64(dacs.psweight_ignore_bottom), ignore_top=np.int64(dacs.psweight_ignore_top))
            ds(c, "weight_scalar", np.float64(scalar),
               f"fraction of pixels with pseudo_prob >= {dacs.pseudo_threshold:g} (python float64)")

        # RCS
        gg = hg.create_group("rcs")
        samples = json.loads(I.rcs_json)
        stats = np.zeros((len(samples), NUM_CLASSES), dtype=np.int64)
        for s, d in enumerate(samples):
            for k, v in d.items():
                if k != "file":
                    stats[s, int(k)] = v
        rcs_dir = tempfile.mkdtemp(prefix="rcs-", dir=work)
        with open(os.path.join(rcs_dir, "sample_class_stats.json"), "w") as fh:
            fh.write(I.rcs_json)
        for T in I.rcs_temperatures:
            classes, probs = O.get_rcs_class_probs(rcs_dir, T)
            c = gg.create_group(f"T{T:g}")
            c.attrs["temperature"] = float(T)
            ds(c, "classes", np.array(classes, dtype=np.int64),
               "RCS class ids sorted by ascending total pixel count (stable for ties)")
            ds(c, "probs", np.asarray(probs, dtype=np.float32),
               "RCS sampling probability for each entry of classes (float32)", temperature=float(T))
        ds(gg, "sample_class_stats", stats,
           f"per-sample pixel counts (num_samples,{NUM_CLASSES}) int64; 0 = class absent from that sample (key not present in the json)")
        d = gg.create_dataset("sample_class_stats_json", data=I.rcs_json, dtype=h5py.string_dtype("utf-8"))
        d.attrs["description"] = "the exact sample_class_stats.json text fed to get_rcs_class_probs"
        shutil.rmtree(rcs_dir)
    os.replace(tmp_h5, out_h5)
    meter.detach()
    log(f"wrote {out_h5}")
    log(f"largest |activation| over every module output: {meter.max:.4g}; non-finite: {meter.nonfinite}")
    for k, (lo, hi) in ranges.items():
        log(f"range of {k}: {lo:.4g} to {hi:.4g}")
    if args.extra_checks:
        extra_checks(O, cfg, dacs, deeplab, disc, da_pth, out_h5, I.daformer_detail)

    if not args.keep_pth:
        for p in (da_pth, imagenet_pth, dl_pth, di_pth):
            os.unlink(p)
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    else:
        log(f".pth files kept in {work}")


def extra_checks(O, cfg, dacs, deeplab, disc, da_pth, out_h5, detail):
    """Not stored: (1) the official tools/test.py loading path (revise_keys,
    strict=False) reproduces model_logits; (2) float64 recomputation of every
    network output (the float32 noise floor)."""
    import re
    import h5py
    seg = O.builder.build_segmentor(copy.deepcopy(cfg.model))
    sd = torch.load(da_pth, map_location="cpu")["state_dict"]
    for p, r in [(r"^module\.", ""), ("model.", "")]:  # tools/test.py revise_keys
        sd = collections.OrderedDict((re.sub(p, r, k), v) for k, v in sd.items())
    missing, unexpected = seg.load_state_dict(sd, strict=False)
    seg.eval()
    h, w = detail
    with torch.no_grad(), h5py.File(out_h5, "r") as f:
        x = torch.from_numpy(f[f"daformer/input_{h}x{w}"][()])
        same = torch.equal(seg.encode_decode(x, None), torch.from_numpy(f[f"daformer/model_logits_{h}x{w}"][()]))
        print(f"tools/test.py path (revise_keys, strict=False): missing {len(missing)}, "
              f"ignored {len(unexpected)}, model_logits_{h}x{w} identical: {same}")
        dacs.double(), deeplab.double(), disc.double()
        diffs = collections.defaultdict(float)

        def upd(tag, a, ref):
            diffs[tag] = max(diffs[tag], float(np.max(np.abs(a.numpy() - ref.astype(np.float64)))))

        model, ema, imnet = dacs.get_model(), dacs.get_ema_model(), dacs.get_imnet_model()
        for name in f["daformer"]:
            if name.startswith("input_"):
                tag = name[len("input_"):]
                x = torch.from_numpy(f["daformer"][name][()]).double()
                upd("DAFormer logits", model.encode_decode(x, None), f[f"daformer/model_logits_{tag}"][()])
                upd("DAFormer logits", ema.encode_decode(x, None), f[f"daformer/ema_logits_{tag}"][()])
                if f"daformer/stage1_{tag}" in f:
                    feats = model.extract_feat(x)
                    for i, ft in enumerate(feats):
                        upd("stage maps", ft, f[f"daformer/stage{i + 1}_{tag}"][()])
                    upd("head logits", model._decode_head_forward_test(feats, None),
                        f[f"daformer/model_head_logits_{tag}"][()])
                    for i, ft in enumerate(imnet.extract_feat(x)):
                        upd("stage maps", ft, f[f"daformer/imnet_stage{i + 1}_{tag}"][()])
        for name in f["advent"]:
            if name.startswith("input_"):
                tag = name[len("input_"):]
                aux, main = deeplab(torch.from_numpy(f["advent"][name][()]).double())
                upd("DeepLabV2 predictions", aux, f[f"advent/pred_aux_{tag}"][()])
                upd("DeepLabV2 predictions", main, f[f"advent/pred_main_{tag}"][()])
            if name.startswith("disc_input_"):
                tag = name[len("disc_input_"):]
                upd("discriminator", disc(torch.from_numpy(f["advent"][name][()]).double()),
                    f[f"advent/disc_output_{tag}"][()])
            if name.startswith("entropy_input_"):
                tag = name[len("entropy_input_"):]
                upd("entropy", O.prob_2_entropy(torch.from_numpy(f["advent"][name][()]).double()),
                    f[f"advent/entropy_output_{tag}"][()])
        for k, v in diffs.items():
            print(f"float64 recomputation: {k} within {v:.3g} of the stored float32 values")
    dacs.float(), deeplab.float(), disc.float()


def advent_img_mean(config_path):
    """cfg.TEST.IMG_MEAN of advent/domain_adaptation/config.py (read without
    importing easydict: the literal line is evaluated)."""
    with open(config_path) as f:
        for line in f:
            if line.startswith("cfg.TEST.IMG_MEAN ="):
                return eval(line.split("=", 1)[1], {"np": np})
    raise SystemExit("cfg.TEST.IMG_MEAN not found in " + config_path)


def short_float(v):
    """6e-05 -> '6e-5' (the spelling of the public descriptions)."""
    t = f"{v:g}"
    mant, sep, exp = t.partition("e")
    return mant + sep + (exp[0] + exp[1:].lstrip("0") if sep else "")


def parse_nchw(s):
    v = tuple(int(x) for x in s.strip().split("x"))
    if len(v) != 4:
        raise SystemExit(f"expected NxCxHxW, got {s}")
    return v


# ---------------------------------------------------------------------------
# comparison with a reference set
# ---------------------------------------------------------------------------
def compare(out_dir, ref_dir):
    import h5py
    ok = True
    print(f"comparing {out_dir} with {ref_dir}")
    for fn in sorted(os.listdir(ref_dir)):
        if not fn.endswith(".weights.json"):
            continue
        a = os.path.join(out_dir, fn)
        if not os.path.exists(a):
            print(f"  {fn}: missing")
            ok = False
            continue
        ta, tb = open(a, "rb").read(), open(os.path.join(ref_dir, fn), "rb").read()
        ma, mb = json.loads(ta), json.loads(tb)
        sha_a = [(e["key"], e["sha256"]) for e in ma["tensors"]]
        sha_b = [(e["key"], e["sha256"]) for e in mb["tensors"]]
        same_sha = sha_a == sha_b
        diff_fields = [k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k)]
        print(f"  {fn}: bytes identical {ta == tb}; {len(sha_b)} tensor sha256 identical {same_sha}; "
              f"pth_file identical {ma['pth_file'] == mb['pth_file']}; differing fields {sorted(diff_fields)}")
        ok &= same_sha
    fa, fb = h5py.File(os.path.join(out_dir, "golden.h5"), "r"), h5py.File(os.path.join(ref_dir, "golden.h5"), "r")
    names_a, names_b = {}, {}
    fa.visititems(lambda n, o: names_a.__setitem__(n, o))
    fb.visititems(lambda n, o: names_b.__setitem__(n, o))
    if set(names_a) != set(names_b):
        print("  objects only in new:", sorted(set(names_a) - set(names_b)))
        print("  objects only in ref:", sorted(set(names_b) - set(names_a)))
        ok = False

    def attrs_equal(x, y):
        if set(x.attrs) != set(y.attrs):
            return False
        for k in x.attrs:
            u, v = x.attrs[k], y.attrs[k]
            if isinstance(u, np.ndarray) or isinstance(v, np.ndarray):
                if not (np.array_equal(u, v) and np.asarray(u).dtype == np.asarray(v).dtype):
                    return False
            elif type(u) != type(v) or u != v:
                return False
        return True

    if not attrs_equal(fa, fb):
        print("  file attributes differ:", dict(fa.attrs), dict(fb.attrs))
    worst = 0.0
    for n in sorted(set(names_a) & set(names_b)):
        x, y = names_a[n], names_b[n]
        if not attrs_equal(x, y):
            print(f"  {n}: attributes differ: {dict(x.attrs)} vs {dict(y.attrs)}")
            ok = False
        if isinstance(y, h5py.Dataset):
            if x.shape != y.shape or x.dtype != y.dtype:
                print(f"  {n}: shape/dtype {x.shape} {x.dtype} vs {y.shape} {y.dtype}")
                ok = False
                continue
            u, v = x[()], y[()]
            if h5py.check_string_dtype(y.dtype):
                same = u == v
                print(f"  {n}: string identical {same}")
                ok &= bool(same)
                continue
            u, v = np.asarray(u), np.asarray(v)
            nan_same = np.array_equal(np.isnan(u), np.isnan(v)) if u.dtype.kind == "f" else True
            if u.dtype.kind == "f":
                m = ~np.isnan(v)
                d = float(np.max(np.abs(u[m].astype(np.float64) - v[m].astype(np.float64)))) if m.any() else 0.0
            else:
                d = float(np.max(np.abs(u.astype(np.int64) - v.astype(np.int64)))) if u.size else 0.0
            worst = max(worst, d)
            exact = np.array_equal(u, v, equal_nan=u.dtype.kind == "f")
            print(f"  {n}: {'bit-identical' if exact else 'max abs diff %.3g' % d}{'' if nan_same else ' (NaN positions differ)'}")
            ok &= nan_same
    print(f"largest dataset max abs diff: {worst:.3g}")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--daformer", required=True, help="DAFormer checkout (e6f6e04)")
    ap.add_argument("--advent", required=True, help="ADVENT checkout (3e58d45)")
    ap.add_argument("--mmcv", required=True, help="mmcv checkout (v1.3.7)")
    ap.add_argument("--out", required=True, help="output folder (golden.h5 + manifests)")
    ap.add_argument("--variant", default="mit_b0", help="MiT variant (mit_b0 = public set)")
    ap.add_argument("--seed-offset", type=int, default=0, help="added to every public set seed")
    ap.add_argument("--set-name", default="public", help="value of the 'set' attribute / field")
    ap.add_argument("--sizes", choices=sorted(PRESETS), default="public", help="size preset for drawn inputs")
    ap.add_argument("--daformer-inputs", help="comma list of NxCxHxW DAFormer inputs (overrides the preset)")
    ap.add_argument("--daformer-detail", help="HxW of the DAFormer input with stage/head/imnet datasets")
    ap.add_argument("--advent-input", help="NxCxHxW of the DeepLabV2 input")
    ap.add_argument("--disc-inputs", help="comma list NxCxHxW: entropy-derived input, then noise input(s)")
    ap.add_argument("--data-seed", type=int, help="seed of the drawn inputs (default 1100 + offset)")
    ap.add_argument("--inputs-from", help="take every input from this golden.h5 instead of drawing them")
    ap.add_argument("--work-dir", help="where the .pth files are written (default: a temporary folder)")
    ap.add_argument("--keep-pth", action="store_true", help="keep the .pth files in --work-dir")
    ap.add_argument("--compare", help="reference set folder to compare the result with")
    ap.add_argument("--extra-checks", action="store_true",
                    help="also check the tools/test.py loading path and recompute the outputs in float64")
    ap.add_argument("--pseudo-lines", type=int, nargs=2, default=(272, 286),
                    help="the lines of dacs.py that compute the pseudo-label weight")
    ap.add_argument("--blas", choices=("reference", "system"), default="reference",
                    help="reference: run with Debian's netlib libblas (as the public set); system: as installed")
    ap.add_argument("--daformer-commit", default=DAFORMER_COMMIT)
    ap.add_argument("--advent-commit", default=ADVENT_COMMIT)
    ap.add_argument("--mmcv-reference", default=MMCV_REFERENCE)
    args = ap.parse_args()
    warnings.filterwarnings("ignore", message="DeprecationWarning: pretrained is a deprecated")
    generate(args)
    if args.compare:
        return 0 if compare(args.out, args.compare) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
