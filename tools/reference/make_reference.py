#!/usr/bin/python3
"""Reference data from PyTorch, the oracle the C++ tests replay.

    /usr/bin/python3 tools/reference/make_reference.py --out build/reference
    /usr/bin/python3 tools/reference/make_reference.py --find-salts   (after changing TRAIN_CONFIGS)

Deterministic: every case draws from its own torch.Generator seeded from the case name (adding a
case never changes another). Files are Hugging Face safetensors written with safetensors_io;
every tensor is float32 (F32) except BatchNorm `num_batches_tracked`, a 0-dim int64 (I64) as in a
PyTorch state_dict. Every file's __metadata__ holds `kind` (op / model / train), `format_version`,
`torch_version`, `computed_in` and `description`, plus the keys listed below. All metadata values
are strings (numbers as Python writes them, booleans "1" / "0").

Precision. ops/ and models/ take float32 inputs and parameters (as stored) and compute outputs and
gradients in float64, then round to float32 (computed_in = "float64"): the stored results are the
exact answers to float32 rounding, so a C++ tolerance measures only the C++ error. train/ runs
PyTorch in float32 (computed_in = "float32"), exactly as a user's PyTorch training would.

Layout
======

DIR/ops/<op>_<shape and options>.safetensors -- one layer on random inputs.
  <op> is the file-name prefix and the metadata key `op`: linear, conv2d, convtranspose2d,
  batchnorm2d, relu, leakyrelu, tanh, sigmoid, bceloss, bcewithlogitsloss.
  Layers (gradients are of dot(y, gy) with a random upstream gradient gy):
    x (input), y (output), gy (same shape as y), dx
    linear            weight (out, in), [bias (out)], dweight, [dbias]
                      meta: N, in, out, bias
    conv2d            weight (C_out, C_in, k, k), [bias (C_out)], dweight, [dbias]
    convtranspose2d   weight (C_in, C_out, k, k), [bias (C_out)], dweight, [dbias]
                      meta: N, C_in, C_out, H, W, Ho, Wo, kernel, stride, padding,
                            output_padding, bias
    batchnorm2d       train mode: weight, bias (C), running_mean_before, running_var_before,
                      running_mean_after, running_var_after (C), save_mean (batch mean),
                      save_invstd (1 / sqrt(biased batch var + eps)), y, dx, dweight, dbias;
                      eval mode with the updated running stats: y_eval (no gradients)
                      meta: N, C, H, W, eps, momentum
    relu / tanh / sigmoid / leakyrelu   x, y, gy, dx          meta: slope (leakyrelu: 0.2)
  Reductions also carry <name>_abssum (same shape as <name>): the same sum with every term
  replaced by its absolute value (linear / conv: y, dx, dweight, dbias; batchnorm2d: dx, dweight,
  dbias). Float32 rounding error is proportional to it, not to |<name>|, which can be tiny through
  cancellation (a one-element dbias summed from +-1 terms); tests divide the error by its norm.
  Losses (mean reduction; gradient of grad_out * loss):
    bceloss           x (probabilities), target, loss (shape [1]), dx    meta: N (numel), grad_out
    bcewithlogitsloss x (logits),        target, loss (shape [1]), dx    meta: N (numel), grad_out

DIR/models/<arch>_<img>px_c<channels>_z<latent>_k<kernel>_g<ngf>_d<ndf>.safetensors
  Whole networks from tools/reference/models.py, both in train mode, batch B (= 4):
    generator.<state_dict name>       initial G (DCGAN init, see models.weights_init); BN buffers
                                      running_mean / running_var (F32), num_batches_tracked (I64)
    discriminator.<state_dict name>   initial D, same
    z (B, latent)                     G input
    g_out (B, C, H, W)                G(z)
    g_gy (B, C, H, W)                 upstream gradient; g_grad.* are gradients of dot(g_out, g_gy)
    g_grad.<parameter name>           for every named_parameter of G (weights and biases only)
    g_grad_abssum.<parameter name>    for the zero-gradient biases (below) only: per channel, the
                                      sum of |gradient| over the terms the bias gradient adds up
                                      (batch and pixels of the layer's output); the scale of its
                                      float32 rounding noise
    g_buffers_after.<buffer name>     G's BN buffers after that one forward (num_batches_tracked I64)
    x (B, C, H, W)                    D input (uniform in [-1, 1], independent of g_out)
    d_out (B, 1)                      D(x)
    d_gy (B, 1)                       upstream gradient; d_* gradients are of dot(d_out, d_gy)
    d_dx (B, C, H, W)                 gradient with respect to x
    d_grad.<parameter name>           for every named_parameter of D
    d_grad_abssum.<parameter name>    as g_grad_abssum
    d_buffers_after.<buffer name>     D's BN buffers after that one forward
  meta: arch, img_size, channels, latent_dim, ngf, ndf, kernel, g_bn_eps, d_bn_eps, bn_momentum
        (the keys ModelConfig::from_metadata reads), batch,
        g_zero_grad_params, d_zero_grad_params: comma-separated parameter names (may be empty)
        whose gradient is analytically zero: a conv bias directly before a train-mode BatchNorm
        (BN removes any per-channel constant; seed G model.2/5/8.bias, seed D model.2/5/8.bias)
        and, at 16 px (s = 1), the seed G's l1.0.bias. Their g_grad / d_grad are stored as exact
        zeros; a float32 implementation gets rounding noise there, so compare them with an
        absolute tolerance (relative to the other gradients), never relative L2.

DIR/train/<arch>_<img>px_c<channels>_z<latent>_k<kernel>_g<ngf>_d<ndf>_b<batch>.safetensors
  `steps` (= 5) GAN training steps from the initial weights, both nets in train mode, both with
  torch.optim.Adam(lr 2e-4, betas (0.5, 0.999), eps 1e-8, weight_decay 0), BCELoss (mean),
  in the seed's (PyTorch-GAN's) order, for i = 1 .. steps:
      opt_G.zero_grad(); gen = G(z); g_loss = BCE(D(gen), ones); g_loss.backward(); opt_G.step()
      opt_D.zero_grad(); real_loss = BCE(D(real), ones); fake_loss = BCE(D(gen.detach()), zeros)
      d_loss = (real_loss + fake_loss) / 2; d_loss.backward(); opt_D.step()
  (D runs forward three times per step, so D's num_batches_tracked grows by 3 per step; G's by 1.
  fake_loss uses `gen` from before opt_G.step(); D(gen) in the G half uses D from before
  opt_D.step().) Adam, as PyTorch 1.13 does it, per element with t the step count:
      m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
      p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
  Tensors:
    generator.<name>, discriminator.<name>          initial state_dicts (as in models/)
    step<i>.real (B, C, H, W)                       real batch, uniform in [-1, 1]
    step<i>.z (B, latent)                           latents
    step<i>.gen (B, C, H, W)                        G(z) of this step (before opt_G.step())
    step<i>.g_loss, step<i>.d_loss                  shape [1]
    step<i>.real_loss, step<i>.fake_loss            shape [1]
    step<i>.generator.<name>                        whole G state_dict after step i
    step<i>.discriminator.<name>                    whole D state_dict after step i
    optimizer.generator.<parameter name>.exp_avg    Adam first moment after the last step
    optimizer.generator.<parameter name>.exp_avg_sq Adam second moment after the last step
    optimizer.discriminator.<parameter name>.exp_avg / .exp_avg_sq   same for D
  meta: as models/ (incl. g_zero_grad_params, d_zero_grad_params), plus steps, lr, beta1, beta2,
        adam_eps, order.
  The biases with an analytically zero gradient (g_zero_grad_params, d_zero_grad_params) start at
  ZERO here (not PyTorch's default init as in models/): their value never changes an output, but
  a nonzero one costs float32 precision in the BatchNorm after it (see train_case). Their float32
  gradients are pure rounding noise, which Adam normalises into real updates (up to ~lr per step
  when the noise exceeds adam_eps), so PyTorch's trajectory for them (and their exp_avg /
  exp_avg_sq) is not reproducible by another implementation: hold their updates to Adam's bound,
  skip their moments, and compare the running_mean of the BatchNorm right after each of them with
  the bias's share removed: the running mean averages batch means that include the bias exactly,
  so its share follows from the two bias histories (tests/reference/test_reference_train.cpp).
  They never change G's or D's train-mode outputs, losses or other gradients.
  Conditioning: the data of each case is drawn with a fixed salt (TRAIN_CONFIGS) chosen so that
  flipping the derivative of every ReLU / LeakyReLU input within rounding of zero changes no
  gradient by more than KINK_IMPACT_MAX (kink_impact, above make_train); the script refuses to
  write a case that misses the bound, and --find-salts finds a salt that meets it.
  meta (besides the above): data_salt, kink_elements (near-kink elements in the 5 steps),
        kink_impact, kink_noise_factor, kink_impact_max.
"""
from __future__ import annotations

