// NumPy .npy reader/writer (format: include/dcgan/io/npy.hpp). The header is a Python dict literal;
// a small recursive-descent parser reads the subset numpy writes (strings, ints, bools, tuples,
// lists, dicts) instead of anything like eval.
#include "dcgan/io/npy.hpp"

#include <sys/stat.h>

#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "dcgan/error.hpp"
#include "io/atomic_file.hpp"

static_assert(std::endian::native == std::endian::little, "npy I/O assumes a little-endian host");

namespace dcgan {

namespace {

constexpr uint64_t kMaxHeaderBytes = 1 << 20;
const char* kNpyHint = "expected a NumPy .npy file as written by numpy.save (float32, C order)";

[[noreturn]] void bad(const std::string& path, const std::string& what, const std::string& hint = kNpyHint) {
  throw FileError(path, what, hint);
}

// A parsed Python literal.
struct PyValue {
  enum Kind { Str, Int, Bool, None, Seq, Dict } kind = None;
  std::string str;
  int64_t num = 0;  // Int (non-negative only) and Bool
  bool too_big = false;
  std::vector<PyValue> items;  // Seq: the elements; Dict: the values, keys[i] -> items[i]
  std::vector<std::string> keys;  // Dict, string keys only (not pair<string, PyValue>: clang
                                  // cannot instantiate that while PyValue is incomplete)
};

class LiteralParser {
 public:
  LiteralParser(const std::string& s, const std::string& path, const std::string& hint)
      : s_(s), path_(path), hint_(hint) {}

  PyValue parse_top() {
    PyValue v = value(0);
    skip_ws();
    if (i_ != s_.size()) fail("unexpected text after the header dict");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) {
    bad(path_, fmt::format("malformed .npy header ({} at character {}): {}", what, i_,
                           s_.size() > 200 ? s_.substr(0, 200) + "..." : s_), hint_);
  }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  PyValue value(int depth) {
    if (depth > 32) fail("nesting too deep");
    skip_ws();
    if (i_ >= s_.size()) fail("unexpected end");
    char c = s_[i_];
    if (c == '\'' || c == '"') return string_value();
    if (c >= '0' && c <= '9') return int_value();
    if (c == '-') fail("negative number");
    if (c == '(' || c == '[') return seq_value(c == '(' ? ')' : ']', depth);
    if (c == '{') return dict_value(depth);
    for (const char* word : {"True", "False", "None"}) {
      size_t n = std::strlen(word);
      if (s_.compare(i_, n, word) == 0) {
        i_ += n;
        PyValue v;
        v.kind = word[0] == 'N' ? PyValue::None : PyValue::Bool;
        v.num = word[0] == 'T';
        return v;
      }
    }
    fail("unexpected character");
  }
  PyValue string_value() {
    char q = s_[i_++];
    PyValue v;
    v.kind = PyValue::Str;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail("escape sequences are not supported");
      v.str += s_[i_++];
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return v;
  }
  PyValue int_value() {
    PyValue v;
    v.kind = PyValue::Int;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
      int d = s_[i_++] - '0';
      if (v.num > (std::numeric_limits<int64_t>::max() - d) / 10) v.too_big = true;
      if (!v.too_big) v.num = v.num * 10 + d;
    }
    if (i_ < s_.size() && s_[i_] == 'L') ++i_;  // Python 2 long suffix
    return v;
  }
  PyValue seq_value(char close, int depth) {
    ++i_;
    PyValue v;
    v.kind = PyValue::Seq;
    if (eat(close)) return v;
    while (true) {
      v.items.push_back(value(depth + 1));
      if (eat(close)) return v;
      if (!eat(',')) fail("expected ',' in a sequence");
      if (eat(close)) return v;
    }
  }
  PyValue dict_value(int depth) {
    ++i_;
    PyValue v;
    v.kind = PyValue::Dict;
    if (eat('}')) return v;
    while (true) {
      PyValue k = value(depth + 1);
      if (k.kind != PyValue::Str) fail("dict keys must be strings");
      if (!eat(':')) fail("expected ':' in the dict");
      v.keys.push_back(k.str);
      v.items.push_back(value(depth + 1));
      if (eat('}')) return v;
      if (!eat(',')) fail("expected ',' in the dict");
      if (eat('}')) return v;
    }
  }

