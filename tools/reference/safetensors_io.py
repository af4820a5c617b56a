"""Read and write Hugging Face safetensors files with plain Python + NumPy.

The `safetensors` package is not available here, so this is a small, independent implementation
of the format (https://github.com/huggingface/safetensors), used by the PyTorch reference scripts
and by the C++ tests as a cross-check:

    [8 bytes]  N: little-endian u64, length of the JSON header
    [N bytes]  {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
                "__metadata__": {"key": "value"}}        (space-padded to 8-byte alignment)
    [rest]     raw little-endian tensor bytes, C order; offsets relative to the buffer start

Usage:
    from safetensors_io import save_file, load_file
    save_file({"generator.model.0.weight": w}, "ckpt.safetensors", {"arch": "dcgan"})
    tensors, metadata = load_file("ckpt.safetensors")

    python3 safetensors_io.py FILE     # print metadata and every tensor's dtype and shape
"""
import json
import struct
import sys

import numpy as np

__all__ = ["save_file", "load_file", "DTYPES"]

# safetensors dtype name -> NumPy dtype (little-endian). BF16 has no NumPy dtype: it is read as
# float32 (exactly: bf16 is the top half of an f32) and cannot be written from NumPy.
DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_NAMES = {dt.str: name for name, dt in DTYPES.items()}  # '<f4' -> 'F32', '|u1' -> 'U8'
_MAX_HEADER = 100_000_000


def _to_numpy(x):
    """np.ndarray, NumPy scalar, or a CPU torch tensor (detached) -> C-contiguous little-endian array."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    a = np.asarray(x)
    if a.dtype.str.startswith(">"):
        a = a.astype(a.dtype.newbyteorder("<"))
    return np.array(a, order="C", copy=False)  # (np.ascontiguousarray would turn 0-dim into 1-dim)


def save_file(tensors, path, metadata=None):
    """Write `tensors` (name -> array; NumPy or CPU torch) and `metadata` (str -> str) to `path`.

    Tensors are laid out in name order; 0-dim arrays are stored with shape [].
    """
    arrays = {}
    for name in sorted(tensors):
        if name == "__metadata__":
            raise ValueError("'__metadata__' cannot be a tensor name")
        a = _to_numpy(tensors[name])
        if a.dtype.str not in _NAMES:
            raise ValueError(f"tensor {name!r}: dtype {a.dtype} has no safetensors equivalent")
        arrays[name] = a
    header = {}
    offset = 0
    for name, a in arrays.items():
        header[name] = {"dtype": _NAMES[a.dtype.str], "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise ValueError(f"metadata must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for a in arrays.values():
            f.write(a.tobytes(order="C"))


def load_file(path):
    """Read `path`; returns (tensors: dict name -> np.ndarray, metadata: dict str -> str).

    Validates the header like the reference implementation: header length within the file,
    offsets in range and tiling the data buffer exactly, sizes matching dtype and shape.
    """
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (n,) = struct.unpack("<Q", data[:8])
    if n > _MAX_HEADER or n > len(data) - 8:
        raise ValueError(f"{path}: header length {n} exceeds the file or the limit")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = memoryview(data)[8 + n:]
    metadata = header.pop("__metadata__", None) or {}
    spans = []
    tensors = {}
    for name, info in header.items():
        dtype, shape, (begin, end) = info["dtype"], [int(d) for d in info["shape"]], info["data_offsets"]
        if any(d < 0 for d in shape) or not 0 <= begin <= end <= len(buf):
            raise ValueError(f"{path}: tensor {name!r} has bad shape or offsets")
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if dtype == "BF16":
            if end - begin != 2 * count:
                raise ValueError(f"{path}: tensor {name!r} size mismatch")
            raw = np.frombuffer(buf[begin:end], dtype="<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32).reshape(shape)
        else:
            dt = DTYPES[dtype]
            if end - begin != dt.itemsize * count:
                raise ValueError(f"{path}: tensor {name!r} size mismatch")
            arr = np.frombuffer(buf[begin:end], dtype=dt).reshape(shape).copy()
        tensors[name] = arr
        spans.append((begin, end, name))
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise ValueError(f"{path}: tensor {name!r} overlaps or leaves a gap in the data buffer")
        pos = end
    if pos != len(buf):
        raise ValueError(f"{path}: tensors cover {pos} of {len(buf)} data bytes")
    return tensors, metadata


def _main(argv):
    if len(argv) != 2:
        print(__doc__.split("Usage:")[1])
        return 2
    tensors, metadata = load_file(argv[1])
    for k, v in sorted(metadata.items()):
        print(f"meta {k} = {v}")
    for name, a in sorted(tensors.items()):
        print(f"{name}: {a.dtype} {tuple(a.shape)}")
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv))