import argparse
import copy
import os
import sys
import time
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import models  # noqa: E402
from safetensors_io import save_file  # noqa: E402

FORMAT_VERSION = "1"


# ----------------------------------------------------------------------------------------------
# helpers

def gen_for(name: str) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(zlib.crc32(name.encode()))
    return g


def randn(g: torch.Generator, *shape, scale: float = 1.0) -> torch.Tensor:
    """float32 normal samples (the stored inputs), returned as float32."""
    return (torch.randn(*shape, generator=g, dtype=torch.float32) * scale).float()


def uniform(g: torch.Generator, *shape, lo: float = -1.0, hi: float = 1.0) -> torch.Tensor:
    return torch.rand(*shape, generator=g, dtype=torch.float32) * (hi - lo) + lo


def f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).contiguous().numpy().copy()


def np_of(t: torch.Tensor) -> np.ndarray:
    """float tensors as float32, integer tensors (num_batches_tracked) as int64."""
    t = t.detach()
    if t.is_floating_point():
        return f32(t)
    return t.to(torch.int64).contiguous().numpy().copy()  # keeps 0-dim (ascontiguousarray won't)


def meta_str(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return str(v)


def write(path: str, tensors: dict, meta: dict) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    base = {"format_version": FORMAT_VERSION, "torch_version": torch.__version__,
            "generator_script": "tools/reference/make_reference.py"}
    base.update({k: meta_str(v) for k, v in meta.items()})
    save_file({k: (v if isinstance(v, np.ndarray) else np_of(v)) for k, v in tensors.items()},
              path, base)


def grads_of(y: torch.Tensor, gy: torch.Tensor, inputs: dict) -> dict:
    """Gradients of dot(y, gy) with respect to each tensor in `inputs` (float64 leaves)."""
    names = list(inputs)
    gs = torch.autograd.grad(y, [inputs[n] for n in names], grad_outputs=gy)
    return dict(zip(names, gs))


# ----------------------------------------------------------------------------------------------
# (a) ops

def run_layer(fn, inputs: dict, gy_of) -> dict:
    """y = fn(**inputs) and the gradients of dot(y, gy) in float64, where gy = gy_of(y.shape)
    (float32). Also the magnitudes <name>_abssum: the same sums with every term replaced by its
    absolute value (fn on |inputs| with |gy|; valid for a multilinear fn such as linear or conv),
    the scale float32 rounding error is proportional to. Returns the tensors to store."""
    leaves = {k: v.double().requires_grad_() for k, v in inputs.items()}
    y = fn(**leaves)
    gy = gy_of(y.shape)
    gr = grads_of(y, gy.double(), leaves)
    aleaves = {k: v.double().abs().requires_grad_() for k, v in inputs.items()}
    ay = fn(**aleaves)
    agr = grads_of(ay, gy.double().abs(), aleaves)
    t = dict(inputs)
    t.update(y=y, gy=gy, y_abssum=ay)
    for k in inputs:
        d = "d" + k
        t[d], t[d + "_abssum"] = gr[k], agr[k]
    return t


def op_linear(out_dir, n, fin, fout, bias):
    name = f"linear_n{n}_in{fin}_out{fout}_{'bias' if bias else 'nobias'}"
    g = gen_for(name)
    inputs = {"x": randn(g, n, fin), "weight": randn(g, fout, fin, scale=fin ** -0.5)}
    if bias:
        inputs["bias"] = randn(g, fout, scale=0.1)
    t = run_layer(lambda x, weight, bias=None: F.linear(x, weight, bias), inputs,
                  lambda shape: randn(g, *shape))
    write(f"{out_dir}/ops/{name}.safetensors", t,
          dict(kind="op", op="linear", computed_in="float64", N=n, **{"in": fin}, out=fout,
               bias=bias, description=f"Linear({fin}, {fout}, bias={bias}) on x ({n}, {fin})"))
    return 1


def op_conv(out_dir, transposed, n, cin, cout, h, w_, kernel, stride, padding, opad, bias):
    op = "convtranspose2d" if transposed else "conv2d"
    name = (f"{op}_n{n}_c{cin}to{cout}_{h}x{w_}_k{kernel}s{stride}p{padding}"
            f"{f'op{opad}' if transposed else ''}_{'bias' if bias else 'nobias'}")
    g = gen_for(name)
    wshape = (cin, cout, kernel, kernel) if transposed else (cout, cin, kernel, kernel)
    fan_in = (cout if transposed else cin) * kernel * kernel
    inputs = {"x": randn(g, n, cin, h, w_), "weight": randn(g, *wshape, scale=fan_in ** -0.5)}
    if bias:
        inputs["bias"] = randn(g, cout, scale=0.1)

    def fn(x, weight, bias=None):
        if transposed:
            return F.conv_transpose2d(x, weight, bias, stride, padding, opad)
        return F.conv2d(x, weight, bias, stride, padding)

    t = run_layer(fn, inputs, lambda shape: randn(g, *shape))
    cls = "ConvTranspose2d" if transposed else "Conv2d"
    extra = f", output_padding={opad}" if transposed else ""
    write(f"{out_dir}/ops/{name}.safetensors", t,
          dict(kind="op", op=op, computed_in="float64", N=n, C_in=cin, C_out=cout, H=h, W=w_,
               Ho=t["y"].shape[2], Wo=t["y"].shape[3], kernel=kernel, stride=stride,
               padding=padding, output_padding=opad if transposed else 0, bias=bias,
               description=f"{cls}({cin}, {cout}, {kernel}, stride={stride}, padding={padding}"
                           f"{extra}, bias={bias}) on x ({n}, {cin}, {h}, {w_})"))
    return 1


def op_batchnorm(out_dir, n, c, h, w_, eps, momentum):
    name = f"batchnorm2d_n{n}_c{c}_{h}x{w_}_eps{eps:g}_mom{momentum:g}"
    g = gen_for(name)
    # Per-channel offsets and scales so the variance computation sees a real mean to remove.
    shift = randn(g, 1, c, 1, 1, scale=2.0)
    scale = uniform(g, 1, c, 1, 1, lo=0.3, hi=3.0)
    x = (randn(g, n, c, h, w_) * scale + shift).float()
    weight = uniform(g, c, lo=0.5, hi=1.5)
    bias = randn(g, c, scale=0.2)
    rm0 = randn(g, c, scale=0.5)
    rv0 = uniform(g, c, lo=0.5, hi=2.0)
    gy = randn(g, n, c, h, w_)
    leaves = {"x": x.double().requires_grad_(), "weight": weight.double().requires_grad_(),
              "bias": bias.double().requires_grad_()}
    rm, rv = rm0.double().clone(), rv0.double().clone()
    y = F.batch_norm(leaves["x"], rm, rv, leaves["weight"], leaves["bias"], training=True,
                     momentum=momentum, eps=eps)
    gr = grads_of(y, gy.double(), leaves)
    xd = x.double()
    mean = xd.mean(dim=(0, 2, 3))
    var = xd.var(dim=(0, 2, 3), unbiased=False)
    y_eval = F.batch_norm(xd, rm, rv, weight.double(), bias.double(), training=False, eps=eps)
    # Magnitudes of the sums (see run_layer), M = N*H*W, xhat = (x - mean) * invstd:
    #   dbias = sum dy, dweight = sum dy xhat, dx = w invstd / M (M dy - sum dy - xhat sum dy xhat)
    gyd = gy.double()
    invstd = 1.0 / torch.sqrt(var + eps)
    xhat = (xd - mean.view(1, c, 1, 1)) * invstd.view(1, c, 1, 1)
    m_count = n * h * w_
    dbias_abs = gyd.abs().sum(dim=(0, 2, 3))
    dweight_abs = (gyd * xhat).abs().sum(dim=(0, 2, 3))
    dx_abs = (weight.double().abs() * invstd / m_count).view(1, c, 1, 1) * (
        m_count * gyd.abs() + dbias_abs.view(1, c, 1, 1) + xhat.abs() * dweight_abs.view(1, c, 1, 1))
    t = {"x": x, "weight": weight, "bias": bias, "running_mean_before": rm0,
         "running_var_before": rv0, "running_mean_after": rm, "running_var_after": rv,
         "save_mean": mean, "save_invstd": invstd, "y": y, "gy": gy,
         "dx": gr["x"], "dweight": gr["weight"], "dbias": gr["bias"], "y_eval": y_eval,
         "dx_abssum": dx_abs, "dweight_abssum": dweight_abs, "dbias_abssum": dbias_abs}
    write(f"{out_dir}/ops/{name}.safetensors", t,
          dict(kind="op", op="batchnorm2d", computed_in="float64", N=n, C=c, H=h, W=w_,
               eps=eps, momentum=momentum,
               description=f"BatchNorm2d({c}, eps={eps}, momentum={momentum}) train mode on x "
                           f"({n}, {c}, {h}, {w_}); y_eval: eval mode with the updated stats"))
    return 1


def op_activation(out_dir, op, shape):
    name = f"{op}_{'x'.join(map(str, shape))}"
    g = gen_for(name)
    x = randn(g, *shape, scale=2.0)
    gy = randn(g, *shape)
    xd = x.double().requires_grad_()
    slope = 0.0
    if op == "relu":
        y = F.relu(xd)
    elif op == "leakyrelu":
        slope = 0.2
        y = F.leaky_relu(xd, slope)
    elif op == "tanh":
        y = torch.tanh(xd)
    elif op == "sigmoid":
        y = torch.sigmoid(xd)
    else:
        raise ValueError(op)
    (dx,) = torch.autograd.grad(y, [xd], grad_outputs=gy.double())
    cls = {"relu": "ReLU()", "leakyrelu": "LeakyReLU(0.2)", "tanh": "Tanh()",
           "sigmoid": "Sigmoid()"}[op]
    write(f"{out_dir}/ops/{name}.safetensors", {"x": x, "y": y, "gy": gy, "dx": dx},
          dict(kind="op", op=op, computed_in="float64", slope=slope,
               description=f"{cls} on x {tuple(shape)}"))
    return 1


def op_loss(out_dir, op, tag, x, target, grad_out=1.0):
    name = f"{op}_{tag}"
    xd = x.double().requires_grad_()
    td = target.double()
    if op == "bceloss":
        loss = F.binary_cross_entropy(xd, td)
        cls = "BCELoss()"
    else:
        loss = F.binary_cross_entropy_with_logits(xd, td)
        cls = "BCEWithLogitsLoss()"
    (dx,) = torch.autograd.grad(loss * grad_out, [xd])
    write(f"{out_dir}/ops/{name}.safetensors",
          {"x": x, "target": target, "loss": loss.reshape(1), "dx": dx},
          dict(kind="op", op=op, computed_in="float64", grad_out=grad_out, N=x.numel(),
               description=f"{cls} (mean) on x {tuple(x.shape)}, {tag}; dx is the gradient of "
                           f"grad_out * loss"))
    return 1


def make_ops(out_dir: str) -> int:
    count = 0
    # Linear: the seed G's l1 and D's adv_layer shapes, small odd ones, bias on and off.
    for n, fin, fout, bias in [(4, 100, 512, True), (1, 20, 128, True), (4, 20, 128, False),
                               (4, 512, 1, True), (1, 128, 1, False), (3, 7, 5, True)]:
        count += op_linear(out_dir, n, fin, fout, bias)

    # Conv2d / ConvTranspose2d: the three geometries DCGAN uses, channels 1, 3, 16, batch 1 and 4,
    # with and without bias. Batch 1 uses a non-square input (catches H/W mix-ups).
    geoms = [(4, 2, 1, 0), (4, 1, 0, 0), (5, 2, 2, 1)]
    chans = [(1, 16), (3, 16), (16, 1), (16, 3), (16, 16)]
    for transposed in (False, True):
        for kernel, stride, padding, opad in geoms:
            for cin, cout in chans:
                for n in (1, 4):
                    for bias in (True, False):
                        if stride == 1:   # D's final 4x4 -> 1x1 conv, G's 1x1 -> 4x4 projection
                            h, w_ = ((1, 1) if n == 4 else (2, 3)) if transposed else \
                                ((4, 4) if n == 4 else (5, 6))
                        else:
                            h, w_ = ((4, 4) if n == 4 else (3, 5)) if transposed else \
                                ((8, 8) if n == 4 else (6, 10))
                        count += op_conv(out_dir, transposed, n, cin, cout, h, w_, kernel, stride,
                                         padding, opad if transposed else 0, bias)

    # BatchNorm2d: both eps values the models use, two momenta, several shapes (incl. HW = 1).
    for eps in (1e-5, 0.8):
        for momentum in (0.1, 0.3):
            for n, c, h, w_ in [(4, 16, 8, 8), (1, 3, 5, 7), (4, 32, 1, 1)]:
                count += op_batchnorm(out_dir, n, c, h, w_, eps, momentum)

    for op in ("relu", "leakyrelu", "tanh", "sigmoid"):
        for shape in [(4, 3, 8, 8), (2, 100)]:
            count += op_activation(out_dir, op, shape)

    # Losses: D outputs (N, 1) against the all-ones / all-zeros targets training uses, soft
    # targets, a saturated case, and grad_out 0.5 as in d_loss = (real + fake) / 2.
    for op in ("bceloss", "bcewithlogitsloss"):
        g = gen_for(op)
        logits = lambda *s: randn(g, *s, scale=2.0)  # noqa: E731
        act = (lambda t: torch.sigmoid(t).float()) if op == "bceloss" else (lambda t: t)
        count += op_loss(out_dir, op, "n8_ones", act(logits(8, 1)), torch.ones(8, 1))
        count += op_loss(out_dir, op, "n8_zeros", act(logits(8, 1)), torch.zeros(8, 1))
        count += op_loss(out_dir, op, "n64_ones", act(logits(64, 1)), torch.ones(64, 1))
        count += op_loss(out_dir, op, "n4x3_soft", act(logits(4, 3)), uniform(g, 4, 3, lo=0, hi=1))
        count += op_loss(out_dir, op, "n8_zeros_gradhalf", act(logits(8, 1)), torch.zeros(8, 1),
                         grad_out=0.5)
        if op == "bceloss":
            # p exactly 0 and 1 (a saturated float32 sigmoid): logs clamp at -100, the gradient's
            # denominator at 1e-12.
            p = torch.tensor([[0.0], [1.0], [1.0], [0.0], [1e-7], [1 - 2 ** -24], [0.5], [0.25]])
            t = torch.tensor([[1.0], [0.0], [1.0], [0.0], [1.0], [0.0], [1.0], [0.0]])
        else:
            p = torch.tensor([[-100.0], [100.0], [50.0], [-50.0], [20.0], [-20.0], [0.0], [1.5]])
            t = torch.tensor([[1.0], [0.0], [1.0], [0.0], [0.0], [1.0], [1.0], [0.0]])
        count += op_loss(out_dir, op, "n8_saturated", p, t)
    return count


# ----------------------------------------------------------------------------------------------
# (b) models and (c) training

def model_config_name(arch, img, ch, latent, kernel, ngf, ndf):
    return f"{arch}_{img}px_c{ch}_z{latent}_k{kernel}_g{ngf}_d{ndf}"


def model_meta(arch, img, ch, latent, kernel, ngf, ndf, G, D):
    g_eps = next(m.eps for m in G.modules() if isinstance(m, torch.nn.BatchNorm2d))
    d_eps = next(m.eps for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d))
    return dict(arch=arch, img_size=img, channels=ch, latent_dim=latent, ngf=ngf, ndf=ndf,
                kernel=kernel, g_bn_eps=g_eps, d_bn_eps=d_eps, bn_momentum=0.1)


