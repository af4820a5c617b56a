#!/usr/bin/python3
"""Reference data from PyTorch for the evaluation code (src/ops/cross_entropy.cpp, src/eval/classifier.cpp).

    /usr/bin/python3 tools/reference/make_reference_eval.py --out build/reference/eval

Version 1. Run by tests/unit/test_cross_entropy.cpp and tests/e2e/test_cli_eval.cpp themselves
(into DCGAN_REFERENCE_DIR/eval), so the data never goes stale. Deterministic: every case draws
from its own torch.Generator seeded from the case name. Files are safetensors written with
safetensors_io; metadata values are strings.

DIR/cross_entropy_<case>.safetensors  torch.nn.functional.cross_entropy (mean reduction)
    logits (N, K) F32             inputs (float32, as stored)
    labels (N) I64                class indices
    loss (1) F32                  cross_entropy(logits, labels), computed in float64, rounded
    dlogits (N, K) F32            gradient of grad_out * loss w.r.t. logits (float64, rounded)
    meta: kind=op, op=cross_entropy, N, K, grad_out, computed_in=float64, description

DIR/classifier_<case>.safetensors    the feature network of src/eval/classifier.cpp as a
    PyTorch module (Classifier below, same state_dict names), random weights and non-trivial
    BatchNorm running statistics, run in eval mode in float64:
    <state_dict name>              F32 (num_batches_tracked I64)
    ref.x (N, C, S, S) F32             images in [-1, 1]
    ref.features (N, feature_dim) F32  output of features.<last> (the Linear before the ReLU)
    ref.logits (N, num_classes) F32
    meta: kind=classifier, img_size, channels, width, feature_dim, num_classes (the keys our
          classifier files carry, so FeatureNet loads the file as it is), N, computed_in=float64
"""
from __future__ import annotations

import argparse
import os
import sys
import zlib

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_io import save_file  # noqa: E402

FORMAT_VERSION = "1"


def gen_for(name: str) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return g


def f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).cpu().numpy()


class Classifier(nn.Module):
    """The C++ feature network (src/eval/classifier.cpp), layer for layer.

    features: log2(S / 4) blocks [Conv2d(k4, s2, p1, bias=False), BatchNorm2d, LeakyReLU(0.2)],
              widths width * 2^i capped at 4 * width, down to 4x4; Flatten; Linear(16 c, feature_dim)
    classifier: ReLU, Linear(feature_dim, num_classes)
    The evaluation features are the output of the last `features` layer (before the ReLU).
    """

    def __init__(self, img_size=32, channels=1, width=32, feature_dim=64, num_classes=10):
        super().__init__()
        layers = []
        c_in, c = channels, width
        s = img_size
        while s > 4:
            layers += [nn.Conv2d(c_in, c, 4, 2, 1, bias=False), nn.BatchNorm2d(c), nn.LeakyReLU(0.2)]
            c_in, c, s = c, min(c * 2, 4 * width), s // 2
        layers += [nn.Flatten(), nn.Linear(c_in * 16, feature_dim)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))

    def forward(self, x):
        f = self.features(x)
        return f, self.classifier(f)


def make_cross_entropy(out_dir: str, tag: str, n: int, k: int, scale: float, grad_out: float = 1.0,
                       logits: torch.Tensor | None = None) -> None:
    name = f"cross_entropy_{tag}"
    g = gen_for(name)
    if logits is None:
        logits = torch.randn(n, k, generator=g, dtype=torch.float32) * scale
    labels = torch.randint(0, k, (n,), generator=g, dtype=torch.int64)
    x = logits.to(torch.float64).requires_grad_(True)
    loss = F.cross_entropy(x, labels, reduction="mean")
    (loss * grad_out).backward()
    save_file({"logits": f32(logits), "labels": labels.numpy(), "loss": f32(loss.reshape(1)),
               "dlogits": f32(x.grad)},
              os.path.join(out_dir, name + ".safetensors"),
              {"kind": "op", "op": "cross_entropy", "format_version": FORMAT_VERSION, "N": str(n),
               "K": str(k), "grad_out": repr(float(grad_out)), "computed_in": "float64",
               "torch_version": torch.__version__,
               "description": f"F.cross_entropy, mean reduction, logits ~ N(0, {scale}^2)"})


def make_classifier(out_dir: str, tag: str, img: int, ch: int, width: int, fdim: int, ncls: int,
                    n: int) -> None:
    name = f"classifier_{tag}"
    g = gen_for(name)
    torch.manual_seed(zlib.crc32(name.encode()))
    net = Classifier(img, ch, width, fdim, ncls)
    with torch.no_grad():  # non-trivial BatchNorm affine parameters and running statistics
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.3 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(7)
    x = torch.rand(n, ch, img, img, generator=g, dtype=torch.float32) * 2 - 1
    state = {k: (v.numpy() if v.dtype == torch.int64 else f32(v)) for k, v in net.state_dict().items()}
    net64 = Classifier(img, ch, width, fdim, ncls).double()
    net64.load_state_dict(net.state_dict())
    net64.eval()
    with torch.no_grad():
        feats, logits = net64(x.double())
    tensors = dict(state)
    tensors.update({"ref.x": f32(x), "ref.features": f32(feats), "ref.logits": f32(logits)})
    save_file(tensors, os.path.join(out_dir, name + ".safetensors"),
              {"kind": "classifier", "format_version": FORMAT_VERSION, "img_size": str(img),
               "channels": str(ch), "width": str(width), "feature_dim": str(fdim),
               "num_classes": str(ncls), "N": str(n), "computed_in": "float64",
               "torch_version": torch.__version__,
               "description": "Classifier in eval mode on uniform [-1, 1] images"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", required=True, help="output directory (created)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    make_cross_entropy(args.out, "n1_k2", 1, 2, 1.0)
    make_cross_entropy(args.out, "n64_k10", 64, 10, 3.0)
    make_cross_entropy(args.out, "n7_k1000_g0.5", 7, 1000, 2.0, grad_out=0.5)
    make_cross_entropy(args.out, "n33_k10_scale100", 33, 10, 100.0, grad_out=-1.5)
    # Logits that overflow exp() in float32 unless the maximum is subtracted first.
    extreme = torch.tensor([[1e4, -1e4, 0.0], [-3e4, 3e4, 2.9e4], [88.0, 89.0, 90.0],
                            [-1e30, 0.0, 1e30], [5.0, 5.0, 5.0]], dtype=torch.float32)
    make_cross_entropy(args.out, "n5_k3_extreme", 5, 3, 1.0, logits=extreme)
    make_classifier(args.out, "32px_c1", 32, 1, 32, 64, 10, 6)
    make_classifier(args.out, "64px_c3_w8", 64, 3, 8, 16, 5, 3)
    make_classifier(args.out, "16px_c1_w4", 16, 1, 4, 8, 3, 2)
    print(f"wrote eval reference data to {args.out}")


if __name__ == "__main__":
    main()
