"""Reference outputs of the classifier networks for tests/models/classifier_parity_test.cpp.

usage: classifier_reference.py OUT_DIR CASES_JSON

CASES_JSON is a list of cases {"name", "backbone", "head", "in_channels",
"num_classes", "seed", "input": [N, C, H, W]} and optionally "adapt": [channel
counts]. For each case this writes, with torch.save:

  <name>.pth     the network's state dict (torchvision / uda key names);
  <name>.io.pth  {"input", "features", "logits"} in eval mode, or for an
                 "adapt" case {"input_nc<k>", "features_nc<k>"} per channel count;
  <name>.json    {"perturbed": keys changed after the seeded construction}.

The networks are built right after torch.manual_seed(seed), so their
parameters are PyTorch's default / torchvision's initialisation, which uda
must reproduce bit for bit under torch::manual_seed(seed). Then the norm
layers get random affine parameters and running statistics (a calibration in
train mode), so that eval mode is not the identity.

MNIST_CNN and the classifiers are written here from the facts of DomainBed
b93c22a domainbed/networks.py (MNIST_CNN :165-208, Classifier :250-259, the
channel adaptation of ResNet :126-135); the ResNets are torchvision's.
"""
import copy
import json
import sys

import torch
import torch.nn.functional as F
import torchvision
from torch import nn


class MNIST_CNN(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 64, 3, 1, padding=1)
        self.conv2 = nn.Conv2d(64, 128, 3, stride=2, padding=1)
        self.conv3 = nn.Conv2d(128, 128, 3, 1, padding=1)
        self.conv4 = nn.Conv2d(128, 128, 3, 1, padding=1)
        self.bn0 = nn.GroupNorm(8, 64)
        self.bn1 = nn.GroupNorm(8, 128)
        self.bn2 = nn.GroupNorm(8, 128)
        self.bn3 = nn.GroupNorm(8, 128)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))

    def forward(self, x):
        x = self.bn0(F.relu(self.conv1(x)))
        x = self.bn1(F.relu(self.conv2(x)))
        x = self.bn2(F.relu(self.conv3(x)))
        x = self.bn3(F.relu(self.conv4(x)))
        return self.avgpool(x).view(len(x), -1)


def classifier(d, c, nonlinear):
    if nonlinear:
        return nn.Sequential(nn.Linear(d, d // 2), nn.ReLU(), nn.Linear(d // 2, d // 4), nn.ReLU(),
                             nn.Linear(d // 4, c))
    return nn.Linear(d, c)


class Split(nn.Module):
    """featurizer + classifier `fc`, keys as uda's MnistCnn (conv*, bn*, fc.*)."""

    def __init__(self, featurizer, fc):
        super().__init__()
        self.featurizer = featurizer
        self.fc = fc

    def state_dict_flat(self):
        sd = {k: v for k, v in self.featurizer.state_dict().items()}
        sd.update({"fc." + k: v for k, v in self.fc.state_dict().items()})
        return sd


def build(case):
    torch.manual_seed(case["seed"])
    c, k = case["in_channels"], case["num_classes"]
    if case["backbone"] == "mnist_cnn":
        return Split(MNIST_CNN(c), classifier(128, k, case["head"] == "mlp"))
    assert case["head"] == "linear" and c == 3, "ResNet references: torchvision's own fc, 3 channels"
    return getattr(torchvision.models, case["backbone"])(num_classes=k)


def flat_state_dict(net):
    return net.state_dict_flat() if isinstance(net, Split) else net.state_dict()


def perturb_norms(net, seed, input_shape):
    g = torch.Generator().manual_seed(seed + 1000)
    norms = [m for m in net.modules() if isinstance(m, (nn.BatchNorm2d, nn.GroupNorm))]
    with torch.no_grad():
        for m in norms:
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
    bns = [m for m in norms if isinstance(m, nn.BatchNorm2d)]
    if bns:  # running statistics of random images, cumulative average
        for m in bns:
            m.reset_running_stats()
            m.momentum = None
        net.train()
        with torch.no_grad():
            for _ in range(2):
                net(torch.randn([8] + input_shape[1:], generator=g))
    net.eval()


def features_and_logits(net, x):
    with torch.no_grad():
        if isinstance(net, Split):
            f = net.featurizer(x)
            return f, net.fc(f)
        fc, net.fc = net.fc, nn.Identity()
        f = net(x)
        net.fc = fc
        return f, net(x)


def domainbed_adapted_features(net, nc, x):
    """DomainBed ResNet.__init__ (:126-139) on a copy: new conv1, channel i = pretrained i % 3, fc Identity."""
    net = copy.deepcopy(net)
    tmp = net.conv1.weight.data.clone()
    net.conv1 = nn.Conv2d(nc, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)
    for i in range(nc):
        net.conv1.weight.data[:, i, :, :] = tmp[:, i % 3, :, :]
    net.fc = nn.Identity()
    net.eval()
    with torch.no_grad():
        return net(x)


def main():
    out, cases = sys.argv[1], json.loads(sys.argv[2])
    torch.set_num_threads(1)
    for case in cases:
        net = build(case)
        init = {k: v.clone() for k, v in flat_state_dict(net).items()}
        perturb_norms(net, case["seed"], case["input"])
        sd = flat_state_dict(net)
        perturbed = [k for k in sd if not torch.equal(sd[k], init[k])]
        torch.save(sd, f"{out}/{case['name']}.pth")
        g = torch.Generator().manual_seed(case["seed"] + 2000)
        io = {}
        if "adapt" in case:
            for nc in case["adapt"]:
                x = torch.randn([case["input"][0], nc] + case["input"][2:], generator=g)
                io[f"input_nc{nc}"] = x
                io[f"features_nc{nc}"] = domainbed_adapted_features(net, nc, x)
        else:
            x = torch.randn(case["input"], generator=g)
            io["input"] = x
            io["features"], io["logits"] = features_and_logits(net, x)
        torch.save(io, f"{out}/{case['name']}.io.pth")
        with open(f"{out}/{case['name']}.json", "w") as f:
            json.dump({"perturbed": perturbed}, f)


if __name__ == "__main__":
    main()