def init_nets(name, arch, img, ch, latent, kernel, ngf, ndf):
    torch.manual_seed(zlib.crc32(name.encode()))
    G, D = models.build(arch, latent, ch, img, ngf, ndf, kernel)
    G.apply(models.weights_init)
    D.apply(models.weights_init)
    G.train()
    D.train()
    return G, D


def state_tensors(prefix: str, net: torch.nn.Module) -> dict:
    return {f"{prefix}{k}": np_of(v) for k, v in net.state_dict().items()}


def zero_grad_params(grads: dict) -> list:
    """Names of parameters whose float64 gradient is zero up to rounding (<= 1e-10 of the largest
    gradient norm): analytically zero, such as the bias of a conv directly before a train-mode
    BatchNorm (BN subtracts any per-channel constant), or the seed G's l1 bias at 16 px (s = 1).
    Float32 implementations compute rounding noise for these, and Adam turns noise into updates of
    up to ~lr per step, so tests must compare them with an absolute tolerance."""
    norms = {k: float(v.norm()) for k, v in grads.items()}
    top = max(norms.values())
    return [k for k, n in norms.items() if n <= 1e-10 * top]


def structural_zero_grads(net: torch.nn.Module, inp: torch.Tensor) -> list:
    """zero_grad_params of one float64 train-mode forward / backward of a copy of `net`."""
    net = copy.deepcopy(net).double().train()
    out = net(inp.double())
    params = dict(net.named_parameters())
    grads = torch.autograd.grad(out, list(params.values()),
                                grad_outputs=torch.randn(out.shape, generator=gen_for("zg"),
                                                         dtype=torch.float64))
    return zero_grad_params(dict(zip(params, grads)))


