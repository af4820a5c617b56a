#!/usr/bin/env python3
"""Reference implementations of the feature-space metrics in src/eval (numpy + scipy only).

Version 1. Used by tests/unit/test_metrics.cpp; each formula follows the code the community
compares against, written independently of the C++ (no shared tricks):

  FID  pytorch-fid's calculate_frechet_distance (src/pytorch_fid/fid_score.py): scipy.linalg.sqrtm
       of sigma1 @ sigma2, retried with eps*I added when not finite, real part taken.
       Statistics: mu = mean, sigma = np.cov(rowvar=False) in float64. (pytorch-fid takes the
       mean of float32 activations in float32; we use float64 throughout, as the C++ does.)
  KID  torch-fidelity's kid (metric_kid.py, mmd2 unbiased, polynomial kernel degree 3,
       gamma = 1/D, coef0 = 1) on subsets given as index arrays, so the C++ and the reference use
       the same subsets. std: np.std (ddof 0), as torch-fidelity.
  P/R  Kynkäänniemi et al. 2019 (github.com/kynkaat/improved-precision-and-recall-metric): radii =
       distance to the k-th nearest neighbour excluding self; sample inside when
       d2 <= radius^2 for some member. Distances with scipy.spatial.distance.cdist (explicit
       differences, unlike the C++'s |a|^2 + |b|^2 - 2ab).

Usage (inputs are .npy files; indices int64 (n_subsets, m)):
  metrics_reference.py fid --a A.npy --b B.npy [--out out.json]
  metrics_reference.py fid-stats --mu1 M1.npy --sigma1 S1.npy --mu2 M2.npy --sigma2 S2.npy [--out]
  metrics_reference.py kid --real R.npy --fake F.npy --idx-real IR.npy --idx-fake IF.npy [--out]
  metrics_reference.py pr --real R.npy --fake F.npy [--k 3] [--out]
  metrics_reference.py all --dir DIR [--k 3] [--out]
      reads DIR/real.npy, DIR/fake.npy, and DIR/kid_idx_real.npy, DIR/kid_idx_fake.npy if present;
      also reports mu_{real,fake} and sigma_{real,fake} (flattened, float64).
The result is one JSON object (stdout, or --out).
"""
import argparse
import json
import os
import sys

import numpy as np
from scipy import linalg
from scipy.spatial.distance import cdist

VERSION = 1


def stats(x):
    x = np.asarray(x, dtype=np.float64)
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """pytorch-fid's calculate_frechet_distance."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    assert mu1.shape == mu2.shape and sigma1.shape == sigma2.shape
    diff = mu1 - mu2
    covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        print(f"fid calculation produces singular product; adding {eps} to diagonal of cov "
              "estimates", file=sys.stderr)
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"Imaginary component {np.max(np.abs(covmean.imag))}")
        covmean = covmean.real
    return float(diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))


def polynomial_kernel(x, y):
    d = x.shape[1]
    return (x @ y.T / d + 1.0) ** 3


def mmd2_unbiased(x, y):
    m = x.shape[0]
    kxx, kyy, kxy = polynomial_kernel(x, x), polynomial_kernel(y, y), polynomial_kernel(x, y)
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return (sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m)


def kid(real, fake, idx_real, idx_fake):
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    assert idx_real.shape == idx_fake.shape and idx_real.ndim == 2
    mmds = np.array([mmd2_unbiased(real[ir], fake[jf]) for ir, jf in zip(idx_real, idx_fake)])
    return {"kid_mean": float(mmds.mean()), "kid_std": float(np.std(mmds)),
            "kid_subsets": mmds.tolist()}


def knn_radii(x, k):
    d2 = cdist(x, x, "sqeuclidean")
    np.fill_diagonal(d2, np.inf)  # exclude the sample itself
    return np.partition(d2, k - 1, axis=1)[:, k - 1]  # squared radii


def fraction_inside(manifold, r2, query):
    d2 = cdist(query, manifold, "sqeuclidean")
    return float(np.mean(np.any(d2 <= r2[None, :], axis=1)))


def precision_recall(real, fake, k=3):
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    r2_real, r2_fake = knn_radii(real, k), knn_radii(fake, k)
    return {"precision": fraction_inside(real, r2_real, fake),
            "recall": fraction_inside(fake, r2_fake, real),
            "radii_real": np.sqrt(r2_real).tolist()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fid")
    f.add_argument("--a", required=True)
    f.add_argument("--b", required=True)
    fs = sub.add_parser("fid-stats")
    for name in ("mu1", "sigma1", "mu2", "sigma2"):
        fs.add_argument("--" + name, required=True)
    kd = sub.add_parser("kid")
    kd.add_argument("--real", required=True)
    kd.add_argument("--fake", required=True)
    kd.add_argument("--idx-real", required=True)
    kd.add_argument("--idx-fake", required=True)
    pr = sub.add_parser("pr")
    pr.add_argument("--real", required=True)
    pr.add_argument("--fake", required=True)
    pr.add_argument("--k", type=int, default=3)
    al = sub.add_parser("all")
    al.add_argument("--dir", required=True)
    al.add_argument("--k", type=int, default=3)
    for s in (f, fs, kd, pr, al):
        s.add_argument("--out", default=None)
    a = p.parse_args()

    out = {"version": VERSION}
    if a.cmd == "fid":
        out["fid"] = frechet_distance(*stats(np.load(a.a)), *stats(np.load(a.b)))
    elif a.cmd == "fid-stats":
        out["fid"] = frechet_distance(np.load(a.mu1).ravel(), np.load(a.sigma1),
                                      np.load(a.mu2).ravel(), np.load(a.sigma2))
    elif a.cmd == "kid":
        out.update(kid(np.load(a.real), np.load(a.fake), np.load(a.idx_real), np.load(a.idx_fake)))
    elif a.cmd == "pr":
        out.update(precision_recall(np.load(a.real), np.load(a.fake), a.k))
    else:
        real = np.load(os.path.join(a.dir, "real.npy"))
        fake = np.load(os.path.join(a.dir, "fake.npy"))
        mu_r, s_r = stats(real)
        mu_f, s_f = stats(fake)
        for name, arr in (("mu_real", mu_r), ("sigma_real", s_r), ("mu_fake", mu_f),
                          ("sigma_fake", s_f)):
            out[name] = arr.ravel().tolist()  # float64, row-major; JSON floats round-trip exactly
        out["fid"] = frechet_distance(mu_r, s_r, mu_f, s_f)
        ir = os.path.join(a.dir, "kid_idx_real.npy")
        if os.path.exists(ir):
            out.update(kid(real, fake, np.load(ir), np.load(os.path.join(a.dir, "kid_idx_fake.npy"))))
        out.update(precision_recall(real, fake, a.k))

    text = json.dumps(out)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text + "\n")
    else:
        print(text)


if __name__ == "__main__":
    main()
