"""The PyTorch reference training run: a DCGAN on Fashion-MNIST, as `dcgan train` does it.

Used twice: by bench/compare.py for the end-to-end speed comparison (marginal time per step), and
as the PyTorch side of the FID experiment (same model, data, recipe; weights come out in our
generator-checkpoint format, so `dcgan sample` and the evaluation tools read them directly).

    /usr/bin/python3 tools/reference/train_pytorch.py --out runs/pytorch/seed32 --epochs 5
    /usr/bin/python3 tools/reference/train_pytorch.py --out /tmp/t --steps 250 --quiet

Recipe (the seed's, PyTorch-GAN dcgan.py, and what src/train/gan_step.cpp implements):
  - Models: tools/reference/models.py (`seed` by default: 32x32x1, ngf = ndf = 16, D's BatchNorm
    eps 0.8), weights_init (conv N(0, 0.02), BatchNorm N(1, 0.02) / 0).
  - Adam(lr 2e-4, betas (0.5, 0.999)) for each network, BCELoss, batch 64, latent 100, z ~ N(0, 1).
  - Step order: G step (zero_grad, gen = G(z), BCE(D(gen), 1), backward, Adam) then D step
    (zero_grad, (BCE(D(real), 1 - smoothing) + BCE(D(gen.detach()), 0)) / 2, backward, Adam).
Data, as dcgan's pipeline prepares it (src/data):
  - the IDX gz files of /usr/share/datasets/fashion-mnist (train split, 60000 images), read with
    gzip + NumPy;
  - 28 -> img_size bilinear (torch.nn.functional.interpolate, align_corners=False; antialias only
    when downscaling, as dcgan does), rounded to uint8 once (half away from zero, like std::lround),
    gray replicated to RGB for --channels 3;
  - or, for --data .../emoji-datasource-google/img/google/64, the train split of dcgan's
    `--data emoji` read with PIL (load_emoji below; 64x64x3 only);
  - x / 127.5 - 1 per batch; a seeded permutation per epoch; the last partial batch dropped.
    (The permutation and the latents come from torch's RNG, not dcgan's xoshiro: the runs are
    statistically, not bit-for-bit, alike.)

Output directory (the layout of a dcgan run, generator-only checkpoints):
  DIR/config.json                             the options
  DIR/metrics.jsonl                           one JSON object per logged step (dcgan's fields)
  DIR/timing.json                             per-step wall times (ms), start-up and total time
  DIR/checkpoints/step_NNNNNNN.safetensors    generator checkpoints (--checkpoint-every)
  DIR/checkpoints/latest.safetensors          the newest; always written at the end
  DIR/samples/step_NNNNNNN.png                64 fixed latents, 8x8 grid, G in eval mode (needs PIL)
A generator checkpoint is `generator.` + G.state_dict() (num_batches_tracked as I64) plus the
metadata arch, img_size, channels, latent_dim, ngf, ndf, kernel, g_bn_eps, d_bn_eps, bn_momentum
(what dcgan's ModelConfig::to_metadata writes) and step, epoch, source.

Threads: OMP_NUM_THREADS = --threads and OPENBLAS_NUM_THREADS = 1 are set before torch is imported
unless already set (PyTorch's best setting here; see docs/performance.md).
"""
import argparse
import gzip
import json
import math
import os
import struct
import sys
import time


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                    help="directory holding train-images-idx3-ubyte.gz (Fashion-MNIST or MNIST), or the "
                         "emoji package's img/google/64 (dcgan's --data emoji train split)")
    ap.add_argument("--out", required=True, help="run directory")
    ap.add_argument("--arch", choices=["seed", "dcgan"], default="seed")
    ap.add_argument("--img-size", type=int, default=32)
    ap.add_argument("--channels", type=int, choices=[1, 3], default=1)
    ap.add_argument("--latent-dim", type=int, default=100)
    ap.add_argument("--ngf", type=int, default=0, help="default: seed 16, dcgan 64")
    ap.add_argument("--ndf", type=int, default=0, help="default: seed 16, dcgan 64")
    ap.add_argument("--kernel", type=int, choices=[4, 5], default=4)
    ap.add_argument("--batch-size", type=int, default=0, help="default: seed 64, dcgan 128")
    ap.add_argument("--epochs", type=int, default=-1,
                    help="epochs (default 5; unlimited when only --steps is given)")
    ap.add_argument("--steps", type=int, default=0, help="stop after N steps (0: no step limit)")
    ap.add_argument("--lr-g", type=float, default=2e-4)
    ap.add_argument("--lr-d", type=float, default=2e-4)
    ap.add_argument("--beta1", type=float, default=0.5)
    ap.add_argument("--beta2", type=float, default=0.999)
    ap.add_argument("--label-smoothing", type=float, default=0.0, help="one-sided: real label = 1 - s")
    ap.add_argument("--seed", type=int, default=0, help="init, latents, data order, fixed noise")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--log-every", type=int, default=50, help="steps between progress lines / metrics")
    ap.add_argument("--sample-every", type=int, default=500,
                    help="steps between fixed-noise grids (0: only at the end)")
    ap.add_argument("--checkpoint-every", type=int, default=0,
                    help="steps between generator checkpoints (0: only at the end)")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args(argv)
    width = 16 if a.arch == "seed" else 64
    a.ngf = a.ngf or width
    a.ndf = a.ndf or width
    a.batch_size = a.batch_size or (64 if a.arch == "seed" else 128)
    if a.epochs < 0:
        a.epochs = 0 if a.steps > 0 else 5
    if a.epochs == 0 and a.steps == 0:
        ap.error("give --epochs and/or --steps")
    if not 0 <= a.label_smoothing < 1:
        ap.error("--label-smoothing must be in [0, 1)")
    return a


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Before importing torch: its OpenMP pool and OpenBLAS read these when they load.
    os.environ.setdefault("OMP_NUM_THREADS", str(ARGS.threads))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