def capture_biased_outputs(net: torch.nn.Module) -> tuple[dict, list]:
    """Forward hooks recording the output of every module with a bias, by module name (for
    zero_grad_abssums). Returns (outputs, hooks); remove the hooks after the forward."""
    outs = {}
    hooks = []
    for mname, m in net.named_modules():
        if getattr(m, "bias", None) is not None and not isinstance(m, torch.nn.BatchNorm2d):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, key=mname: outs.__setitem__(key, out)))
    return outs, hooks


def zero_grad_abssums(out, gy, outs: dict, zero: list) -> dict:
    """For each zero-gradient bias: the sum over everything but the channel of |d out / d y|,
    y the output of the layer that adds the bias (the terms its gradient sums). Float32 rounding
    noise in that gradient is proportional to it."""
    res = {}
    for pname in zero:
        y = outs[pname.rsplit(".", 1)[0]]
        (dy,) = torch.autograd.grad(out, [y], grad_outputs=gy, retain_graph=True)
        dims = [d for d in range(dy.dim()) if d != 1]
        res[pname] = dy.abs().sum(dim=dims)
    return res


def make_model(out_dir, arch, img, ch, latent, kernel, ngf, ndf, batch=4):
    name = model_config_name(arch, img, ch, latent, kernel, ngf, ndf)
    G, D = init_nets(name, arch, img, ch, latent, kernel, ngf, ndf)
    t = {}
    t.update(state_tensors("generator.", G))
    t.update(state_tensors("discriminator.", D))
    meta = model_meta(arch, img, ch, latent, kernel, ngf, ndf, G, D)
    G.double()
    D.double()
    g = gen_for(name + "/data")
    z = randn(g, batch, latent)
    x = uniform(g, batch, ch, img, img)

    g_outs, hooks = capture_biased_outputs(G)
    g_out = G(z.double())
    for h in hooks:
        h.remove()
    g_gy = randn(g, *g_out.shape)
    gparams = dict(G.named_parameters())
    g_grads = dict(zip(gparams, torch.autograd.grad(g_out, list(gparams.values()),
                                                    grad_outputs=g_gy.double(), retain_graph=True)))
    g_zero = zero_grad_params(g_grads)
    for k in g_zero:
        g_grads[k] = torch.zeros_like(g_grads[k])
    t.update(z=z, g_out=g_out, g_gy=g_gy)
    t.update({f"g_grad.{k}": v for k, v in g_grads.items()})
    t.update({f"g_grad_abssum.{k}": v for k, v in
              zero_grad_abssums(g_out, g_gy.double(), g_outs, g_zero).items()})
    t.update({f"g_buffers_after.{k}": np_of(v) for k, v in G.named_buffers()})

    xd = x.double().requires_grad_()
    d_outs, hooks = capture_biased_outputs(D)
    d_out = D(xd)
    for h in hooks:
        h.remove()
    d_gy = randn(g, *d_out.shape)
    dparams = dict(D.named_parameters())
    grads = torch.autograd.grad(d_out, [xd] + list(dparams.values()), grad_outputs=d_gy.double(),
                                retain_graph=True)
    d_grads = dict(zip(dparams, grads[1:]))
    d_zero = zero_grad_params(d_grads)
    for k in d_zero:
        d_grads[k] = torch.zeros_like(d_grads[k])
    t.update(x=x, d_out=d_out, d_gy=d_gy, d_dx=grads[0])
    t.update({f"d_grad.{k}": v for k, v in d_grads.items()})
    t.update({f"d_grad_abssum.{k}": v for k, v in
              zero_grad_abssums(d_out, d_gy.double(), d_outs, d_zero).items()})
    t.update({f"d_buffers_after.{k}": np_of(v) for k, v in D.named_buffers()})
    write(f"{out_dir}/models/{name}.safetensors", t,
          dict(kind="model", computed_in="float64", batch=batch, **meta,
               g_zero_grad_params=",".join(g_zero), d_zero_grad_params=",".join(d_zero),
               description=f"{arch} G and D ({img}x{img}x{ch}, latent {latent}, kernel {kernel}, "
                           f"ngf {ngf}, ndf {ndf}) train-mode forward and backward, batch {batch}"))
    return 1


