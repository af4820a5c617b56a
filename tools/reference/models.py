"""The two DCGAN architectures in PyTorch: the oracle every reference and bench script uses.

Run with /usr/bin/python3 (PyTorch 1.13 CPU). Shapes: N batch, C channels, H x W image.

seed   -- the seed document's networks (docs/seed.md, from PyTorch-GAN's dcgan.py), with
          its parameter names and its quirk of BatchNorm2d(out, 0.8) (eps = 0.8) in D.
          SeedGenerator:     z (N, latent) -> l1 Linear -> view (N, 8ngf, s, s), s = img_size/16
                             -> 4 x [BN, ReLU, ConvT(stride 2)] -> Tanh  -> (N, C, H, W)
          SeedDiscriminator: (N, C, H, W) -> Conv, LReLU, 3 x [Conv, BN(eps 0.8), LReLU]
                             -> flatten -> adv_layer Linear -> Sigmoid    -> (N, 1)
          With ngf = ndf = 16 the widths are exactly the seed's 128/64/32/16.
dcgan  -- pytorch/examples dcgan/main.py generalised to img_size = 4 * 2^m (m >= 2):
          DCGANGenerator:     z (N, latent) viewed as (N, latent, 1, 1) -> ConvT(4, 1, 0) to 4x4
                              -> (m-1) x [ConvT(stride 2), BN, ReLU] (BN/ReLU also after the
                              projection) -> ConvT(ngf -> C, stride 2) -> Tanh
          DCGANDiscriminator: Conv(C -> ndf, stride 2), LReLU, (m-1) x [Conv(stride 2), BN, LReLU]
                              -> Conv(4, 1, 0) to 1x1 -> Sigmoid -> (N, 1)
          All convs bias-free, BN eps 1e-5. For 64 px the module names are exactly main.py's
          (main.0 ... main.13 in G, main.0 ... main.12 in D). main.py returns D's output as (N,)
          via .view(-1, 1).squeeze(1); we return (N, 1) for both architectures, so one BCE target
          shape fits both.

Kernel 4: padding 1, output_padding 0. Kernel 5: padding 2, output_padding 1 (transposed only), so
every stride-2 layer halves / doubles the size exactly. The dcgan projection (G's first ConvT)
and D's final conv are always kernel 4, stride 1, padding 0.
"""
from __future__ import annotations

import torch
from torch import nn


def conv_padding(kernel: int) -> tuple[int, int]:
    """(padding, output_padding) of a stride-2 layer that exactly halves / doubles the size."""
    if kernel == 4:
        return 1, 0
    if kernel == 5:
        return 2, 1
    raise ValueError(f"kernel must be 4 or 5, got {kernel}")


def _check_seed_size(img_size: int) -> None:
    if img_size < 16 or img_size % 16 != 0:
        raise ValueError(f"img_size must be a multiple of 16 (>= 16) for seed, got {img_size}")


def _dcgan_depth(img_size: int) -> int:
    """m such that img_size = 4 * 2^m, m >= 2."""
    m, s = 0, img_size
    while s > 4 and s % 2 == 0:
        s //= 2
        m += 1
    if s != 4 or m < 2:
        raise ValueError(f"img_size must be 4 * 2^m with m >= 2 (16, 32, 64, ...) for dcgan, "
                         f"got {img_size}")
    return m