  const std::string& s_;
  const std::string& path_;
  const std::string& hint_;
  size_t i_ = 0;
};

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

bool is_npy_file(const std::string& path) {
  struct stat sb;
  if (::stat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) return false;
  std::unique_ptr<std::FILE, FileCloser> f(std::fopen(path.c_str(), "rb"));
  char magic[6] = {};
  return f && std::fread(magic, 1, 6, f.get()) == 6 && std::memcmp(magic, kNpyMagic, 6) == 0;
}

std::string npy_shape_repr(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

NpyHeader read_npy_header(std::FILE* raw, const std::string& path, const std::string& hint) {
  struct stat sb{};
  if (::fstat(::fileno(raw), &sb) != 0 || !S_ISREG(sb.st_mode)) bad(path, "not a regular file", hint);
  const uint64_t size = static_cast<uint64_t>(sb.st_size);

  uint8_t pre[12] = {};
  size_t got = std::fread(pre, 1, std::min<uint64_t>(size, 12), raw);
  if (got < 10 || std::memcmp(pre, kNpyMagic, 6) != 0) {
    if (got >= 2 && pre[0] == 'P' && pre[1] == 'K')
      bad(path, "is a .npz (zip) archive, not a .npy file",
          "extract one array: python -c \"import numpy as np; np.save('x.npy', np.load('f.npz')['name'])\"");
    bad(path, got < 10 ? "too short to be a .npy file" : "not a .npy file (no \\x93NUMPY magic at the start)", hint);
  }
  const int major = pre[6], minor = pre[7];
  if (major < 1 || major > 3 || minor != 0)
    bad(path, fmt::format("unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", major, minor), hint);
  uint64_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) bad(path, "truncated .npy header", hint);
  uint64_t hlen = major == 1 ? (pre[8] | pre[9] << 8)
                             : (uint64_t(pre[8]) | uint64_t(pre[9]) << 8 | uint64_t(pre[10]) << 16 |
                                uint64_t(pre[11]) << 24);
  if (hlen > kMaxHeaderBytes) bad(path, fmt::format("corrupt .npy header: claimed header length {} bytes", hlen), hint);
  if (prefix + hlen > size)
    bad(path, fmt::format("truncated .npy file: the header claims {} bytes but only {} follow", hlen, size - prefix),
        hint);
  std::string header(hlen, '\0');
  if (::fseeko(raw, static_cast<off_t>(prefix), SEEK_SET) != 0 || std::fread(header.data(), 1, hlen, raw) != hlen)
    bad(path, "read failed in the .npy header", hint);

  PyValue d = LiteralParser(header, path, hint).parse_top();
  if (d.kind != PyValue::Dict) bad(path, "malformed .npy header: not a dict", hint);
  const PyValue *descr = nullptr, *fortran = nullptr, *shape = nullptr;
  for (size_t i = 0; i < d.keys.size(); ++i) {
    const std::string& k = d.keys[i];
    const PyValue& v = d.items[i];
    if (k == "descr") descr = &v;
    else if (k == "fortran_order") fortran = &v;
    else if (k == "shape") shape = &v;
    else bad(path, fmt::format("malformed .npy header: unexpected key '{}'", k), hint);
  }
  if (!descr || !fortran || !shape)
    bad(path, "malformed .npy header: it needs the keys 'descr', 'fortran_order' and 'shape'", hint);
  if (descr->kind != PyValue::Str)
    bad(path, "holds a structured array (record dtype); only plain arrays are supported",
        "save a plain array: np.save(path, np.asarray(a, dtype=np.float32))");
  if (fortran->kind != PyValue::Bool) bad(path, "malformed .npy header: 'fortran_order' is not True/False", hint);
  if (shape->kind != PyValue::Seq) bad(path, "malformed .npy header: 'shape' is not a tuple", hint);

  NpyHeader h;
  h.descr = descr->str;
  h.fortran_order = fortran->num != 0;
  h.data_offset = prefix + hlen;
  h.file_size = size;
  std::string text = "(";  // the shape as written, for messages (its values may not fit int64)
  for (size_t i = 0; i < shape->items.size(); ++i) {
    const PyValue& v = shape->items[i];
    if (v.kind != PyValue::Int) bad(path, "malformed .npy header: 'shape' holds something other than integers", hint);
    text += (i ? ", " : "") + (v.too_big ? std::string("(too large)") : std::to_string(v.num));
  }
  text += shape->items.size() == 1 ? ",)" : ")";
  uint64_t numel = 1;
  for (const PyValue& v : shape->items) {
    // numel must also fit int64 (Tensor's element count), checked at every step since a later
    // zero dimension would hide the overflow.
    if (v.too_big || __builtin_mul_overflow(numel, static_cast<uint64_t>(v.num), &numel) ||
        numel > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
      bad(path, fmt::format("corrupt .npy header: the element count of shape {} overflows", text), hint);
    h.shape.push_back(v.num);
  }
  return h;
}

Tensor read_npy(const std::string& path) {
  std::FILE* raw = std::fopen(path.c_str(), "rb");
  if (!raw) {
    int err = errno;
    if (err == ENOENT) bad(path, "file not found", "check the path");
    bad(path, fmt::format("cannot open: {}", std::strerror(err)), "check the path and its permissions");
  }
  std::unique_ptr<std::FILE, FileCloser> f(raw);
  const NpyHeader h = read_npy_header(raw, path, kNpyHint);
  const Shape& dims = h.shape;
  uint64_t numel = 1;
  int non_unit = 0;
  for (int64_t v : dims) {
    numel *= static_cast<uint64_t>(v);
    non_unit += v > 1;
  }
  // Fortran and C order coincide when at most one dimension exceeds 1.
  if (h.fortran_order && non_unit > 1)
    bad(path, fmt::format("is stored in Fortran (column-major) order, shape {}; only C order is supported",
                          npy_shape_repr(dims)),
        "re-save it in C order: np.save(path, np.ascontiguousarray(a, dtype=np.float32))");
  const std::string& descr = h.descr;
  size_t itemsize;
  if (descr == "<f4") itemsize = 4;
  else if (descr == "<f8") itemsize = 8;
  else
    bad(path, fmt::format("has dtype '{}'; expected float32 ('<f4') or float64 ('<f8'), little-endian", descr),
        "convert it: np.save(path, np.asarray(a, dtype=np.float32))");
  uint64_t nbytes;
  if (__builtin_mul_overflow(numel, static_cast<uint64_t>(itemsize), &nbytes))
    bad(path, fmt::format("corrupt .npy header: shape {} is too large", npy_shape_repr(dims)));
  const uint64_t have = h.file_size - h.data_offset;
  if (have < nbytes)
    bad(path, fmt::format("truncated .npy file: shape {} of '{}' needs {} data bytes but the file holds {}",
                          npy_shape_repr(dims), descr, nbytes, have));

  Tensor out(dims);
  if (itemsize == 4) {
    if (nbytes && std::fread(out.data(), 1, nbytes, raw) != nbytes) bad(path, "read failed in the .npy data");
  } else {
    std::vector<double> buf(std::min<uint64_t>(numel, 1 << 16));
    for (uint64_t i = 0; i < numel;) {
      uint64_t n = std::min<uint64_t>(buf.size(), numel - i);
      if (std::fread(buf.data(), 8, n, raw) != n) bad(path, "read failed in the .npy data");
      for (uint64_t j = 0; j < n; ++j) out[static_cast<int64_t>(i + j)] = static_cast<float>(buf[j]);
      i += n;
    }
  }
  return out;
}

void write_npy(const std::string& path, const Tensor& t) {
  // Exactly numpy's _write_array_header (numpy >= 1.23): sorted keys, trailing ", ", then spare
  // space for growing axis 0, then spaces and '\n' up to a 64-byte boundary.
  const Shape& s = t.shape();
  std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': " + npy_shape_repr(s) + ", }";
  if (!s.empty()) header.append(21 - std::to_string(s[0]).size(), ' ');
  int major = 1;
  size_t hlen = header.size() + 1;
  size_t pad = 64 - (10 + hlen) % 64;
  if (hlen + pad > 65535) {
    major = 2;
    pad = 64 - (12 + hlen) % 64;
  }
  header.append(pad, ' ');
  header += '\n';
  write_file_atomic(path, [&](AtomicWriter& w) {
    w.write(kNpyMagic, 6);
    w.put_u8(static_cast<uint8_t>(major));
    w.put_u8(0);
    uint32_t n = static_cast<uint32_t>(header.size());
    if (major == 1) {
      w.put_u16le(static_cast<uint16_t>(n));
    } else {
      uint8_t b[4] = {uint8_t(n), uint8_t(n >> 8), uint8_t(n >> 16), uint8_t(n >> 24)};
      w.write(b, 4);
    }
    w.write(header);
    w.write(t.data(), static_cast<size_t>(t.numel()) * sizeof(float));
  });
}

}  // namespace dcgan