# Conditioning of a training case. A ReLU / LeakyReLU input within float32 rounding of zero can
# come out on either side in two correct float32 implementations, and the derivative taken there
# (1 or the slope) then differs: measured here, one such element of the seed D's last LeakyReLU
# (1.2e-8 against a layer RMS of 8.7e-4) moved every gradient of a step by 0.3-0.6 %, far beyond
# rounding. So each step is checked before it is taken: the pre-activations of G(z), D(gen) and
# D(real) in float32 (as trained) and float64 (same float32 state); elements with
# |x64| < KINK_NOISE_FACTOR * (that layer's max |x32 - x64|) are "near a kink"; the impact is the
# largest relative L2 change of any parameter gradient (redundant biases excepted) when all of a
# step's near-kink derivatives are flipped at once, in float64. A case whose impact exceeds
# KINK_IMPACT_MAX is redrawn with the next data salt (deterministic). The C++ test's tolerances
# assume this bound and check the stored `kink_impact` against it.
KINK_NOISE_FACTOR = 4.0   # our rounding error and PyTorch's, each up to the layer's max, plus 2x
KINK_IMPACT_MAX = 3e-3    # keep in step with kKinkImpactMax in tests/reference/test_reference_train.cpp
MAX_DATA_SALTS = 64


class _FlippableAct(torch.nn.Module):
    """ReLU / LeakyReLU as x * s with s = 1 (x > 0) or the slope, except where `flip` is set,
    which takes the other value: the derivative at those elements flipped, values ~unchanged
    (they are within rounding of zero)."""

    def __init__(self, slope: float):
        super().__init__()
        self.slope = slope
        self.flip = None

    def forward(self, x):
        pos = x > 0
        if self.flip is not None:
            pos = pos ^ self.flip
        return x * torch.where(pos, torch.ones_like(x), torch.full_like(x, self.slope)).detach()