T_START = time.perf_counter()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import build, weights_init  # noqa: E402
from safetensors_io import save_file  # noqa: E402

FIXED_NOISE_SALT = 0x5EED


def read_idx_images(path: str) -> np.ndarray:
    """IDX3 ubyte images (gzip or raw) -> (N, H, W) uint8."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    magic, n, h, w = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path}: not an IDX3 ubyte image file (magic {magic:#x})")
    if len(data) != 16 + n * h * w:
        raise ValueError(f"{path}: {len(data) - 16} data bytes, header says {n} x {h} x {w}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(n, h, w)


def fnv1a32(s: str) -> int:
    h = 2166136261
    for c in s.encode():
        h = ((h ^ c) * 16777619) & 0xFFFFFFFF
    return h


def load_emoji(img_dir: str, img_size: int, channels: int) -> torch.Tensor:
    """The train split of dcgan's `--data emoji` (src/data/emoji.cpp): the PNGs of
    emoji-datasource-google's img/google/64 listed in the package's emoji.json, an emoji and its
    skin tones held out when FNV-1a-32(base image name) % 5 == 0; files in path order; RGBA
    composited over white with dcgan's rounding, (v * a + 255 * (255 - a) + 127) // 255."""
    from PIL import Image
    meta = os.path.join(img_dir, "../../../emoji.json")
    with open(meta) as f:
        held = {}
        for e in json.load(f):
            test = fnv1a32(e["image"]) % 5 == 0
            held[e["image"]] = test
            for v in (e.get("skin_variations") or {}).values():
                held[v["image"]] = test
    names = sorted(n for n in os.listdir(img_dir) if not n.startswith(".") and held.get(n) is False)
    if img_size != 64 or channels != 3:
        raise ValueError("--data emoji: this script handles --img-size 64 --channels 3 only")
    out = np.empty((len(names), 3, 64, 64), dtype=np.uint8)
    for i, n in enumerate(names):
        im = np.asarray(Image.open(os.path.join(img_dir, n)).convert("RGBA"), dtype=np.int64)
        if im.shape[:2] != (64, 64):
            raise ValueError(f"{n}: {im.shape[0]}x{im.shape[1]}, expected 64x64")
        a = im[:, :, 3:4]
        out[i] = ((im[:, :, :3] * a + 255 * (255 - a) + 127) // 255).transpose(2, 0, 1)
    return torch.from_numpy(out)


def load_images(data_dir: str, img_size: int, channels: int) -> torch.Tensor:
    """(N, channels, img_size, img_size) uint8, prepared as dcgan's data pipeline does."""
    if os.path.exists(os.path.join(data_dir, "../../../emoji.json")):
        return load_emoji(data_dir, img_size, channels)
    path = os.path.join(data_dir, "train-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        path = os.path.join(data_dir, "train-images-idx3-ubyte")
    raw = read_idx_images(path)
    n, h, w = raw.shape
    if h != w:
        raise ValueError(f"{path}: images are {h}x{w}; this script handles square images only")
    x = torch.from_numpy(raw.copy()).unsqueeze(1)  # (N, 1, h, w)
    if h != img_size:
        out = torch.empty(n, 1, img_size, img_size, dtype=torch.uint8)
        for b in range(0, n, 10000):
            chunk = x[b:b + 10000].float()
            r = F.interpolate(chunk, size=(img_size, img_size), mode="bilinear", align_corners=False,
                              antialias=img_size < h)
            out[b:b + 10000] = torch.floor(r.clamp(0, 255) + 0.5).to(torch.uint8)
        x = out
    if channels == 3:
        x = x.expand(n, 3, img_size, img_size).contiguous()
    return x


def save_grid(path: str, x: torch.Tensor, nrow: int = 8, padding: int = 2) -> bool:
    """torchvision.utils.save_image(x, path, nrow, padding, normalize=True, value_range=(-1, 1)).
    x: (N, C, H, W) in [-1, 1]. Returns False when PIL is missing."""
    try:
        from PIL import Image
    except ImportError:
        return False
    n, c, h, w = x.shape
    xmaps = min(nrow, n)
    ymaps = int(math.ceil(n / xmaps))
    grid = torch.zeros(c, ymaps * (h + padding) + padding, xmaps * (w + padding) + padding)
    x = ((x.clamp(-1, 1) + 1) / 2).cpu()
    for k in range(n):
        yy, xx = divmod(k, xmaps)
        grid[:, yy * (h + padding) + padding:yy * (h + padding) + padding + h,
             xx * (w + padding) + padding:xx * (w + padding) + padding + w] = x[k]
    arr = grid.mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[:, :, 0], "L") if c == 1 else Image.fromarray(arr, "RGB")
    tmp = path + ".tmp"
    img.save(tmp, format="PNG")
    os.replace(tmp, path)
    return True


def model_metadata(a) -> dict:
    return {"arch": a.arch, "img_size": str(a.img_size), "channels": str(a.channels),
            "latent_dim": str(a.latent_dim), "ngf": str(a.ngf), "ndf": str(a.ndf),
            "kernel": str(a.kernel), "g_bn_eps": "1e-05",
            "d_bn_eps": "0.8" if a.arch == "seed" else "1e-05", "bn_momentum": "0.1"}


def save_generator(path: str, G: torch.nn.Module, a, step: int, epoch: int) -> None:
    tensors = {"generator." + k: v for k, v in G.state_dict().items()}
    meta = model_metadata(a)
    meta.update(step=str(step), epoch=str(epoch), seed=str(a.seed),
                source="tools/reference/train_pytorch.py (PyTorch " + torch.__version__ + ")")
    tmp = path + ".tmp"
    save_file(tensors, tmp, meta)
    os.replace(tmp, path)


def main(a) -> int:
    torch.set_num_threads(a.threads)
    os.makedirs(os.path.join(a.out, "checkpoints"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "samples"), exist_ok=True)
    with open(os.path.join(a.out, "config.json"), "w") as f:
        json.dump(vars(a), f, indent=1)
        f.write("\n")

    images = load_images(a.data, a.img_size, a.channels)  # (N, C, S, S) uint8
    n = images.shape[0]
    B = a.batch_size
    per_epoch = n // B  # drop_last
    if per_epoch == 0:
        raise SystemExit(f"error: {n} images hold no full batch of {B}")
    total = a.epochs * per_epoch if a.epochs > 0 else a.steps
    if a.steps > 0:
        total = min(total, a.steps)

    torch.manual_seed(a.seed)  # init and latents
    G, D = build(a.arch, a.latent_dim, a.channels, a.img_size, a.ngf, a.ndf, a.kernel)
    G.apply(weights_init)
    D.apply(weights_init)
    opt_G = torch.optim.Adam(G.parameters(), lr=a.lr_g, betas=(a.beta1, a.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=a.lr_d, betas=(a.beta1, a.beta2))
    bce = torch.nn.BCELoss()
    ones = torch.ones(B, 1)
    real_targets = torch.full((B, 1), 1.0 - a.label_smoothing)
    zeros = torch.zeros(B, 1)
    order_rng = torch.Generator().manual_seed(a.seed)
    fixed_z = torch.randn(64, a.latent_dim, generator=torch.Generator().manual_seed(a.seed ^ FIXED_NOISE_SALT))

    def sample(step):
        G.eval()
        with torch.no_grad():
            x = G(fixed_z)
        G.train()
        return save_grid(os.path.join(a.out, "samples", f"step_{step:07d}.png"), x)

    metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
    if not a.quiet:
        print(f"data: {a.data}: {n} images -> {a.channels}x{a.img_size}x{a.img_size} | model {a.arch} "
              f"ngf {a.ngf} ndf {a.ndf} | batch {B} | {total} steps | {torch.get_num_threads()} threads "
              f"| PyTorch {torch.__version__}", file=sys.stderr)
    t_setup = time.perf_counter() - T_START
    step_ms = []
    step = epoch = 0
    t0 = time.perf_counter()
    have_pil = True
    while step < total:
        perm = torch.randperm(n, generator=order_rng)
        for i in range(per_epoch):
            ts = time.perf_counter()
            idx = perm[i * B:(i + 1) * B]
            real = images[idx].float().div_(127.5).sub_(1.0)
            z = torch.randn(B, a.latent_dim)
            # G step: minimise BCE(D(G(z)), 1).
            opt_G.zero_grad()
            gen = G(z)
            p_fake = D(gen)
            g_loss = bce(p_fake, ones)
            g_loss.backward()
            opt_G.step()
            # D step: (BCE(D(real), 1 - s) + BCE(D(gen.detach()), 0)) / 2.
            opt_D.zero_grad()
            p_real = D(real)
            real_loss = bce(p_real, real_targets)
            fake_loss = bce(D(gen.detach()), zeros)
            d_loss = (real_loss + fake_loss) / 2
            d_loss.backward()
            opt_D.step()
            step += 1
            step_ms.append((time.perf_counter() - ts) * 1e3)
            epoch_end = i == per_epoch - 1
            if epoch_end:
                epoch += 1
            if not math.isfinite(d_loss.item()) or not math.isfinite(g_loss.item()):
                raise SystemExit(f"error: step {step}: the loss became non-finite (D {d_loss.item()} "
                                 f"G {g_loss.item()}); lower the learning rates")
            if (a.log_every > 0 and step % a.log_every == 0) or step == total:
                now = time.perf_counter()
                ips = B * step / (now - t0)
                rec = {"step": step, "epoch": epoch, "d_loss": d_loss.item(), "g_loss": g_loss.item(),
                       "d_x": p_real.mean().item(), "d_g_z": p_fake.mean().item(),
                       "img_per_s": round(ips, 1)}
                metrics.write(json.dumps(rec) + "\n")
                metrics.flush()
                if not a.quiet:
                    recent = step_ms[-a.log_every:] if a.log_every > 0 else step_ms
                    print(f"epoch {epoch + (0 if epoch_end else 1)} step {step}/{total} | "
                          f"{sum(recent) / len(recent):.1f} ms/step (last {len(recent)}) | {ips:.0f} img/s | "
                          f"D {rec['d_loss']:.4f} G {rec['g_loss']:.4f} D(x) {rec['d_x']:.3f} "
                          f"D(G(z)) {rec['d_g_z']:.3f}", file=sys.stderr)
            if a.sample_every > 0 and step % a.sample_every == 0 and have_pil:
                have_pil = sample(step)
            if a.checkpoint_every > 0 and step % a.checkpoint_every == 0:
                save_generator(os.path.join(a.out, "checkpoints", f"step_{step:07d}.safetensors"), G, a, step, epoch)
            if step >= total:
                break
    t_train = time.perf_counter() - t0
    metrics.close()
    save_generator(os.path.join(a.out, "checkpoints", "latest.safetensors"), G, a, step, epoch)
    if have_pil and not sample(step) and not a.quiet:
        print("note: PIL is missing; no sample grids written", file=sys.stderr)
    timing = {"steps": step, "batch": B, "setup_s": t_setup, "train_s": t_train,
              "total_s": time.perf_counter() - T_START, "step_ms": step_ms,
              "median_step_ms": float(np.median(step_ms)) if step_ms else 0.0,
              "threads": torch.get_num_threads(),
              "env": {k: os.environ.get(k, "") for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}
    with open(os.path.join(a.out, "timing.json"), "w") as f:
        json.dump(timing, f)
    if not a.quiet:
        print(f"done: step {step}, epoch {epoch}, {t_train:.1f} s training "
              f"({1e3 * t_train / max(step, 1):.1f} ms/step, {B * step / max(t_train, 1e-9):.0f} img/s), "
              f"setup {t_setup:.1f} s. Checkpoint: {os.path.join(a.out, 'checkpoints', 'latest.safetensors')}",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(ARGS))
