"""Export a PyTorch generator as a dcgan generator checkpoint, with latents and PyTorch's output.

This is how PyTorch-trained weights come into dcgan, and the oracle of the end-to-end test
tests/e2e/test_cli_sample.cpp: `dcgan sample --latents latents.npy --npy out.npy` must equal
expected.npy (PyTorch's eval-mode output).

    /usr/bin/python3 tools/reference/export_generator.py --arch dcgan --img-size 32 --channels 1 \
        --latent-dim 50 --ngf 24 --kernel 5 --seed 3 --n 16 --out DIR
writes DIR/generator.safetensors, DIR/latents.npy (n, latent_dim), DIR/expected.npy (n, C, H, W).

The weights are the DCGAN init followed by a few train-mode forward passes (so BatchNorm's running
statistics are not the trivial 0/1) and a random perturbation of BN's affine parameters.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, weights_init  # noqa: E402
from safetensors_io import save_file  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", choices=["seed", "dcgan"], required=True)
    ap.add_argument("--img-size", type=int, required=True)
    ap.add_argument("--channels", type=int, required=True)
    ap.add_argument("--latent-dim", type=int, required=True)
    ap.add_argument("--ngf", type=int, required=True)
    ap.add_argument("--kernel", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(a.seed)
    g, _ = build(a.arch, a.latent_dim, a.channels, a.img_size, a.ngf, 8, a.kernel)
    g.apply(weights_init)
    g.train()
    with torch.no_grad():
        for _ in range(3):  # non-trivial running statistics
            g(torch.randn(8, a.latent_dim))
        for m in g.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.add_(0.1 * torch.randn_like(m.weight))
                m.bias.add_(0.1 * torch.randn_like(m.bias))
    g.eval()
    z = torch.randn(a.n, a.latent_dim)
    with torch.no_grad():
        out = g(z)
    os.makedirs(a.out, exist_ok=True)
    tensors = {"generator." + k: v for k, v in g.state_dict().items()}
    meta = {"arch": a.arch, "img_size": str(a.img_size), "channels": str(a.channels),
            "latent_dim": str(a.latent_dim), "ngf": str(a.ngf), "kernel": str(a.kernel)}
    save_file(tensors, os.path.join(a.out, "generator.safetensors"), meta)
    np.save(os.path.join(a.out, "latents.npy"), z.numpy().astype(np.float32))
    np.save(os.path.join(a.out, "expected.npy"), out.numpy().astype(np.float32))


if __name__ == "__main__":
    main()