def _flippable_copy(net: torch.nn.Module):
    """float64 copy of `net` with every ReLU / LeakyReLU replaced by _FlippableAct (in order)."""
    net = copy.deepcopy(net).double()
    acts = []
    for m in list(net.modules()):
        for cname, c in list(m.named_children()):
            if isinstance(c, (torch.nn.ReLU, torch.nn.LeakyReLU)):
                a = _FlippableAct(0.0 if isinstance(c, torch.nn.ReLU) else c.negative_slope)
                setattr(m, cname, a)
                acts.append(a)
    return net, acts


def _pre_activations(net: torch.nn.Module, x: torch.Tensor) -> list:
    """The inputs of every ReLU / LeakyReLU of one forward of `net` (a copy, so BN buffers of the
    original are untouched), in module order."""
    net = copy.deepcopy(net)
    out = []
    hooks = [m.register_forward_pre_hook(lambda m, i: out.append(i[0].detach().clone()))
             for m in net.modules() if isinstance(m, (torch.nn.ReLU, torch.nn.LeakyReLU))]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return out


def _step_grads64(G, D, z, real, flips, g_acts, d_acts):
    """float64 gradients of one training step: G's from the G half, D's from the D half (of the
    flippable float64 copies G, D), with flips {(pass, layer index): bool mask}."""
    def set_flips(acts, key):
        for i, a in enumerate(acts):
            a.flip = flips.get((key, i))
    B = z.shape[0]
    ones = torch.ones(B, 1, dtype=torch.float64)
    zeros = torch.zeros(B, 1, dtype=torch.float64)
    set_flips(g_acts, "G")
    set_flips(d_acts, "D(gen)")
    gen = G(z.double())
    gg = torch.autograd.grad(F.binary_cross_entropy(D(gen), ones), list(G.parameters()))
    gen = gen.detach()
    set_flips(d_acts, "D(real)")
    gr = torch.autograd.grad(F.binary_cross_entropy(D(real.double()), ones) / 2, list(D.parameters()))
    set_flips(d_acts, "D(gen)")
    gf = torch.autograd.grad(F.binary_cross_entropy(D(gen), zeros) / 2, list(D.parameters()))
    return list(gg), [a + b for a, b in zip(gr, gf)]


