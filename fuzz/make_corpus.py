#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets: fuzz/corpus/<target>/seed_*.

Small, valid (or nearly valid) examples of every format variant the parsers accept, so libFuzzer
starts from inputs that reach deep into each parser instead of from nothing. Generated rather than
kept in git; scripts/fuzz.sh runs this before fuzzing. Deterministic (fixed seeds).

    python3 fuzz/make_corpus.py [--out fuzz/corpus]

Input layouts (see fuzz/fuzz_entry.hpp): idx and image inputs start with one mode byte. Seeds named
seed_refused_* exercise a refusal path; every other seed must be accepted by at least one parser
(checked by tests/unit/test_fuzz_regressions.cpp).
"""
import argparse
import gzip
import io
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tools", "reference"))
from safetensors_io import save_file  # noqa: E402

rng = np.random.default_rng(1234)


def write(out, target, name, data):
    d = os.path.join(out, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed_" + name), "wb") as f:
        f.write(data)


def model_meta(**kw):
    m = {"arch": "seed", "img_size": "16", "channels": "1", "latent_dim": "4", "ngf": "2", "ndf": "2",
         "kernel": "4", "g_bn_eps": "1e-05", "d_bn_eps": "0.8", "bn_momentum": "0.1"}
    m.update(kw)
    return m


def safetensors_seeds(out):
    os.makedirs(out, exist_ok=True)
    tmp = os.path.join(out, ".tmp.safetensors")
    cases = {
        "checkpoint": ({"generator.l1.0.weight": rng.standard_normal((3, 4)).astype(np.float32),
                        "generator.bn.num_batches_tracked": np.array(5, dtype=np.int64),
                        "discriminator.w": rng.standard_normal((2, 1, 2, 2)).astype(np.float32)},
                       {**model_meta(), "step": "3", "format": "dcgan-checkpoint"}),
        "dtypes": ({"a16": rng.standard_normal((2, 3)).astype(np.float16),
                    "a64": rng.standard_normal((4,)).astype(np.float64),
                    "i32": np.array([7], dtype=np.int32), "u8": np.array(3, dtype=np.uint8),
                    "empty": np.zeros((0, 5), dtype=np.float32)}, model_meta(arch="dcgan")),
        "scalar": ({"x": np.array(1.5, dtype=np.float32)}, None),
        "meta_only": ({}, model_meta(kernel="5")),
    }
    for name, (tensors, meta) in cases.items():
        save_file(tensors, tmp, meta)
        with open(tmp, "rb") as f:
            write(out, "safetensors", name, f.read())
        os.remove(tmp)
    # A BF16 tensor by hand (NumPy has no bfloat16).
    header = json.dumps({"b": {"dtype": "BF16", "shape": [2], "data_offsets": [0, 4]}}).encode()
    header += b" " * ((8 - len(header) % 8) % 8)
    write(out, "safetensors", "bf16", struct.pack("<Q", len(header)) + header + b"\x80\x3f\x00\xc0")


def npy_bytes(a, version=None, fortran=False):
    bio = io.BytesIO()
    if version is None and not fortran:
        np.save(bio, a)
        return bio.getvalue()
    from numpy.lib import format as npf
    a = np.asfortranarray(a) if fortran else a
    if version is None:
        npf.write_array(bio, a)
    else:
        npf.write_array(bio, a, version=version)
    return bio.getvalue()


def npy_seeds(out):
    write(out, "npy", "f4_nchw", npy_bytes(rng.uniform(-1, 1, (2, 1, 5, 5)).astype(np.float32)))
    write(out, "npy", "f4_latents", npy_bytes(rng.standard_normal((3, 4)).astype(np.float32)))
    write(out, "npy", "u1_nhwc", npy_bytes(rng.integers(0, 256, (2, 6, 5, 3), dtype=np.uint8)))
    write(out, "npy", "u1_nhw", npy_bytes(rng.integers(0, 256, (3, 4, 7), dtype=np.uint8)))
    write(out, "npy", "f8_01", npy_bytes(rng.uniform(0, 1, (1, 3, 6, 6))))
    write(out, "npy", "f4_be", npy_bytes(rng.uniform(0, 1, (1, 5, 5, 1)).astype(">f4")))
    write(out, "npy", "v2", npy_bytes(rng.uniform(-1, 1, (2, 3)).astype(np.float32), version=(2, 0)))
    write(out, "npy", "refused_fortran", npy_bytes(rng.uniform(-1, 1, (2, 3, 4)).astype(np.float32), fortran=True))
    write(out, "npy", "scalar", npy_bytes(np.float32(0.5)))


def idx3(n, h, w):
    return struct.pack(">IIII", 0x803, n, h, w) + rng.integers(0, 256, n * h * w, dtype=np.uint8).tobytes()


def idx_seeds(out):
    # mode byte: bit 0 gzip by the harness, bit 1 labels, bit 2 RGB output
    write(out, "idx", "raw", b"\x00" + idx3(2, 5, 4))
    write(out, "idx", "raw_rgb", b"\x04" + idx3(1, 28, 28))
    write(out, "idx", "gz_by_harness", b"\x01" + idx3(3, 4, 4))
    write(out, "idx", "gz_file", b"\x00" + gzip.compress(idx3(2, 3, 6), mtime=0))
    write(out, "idx", "labels", b"\x02" + struct.pack(">II", 0x801, 4) + bytes([1, 2, 3, 9]))
    write(out, "idx", "labels_gz", b"\x03" + struct.pack(">II", 0x801, 2) + bytes([0, 5]))


def image_seeds(out):
    from PIL import Image
    def enc(img, fmt, **kw):
        bio = io.BytesIO()
        img.save(bio, fmt, **kw)
        return bio.getvalue()
    gray = Image.fromarray(rng.integers(0, 256, (6, 5), dtype=np.uint8), "L")
    rgb = Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8), "RGB")
    rgba = Image.fromarray(rng.integers(0, 256, (4, 4, 4), dtype=np.uint8), "RGBA")
    la = Image.fromarray(rng.integers(0, 256, (3, 9, 2), dtype=np.uint8), "LA")
    # mode byte: bits 0-1 model size 8/16/32/64, bit 2 RGB output, bit 3 decode from a file
    write(out, "image", "png_gray", b"\x00" + enc(gray, "PNG"))
    write(out, "image", "png_rgb", b"\x05" + enc(rgb, "PNG"))
    write(out, "image", "png_rgba", b"\x0e" + enc(rgba, "PNG"))
    write(out, "image", "png_la", b"\x01" + enc(la, "PNG"))
    write(out, "image", "png_palette", b"\x04" + enc(rgb.convert("P"), "PNG"))
    write(out, "image", "png_16bit", b"\x00" + enc(Image.fromarray(
        rng.integers(0, 65536, (3, 3), dtype=np.uint16).astype(np.int32), "I"), "PNG"))
    write(out, "image", "jpeg", b"\x07" + enc(rgb, "JPEG", quality=80))
    write(out, "image", "jpeg_progressive", b"\x0c" + enc(rgb, "JPEG", progressive=True))
    write(out, "image", "jpeg_gray", b"\x00" + enc(gray, "JPEG"))
    write(out, "image", "bmp", b"\x04" + enc(rgb, "BMP"))
    write(out, "image", "gif", b"\x08" + enc(gray, "GIF"))
    write(out, "image", "tga", b"\x04" + enc(rgba, "TGA"))
    write(out, "image", "ppm", b"\x05" + enc(rgb, "PPM"))
    write(out, "image", "pgm", b"\x00" + enc(gray, "PPM"))


def cifar_seeds(out):
    rec = lambda label: bytes([label]) + rng.integers(0, 256, 3072, dtype=np.uint8).tobytes()
    write(out, "cifar", "one", rec(3))
    write(out, "cifar", "two", rec(0) + rec(9))


def config_seeds(out):
    cfg = {"model": model_meta(), "data": "fashion-mnist", "strict_data": False, "batch_size": 16,
           "epochs": 0, "steps": 30, "lr_g": 0.0002, "lr_d": 0.0002, "beta1": 0.5, "beta2": 0.999,
           "real_label": 1.0, "seed": 7, "threads": 2, "out": "runs/x", "log_every": 50,
           "sample_every": 500, "checkpoint_every": 3, "keep": 3, "deterministic": True,
           "eval_every": 0, "eval_samples": 2000, "n_fixed": 64}
    write(out, "config_json", "train_config", json.dumps(cfg, indent=2).encode())
    write(out, "config_json", "metadata_lines",
          "".join(f"{k}={v}\n" for k, v in model_meta(arch="dcgan", img_size="64").items()).encode())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    args = ap.parse_args()
    for fn in (safetensors_seeds, npy_seeds, idx_seeds, image_seeds, cifar_seeds, config_seeds):
        fn(args.out)
    n = sum(sum(f.startswith("seed_") for f in fs) for _, _, fs in os.walk(args.out))
    print(f"[fuzz] {n} seed files in {args.out}")


if __name__ == "__main__":
    main()