class SeedGenerator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, img_size: int, ngf: int = 16,
                 kernel: int = 4, bn_eps: float = 1e-5):
        super().__init__()
        _check_seed_size(img_size)
        p, op = conv_padding(kernel)
        self.init_size = img_size // 16
        self.ngf = ngf
        self.l1 = nn.Sequential(nn.Linear(latent_dim, ngf * 8 * self.init_size ** 2))

        def block(cin, cout):
            return [nn.BatchNorm2d(cin, eps=bn_eps), nn.ReLU(inplace=True),
                    nn.ConvTranspose2d(cin, cout, kernel, stride=2, padding=p, output_padding=op)]

        self.model = nn.Sequential(
            *block(ngf * 8, ngf * 4),   # model.0 BN, model.2 ConvT
            *block(ngf * 4, ngf * 2),   # model.3, model.5
            *block(ngf * 2, ngf),       # model.6, model.8
            *block(ngf, channels),      # model.9, model.11
            nn.Tanh(),                  # model.12
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z (N, latent) -> (N, C, H, W)
        out = self.l1(z)
        out = out.view(out.shape[0], self.ngf * 8, self.init_size, self.init_size)
        return self.model(out)


class SeedDiscriminator(nn.Module):
    def __init__(self, channels: int, img_size: int, ndf: int = 16, kernel: int = 4,
                 bn_eps: float = 0.8):
        super().__init__()
        _check_seed_size(img_size)
        p, _ = conv_padding(kernel)

        def block(cin, cout, bn=True):
            layers = [nn.Conv2d(cin, cout, kernel, stride=2, padding=p)]
            if bn:
                layers.append(nn.BatchNorm2d(cout, eps=bn_eps))
            layers.append(nn.LeakyReLU(0.2, inplace=True))
            return layers

        self.model = nn.Sequential(
            *block(channels, ndf, bn=False),  # model.0 Conv
            *block(ndf, ndf * 2),             # model.2 Conv, model.3 BN
            *block(ndf * 2, ndf * 4),         # model.5, model.6
            *block(ndf * 4, ndf * 8),         # model.8, model.9
        )
        ds_size = img_size // 16
        self.adv_layer = nn.Sequential(nn.Linear(ndf * 8 * ds_size ** 2, 1), nn.Sigmoid())

    def forward(self, img: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, 1)
        out = self.model(img)
        out = out.view(out.shape[0], -1)
        return self.adv_layer(out)


class DCGANGenerator(nn.Module):
    def __init__(self, latent_dim: int, channels: int, img_size: int, ngf: int = 64,
                 kernel: int = 4):
        super().__init__()
        m = _dcgan_depth(img_size)
        p, op = conv_padding(kernel)
        c = ngf * 2 ** (m - 1)
        layers = [nn.ConvTranspose2d(latent_dim, c, 4, 1, 0, bias=False),  # projection to 4x4
                  nn.BatchNorm2d(c), nn.ReLU(True)]
        for _ in range(m - 1):
            layers += [nn.ConvTranspose2d(c, c // 2, kernel, 2, p, op, bias=False),
                       nn.BatchNorm2d(c // 2), nn.ReLU(True)]
            c //= 2
        layers += [nn.ConvTranspose2d(c, channels, kernel, 2, p, op, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:  # z (N, latent) -> (N, C, H, W)
        return self.main(z.view(z.shape[0], z.shape[1], 1, 1))


class DCGANDiscriminator(nn.Module):
    def __init__(self, channels: int, img_size: int, ndf: int = 64, kernel: int = 4):
        super().__init__()
        m = _dcgan_depth(img_size)
        p, _ = conv_padding(kernel)
        layers = [nn.Conv2d(channels, ndf, kernel, 2, p, bias=False), nn.LeakyReLU(0.2, True)]
        c = ndf
        for _ in range(m - 1):
            layers += [nn.Conv2d(c, c * 2, kernel, 2, p, bias=False), nn.BatchNorm2d(c * 2),
                       nn.LeakyReLU(0.2, True)]
            c *= 2
        layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False), nn.Sigmoid()]
        self.main = nn.Sequential(*layers)

    def forward(self, img: torch.Tensor) -> torch.Tensor:  # (N, C, H, W) -> (N, 1)
        return self.main(img).view(-1, 1)


def weights_init(m: nn.Module) -> None:
    """The DCGAN recipe (pytorch/examples main.py, PyTorch-GAN weights_init_normal):
    Conv / ConvTranspose weights N(0, 0.02) (their biases keep PyTorch's default init),
    BatchNorm weight N(1, 0.02) and bias 0. Linear keeps PyTorch's default init.
    Use as net.apply(weights_init); draws from torch's global RNG."""
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight.data, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight.data, 1.0, 0.02)
        nn.init.constant_(m.bias.data, 0)


def build(arch: str, latent_dim: int, channels: int, img_size: int, ngf: int, ndf: int,
          kernel: int = 4) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for arch 'seed' or 'dcgan', with PyTorch default init
    (apply weights_init yourself)."""
    if arch == "seed":
        return (SeedGenerator(latent_dim, channels, img_size, ngf, kernel),
                SeedDiscriminator(channels, img_size, ndf, kernel))
    if arch == "dcgan":
        return (DCGANGenerator(latent_dim, channels, img_size, ngf, kernel),
                DCGANDiscriminator(channels, img_size, ndf, kernel))
    raise ValueError(f"arch must be 'seed' or 'dcgan', got {arch!r}")


if __name__ == "__main__":  # print both architectures' state_dict names and shapes
    for arch, size in (("seed", 32), ("dcgan", 64)):
        g, d = build(arch, 100, 3, size, 16 if arch == "seed" else 64, 16 if arch == "seed" else 64)
        for tag, net in (("generator", g), ("discriminator", d)):
            for k, v in net.state_dict().items():
                print(f"{arch} {tag}.{k} {tuple(v.shape)}")