def kink_impact(G, D, z, real, g_zero, d_zero) -> tuple[int, float]:
    """(near-kink elements, impact) of the training step about to run on (z, real); see above."""
    with torch.no_grad():
        gen = copy.deepcopy(G)(z)   # float32, as the step computes it (a copy: BN buffers)
    flips, count = {}, 0
    for key, net, x in (("G", G, z), ("D(gen)", D, gen), ("D(real)", D, real)):
        a32 = _pre_activations(net, x)
        a64 = _pre_activations(copy.deepcopy(net).double(), x.double())
        for i, (u, v) in enumerate(zip(a32, a64)):
            noise = float((u.double() - v).abs().max())
            mask = v.abs() < KINK_NOISE_FACTOR * noise
            if mask.any():
                flips[(key, i)] = mask
                count += int(mask.sum())
    if not flips:
        return 0, 0.0
    G64, g_acts = _flippable_copy(G)
    D64, d_acts = _flippable_copy(D)
    base = _step_grads64(G64, D64, z, real, {}, g_acts, d_acts)
    flipped = _step_grads64(G64, D64, z, real, flips, g_acts, d_acts)
    impact = 0.0
    for net, zero, b, f in ((G, g_zero, base[0], flipped[0]), (D, d_zero, base[1], flipped[1])):
        for (pname, _), x0, x1 in zip(net.named_parameters(), b, f):
            if pname not in zero and float(x0.norm()) > 0:
                impact = max(impact, float((x1 - x0).norm() / x0.norm()))
    return count, impact


def train_case(name, arch, img, ch, latent, kernel, ngf, ndf, batch, steps, salt):
    """Runs PyTorch's `steps` training steps on data drawn with `salt`. Returns the tensors to
    store, the metadata it adds, and the case's kink impact (max over steps)."""
    G, D = init_nets(name, arch, img, ch, latent, kernel, ngf, ndf)
    g_zero = structural_zero_grads(G, torch.randn(2, latent, generator=gen_for("zg")))
    d_zero = structural_zero_grads(D, torch.rand(2, ch, img, img, generator=gen_for("zg")) * 2 - 1)
    # The redundant biases start at zero. Their values never matter in exact arithmetic (BN
    # removes them), but in float32 they do: a seed D conv output is bias (|b| up to 0.06) plus
    # a spread of ~1e-3, so BN's mean subtraction cancels ~6 bits and D's pre-activation rounding
    # error is ~6e-5 of the layer RMS; at zero it is ~6e-6, which makes near-kink elements (see
    # kink_impact) 10x rarer. Their noise-driven drift stays far below the activations.
    with torch.no_grad():
        for net, zero in ((G, g_zero), (D, d_zero)):
            for pname, param in net.named_parameters():
                if pname in zero:
                    param.zero_()
    t = {}
    t.update(state_tensors("generator.", G))
    t.update(state_tensors("discriminator.", D))
    lr, b1, b2, adam_eps = 2e-4, 0.5, 0.999, 1e-8
    opt_G = torch.optim.Adam(G.parameters(), lr=lr, betas=(b1, b2), eps=adam_eps)
    opt_D = torch.optim.Adam(D.parameters(), lr=lr, betas=(b1, b2), eps=adam_eps)
    bce = torch.nn.BCELoss()
    g = gen_for(name + "/data" + (f"/{salt}" if salt else ""))
    worst, near = 0.0, 0
    for i in range(1, steps + 1):
        real = uniform(g, batch, ch, img, img)
        z = randn(g, batch, latent)
        valid = torch.ones(batch, 1)
        fake = torch.zeros(batch, 1)
        count, impact = kink_impact(G, D, z, real, set(g_zero), set(d_zero))
        near += count
        worst = max(worst, impact)

        opt_G.zero_grad()
        gen = G(z)
        g_loss = bce(D(gen), valid)
        g_loss.backward()
        opt_G.step()

        opt_D.zero_grad()
        real_loss = bce(D(real), valid)
        fake_loss = bce(D(gen.detach()), fake)
        d_loss = (real_loss + fake_loss) / 2
        d_loss.backward()
        opt_D.step()

        p = f"step{i}."
        t.update({p + "real": real, p + "z": z, p + "gen": gen, p + "g_loss": g_loss.reshape(1),
                  p + "d_loss": d_loss.reshape(1), p + "real_loss": real_loss.reshape(1),
                  p + "fake_loss": fake_loss.reshape(1)})
        t.update(state_tensors(p + "generator.", G))
        t.update(state_tensors(p + "discriminator.", D))
    for tag, net, opt in (("generator", G, opt_G), ("discriminator", D, opt_D)):
        for pname, param in net.named_parameters():
            st = opt.state[param]
            t[f"optimizer.{tag}.{pname}.exp_avg"] = st["exp_avg"]
            t[f"optimizer.{tag}.{pname}.exp_avg_sq"] = st["exp_avg_sq"]
    meta = dict(model_meta(arch, img, ch, latent, kernel, ngf, ndf, G, D), lr=lr, beta1=b1,
                beta2=b2, adam_eps=adam_eps, g_zero_grad_params=",".join(g_zero),
                d_zero_grad_params=",".join(d_zero), data_salt=salt, kink_elements=near,
                kink_impact=f"{worst:.3e}", kink_noise_factor=KINK_NOISE_FACTOR,
                kink_impact_max=KINK_IMPACT_MAX)
    return t, meta, worst


def make_train(out_dir, arch, img, ch, latent, kernel, ngf, ndf, batch, salt, steps=5):
    name = model_config_name(arch, img, ch, latent, kernel, ngf, ndf) + f"_b{batch}"
    t, meta, impact = train_case(name, arch, img, ch, latent, kernel, ngf, ndf, batch, steps, salt)
    if impact > KINK_IMPACT_MAX:
        raise SystemExit(f"make_reference: {name} with data salt {salt}: kink impact {impact:.2e} "
                         f"> {KINK_IMPACT_MAX}; a float32 implementation may legitimately differ "
                         f"from PyTorch by that much. Run make_reference.py --find-salts and put "
                         f"the salt it prints into TRAIN_CONFIGS.")
    write(f"{out_dir}/train/{name}.safetensors", t,
          dict(kind="train", computed_in="float32", batch=batch, steps=steps, **meta,
               order="G step (zero_grad, G(z), BCE(D(gen), 1), backward, Adam) then D step "
                     "(zero_grad, (BCE(D(real), 1) + BCE(D(gen.detach()), 0)) / 2, backward, "
                     "Adam)",
               description=f"{steps} seed-order GAN training steps of {arch} "
                           f"({img}x{img}x{ch}, latent {latent}, kernel {kernel}, ngf {ngf}, "
                           f"ndf {ndf}), batch {batch}, Adam(2e-4, (0.5, 0.999)); redundant "
                           f"biases start at 0; data salt {salt}, kink impact {impact:.1e}"))
    return 1


def find_salts(steps=5) -> None:
    """Prints, for each TRAIN_CONFIGS case, the first data salt whose kink impact is within
    KINK_IMPACT_MAX (and the impacts of the salts before it)."""
    for arch, img, ch, latent, kernel, ngf, ndf, batch, _ in TRAIN_CONFIGS:
        name = model_config_name(arch, img, ch, latent, kernel, ngf, ndf) + f"_b{batch}"
        tried = []
        for salt in range(MAX_DATA_SALTS):
            impact = train_case(name, arch, img, ch, latent, kernel, ngf, ndf, batch, steps, salt)[2]
            tried.append(f"{impact:.1e}")
            if impact <= KINK_IMPACT_MAX:
                print(f"{name}: salt {salt} (impacts of salts 0..{salt}: {', '.join(tried)})")
                break
        else:
            print(f"{name}: none of salts 0..{MAX_DATA_SALTS - 1} (impacts {', '.join(tried)})")


MODEL_CONFIGS = [  # arch, img_size, channels, latent_dim, kernel, ngf, ndf
    ("seed", 32, 1, 100, 4, 16, 16),
    ("seed", 16, 3, 20, 5, 8, 8),
    ("dcgan", 32, 3, 100, 4, 16, 16),
    ("dcgan", 16, 1, 16, 5, 8, 8),
]
TRAIN_CONFIGS = [  # arch, img_size, channels, latent_dim, kernel, ngf, ndf, batch, data salt
    ("seed", 32, 1, 100, 4, 16, 16, 8, 36),   # salts from --find-salts (kink impact <= bound)
    ("dcgan", 32, 3, 100, 4, 16, 16, 4, 18),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", help="output directory (ops/, models/, train/ inside)")
    ap.add_argument("--find-salts", action="store_true",
                    help="print the first well-conditioned data salt of each training case, "
                         "write nothing")
    args = ap.parse_args()
    if args.find_salts:
        torch.set_num_threads(1)
        find_salts()
        return
    if not args.out:
        ap.error("--out is required")
    torch.set_num_threads(1)  # run-to-run identical float32 results in train/
    t0 = time.time()
    for sub in ("ops", "models", "train"):  # no stale cases from an older version of this script
        d = os.path.join(args.out, sub)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.endswith(".safetensors"):
                    os.remove(os.path.join(d, f))
    n_ops = make_ops(args.out)
    n_models = sum(make_model(args.out, *c) for c in MODEL_CONFIGS)
    n_train = sum(make_train(args.out, *c) for c in TRAIN_CONFIGS)
    print(f"make_reference: {n_ops} op, {n_models} model, {n_train} train files in {args.out} "
          f"({time.time() - t0:.1f} s)")


if __name__ == "__main__":
    main()
