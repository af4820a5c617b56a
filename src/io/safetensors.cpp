// Safetensors reader/writer (format: src/io/safetensors.hpp). Reading validates the whole
// header against the file size before allocating anything, so a corrupt or hostile file costs at
// most its header (<= 100 MB) and yields a FileError that names it.
#include "io/safetensors.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include <nlohmann/json.hpp>

#include "dcgan/error.hpp"
#include "io/atomic_file.hpp"

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

namespace dcgan {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100ull * 1000 * 1000;  // 100 MB, as the reference implementation
const char* kCorruptHint = "re-export the checkpoint or pick another file from checkpoints/";
const char* kShapeHint =
    "the file was made for a different model configuration; compare its metadata (`dcgan info FILE`) "
    "with your options";

std::string where(const SafeTensors& st) { return st.path.empty() ? "<in-memory safetensors>" : st.path; }

// IEEE half -> float, including subnormals, inf and NaN.
float half_to_float(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: renormalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | mant << 13;
  } else {
    bits = sign | (exp + 127 - 15) << 23 | mant << 13;
  }
  return std::bit_cast<float>(bits);
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using FilePtr = std::unique_ptr<std::FILE, FileCloser>;

FilePtr open_for_read(const std::string& path, uint64_t* size) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) {
    int err = errno;
    if (err == ENOENT) throw FileError(path, "file not found", "check the path");
    throw FileError(path, fmt::format("cannot open: {}", std::strerror(err)), "check the path and its permissions");
  }
  FilePtr fp(f);
  struct stat sb{};
  if (::fstat(::fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
    throw FileError(path, "not a regular file", "give the path of a .safetensors file");
  *size = static_cast<uint64_t>(sb.st_size);
  return fp;
}

void read_exact(std::FILE* f, uint64_t offset, void* dst, uint64_t n, const std::string& path) {
  if (n == 0) return;
  if (::fseeko(f, static_cast<off_t>(offset), SEEK_SET) != 0 || std::fread(dst, 1, n, f) != n)
    throw FileError(path, fmt::format("read failed at byte {} (file changed or I/O error)", offset), kCorruptHint);
}

[[noreturn]] void corrupt(const std::string& path, const std::string& what) {
  throw FileError(path, "corrupt or truncated safetensors file: " + what, kCorruptHint);
}

uint64_t get_u64(const nlohmann::json& v, const std::string& path, const std::string& what) {
  if (!v.is_number_unsigned()) {
    if (v.is_number_integer()) corrupt(path, fmt::format("{} is negative ({})", what, v.get<int64_t>()));
    corrupt(path, fmt::format("{} is not a non-negative integer", what));
  }
  return v.get<uint64_t>();
}

struct Entry {
  std::string name;
  uint64_t begin, end;
};

// Parses and validates everything; fills `st` (without bytes) and returns the entries.
std::vector<Entry> parse_header(const std::string& path, std::FILE* f, uint64_t file_size, SafeTensors& st,
                                uint64_t* data_start) {
  if (file_size < 8)
    corrupt(path, fmt::format("the file holds {} bytes, fewer than the 8-byte header length field", file_size));
  uint8_t lenbuf[8];
  read_exact(f, 0, lenbuf, 8, path);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | lenbuf[i];
  if (n > kMaxHeaderBytes)
    corrupt(path, fmt::format("the header length field claims {} bytes, more than the {} byte limit", n,
                              kMaxHeaderBytes));
  if (n > file_size - 8)
    corrupt(path, fmt::format("the header length field claims {} bytes but only {} follow it", n, file_size - 8));
  if (n < 2) corrupt(path, fmt::format("the header is {} bytes, too short for a JSON object", n));
  std::string header(n, '\0');
  read_exact(f, 8, header.data(), n, path);
  const uint64_t buffer_size = file_size - 8 - n;
  *data_start = 8 + n;

  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header);
  } catch (const nlohmann::json::exception& e) {
    corrupt(path, fmt::format("the header is not valid JSON ({})", e.what()));
  }
  if (!j.is_object()) corrupt(path, "the header is not a JSON object");

  std::vector<Entry> entries;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) corrupt(path, "__metadata__ is not a JSON object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m->is_string()) corrupt(path, fmt::format("__metadata__ value for '{}' is not a string", m.key()));
        st.metadata[m.key()] = m->get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) corrupt(path, fmt::format("entry for tensor '{}' is not a JSON object", name));
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) corrupt(path, fmt::format("tensor '{}' has no string 'dtype'", name));
    if (sh == v.end() || !sh->is_array()) corrupt(path, fmt::format("tensor '{}' has no 'shape' array", name));
    if (off == v.end() || !off->is_array() || off->size() != 2)
      corrupt(path, fmt::format("tensor '{}' has no 'data_offsets' pair", name));
    StTensor t;
    t.dtype = dt->get<std::string>();
    size_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) corrupt(path, fmt::format("tensor '{}' has unknown dtype '{}'", name, t.dtype));
    uint64_t bytes = esize;  // numel * esize, checked for overflow dim by dim
    bool overflow = false;
    for (size_t d = 0; d < sh->size(); ++d) {
      uint64_t dim = get_u64((*sh)[d], path, fmt::format("dimension {} of tensor '{}'", d, name));
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
      if (!overflow && __builtin_mul_overflow(bytes, dim, &bytes)) overflow = true;
      // Also within int64 (Tensor's element count): a later zero dimension would hide this.
      if (bytes > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) overflow = true;
      t.shape.push_back(static_cast<int64_t>(std::min<uint64_t>(dim, std::numeric_limits<int64_t>::max())));
    }
    if (overflow) corrupt(path, fmt::format("tensor '{}' has a shape whose size overflows", name));
    uint64_t begin = get_u64((*off)[0], path, fmt::format("data_offsets[0] of tensor '{}'", name));
    uint64_t end = get_u64((*off)[1], path, fmt::format("data_offsets[1] of tensor '{}'", name));
    if (begin > end) corrupt(path, fmt::format("tensor '{}' has data_offsets [{}, {}] with begin > end", name, begin, end));
    if (end > buffer_size)
      corrupt(path, fmt::format("tensor '{}' has data_offsets [{}, {}] beyond the {} data bytes in the file", name,
                                begin, end, buffer_size));
    if (end - begin != bytes)
      corrupt(path, fmt::format("tensor '{}' is {} {} which needs {} bytes, but its data_offsets span {}", name,
                                t.dtype, shape_str(t.shape), bytes, end - begin));
    entries.push_back({name, begin, end});
    st.tensors.emplace(name, std::move(t));
  }

  // The tensors must tile the data buffer exactly: no overlaps, no gaps, nothing after the last.
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
  uint64_t expected = 0;
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    if (e.begin < expected)
      corrupt(path, fmt::format("tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", prev->name,
                                e.name, prev->begin, prev->end, e.begin, e.end));
    if (e.begin > expected)
      corrupt(path, fmt::format("gap of {} bytes before tensor '{}' in the data buffer", e.begin - expected, e.name));
    expected = e.end;
    prev = &e;
  }
  if (expected != buffer_size)
    corrupt(path, fmt::format("the tensors cover {} data bytes but the file holds {}", expected, buffer_size));
  return entries;
}

SafeTensors read_impl(const std::string& path, bool with_data) {
  uint64_t size = 0;
  FilePtr f = open_for_read(path, &size);
  SafeTensors st;
  st.path = path;
  uint64_t data_start = 0;
  std::vector<Entry> entries = parse_header(path, f.get(), size, st, &data_start);
  if (with_data) {
    for (const Entry& e : entries) {
      StTensor& t = st.tensors.at(e.name);
      t.bytes.resize(e.end - e.begin);
      read_exact(f.get(), data_start + e.begin, t.bytes.data(), t.bytes.size(), path);
    }
  }
  return st;
}

const StTensor& find(const SafeTensors& st, const std::string& name) {
  auto it = st.tensors.find(name);
  if (it == st.tensors.end())
    throw FileError(where(st), fmt::format("tensor '{}' is missing", name),
                    "the file was made for a different model or is not a checkpoint of this program");
  if (it->second.bytes.size() != numel_of(it->second.shape) * safetensors_dtype_size(it->second.dtype))
    throw FileError(where(st), fmt::format("tensor '{}' holds no data (header-only read?)", name));
  return it->second;
}

}  // namespace

size_t safetensors_dtype_size(const std::string& d) {
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "I8" || d == "U8" || d == "BOOL" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  return 0;
}

void SafeTensors::put(const std::string& name, const Tensor& t) {
  StTensor s;
  s.dtype = "F32";
  s.shape = t.shape();
  s.bytes.resize(static_cast<size_t>(t.numel()) * sizeof(float));
  if (!s.bytes.empty()) std::memcpy(s.bytes.data(), t.data(), s.bytes.size());
  tensors[name] = std::move(s);
}

void SafeTensors::put_i64(const std::string& name, int64_t v) {
  StTensor s;
  s.dtype = "I64";
  s.bytes.resize(8);
  std::memcpy(s.bytes.data(), &v, 8);
  tensors[name] = std::move(s);
}

Tensor SafeTensors::get(const std::string& name) const {
  const StTensor& s = find(*this, name);
  Tensor out(s.shape);
  const int64_t n = out.numel();
  float* dst = out.data();
  const uint8_t* src = s.bytes.data();
  if (s.dtype == "F32") {
    if (n) std::memcpy(dst, src, n * sizeof(float));
  } else if (s.dtype == "F64") {
    for (int64_t i = 0; i < n; ++i) {
      double v;
      std::memcpy(&v, src + 8 * i, 8);
      dst[i] = static_cast<float>(v);
    }
  } else if (s.dtype == "F16" || s.dtype == "BF16") {
    const bool bf = s.dtype == "BF16";
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, src + 2 * i, 2);
      dst[i] = bf ? std::bit_cast<float>(static_cast<uint32_t>(h) << 16) : half_to_float(h);
    }
  } else {
    throw FileError(where(*this),
                    fmt::format("tensor '{}' has dtype {}, expected a floating-point one (F32, F16, BF16, F64)", name,
                                s.dtype),
                    kCorruptHint);
  }
  return out;
}

Tensor SafeTensors::get(const std::string& name, const Shape& expected) const {
  auto it = tensors.find(name);
  if (it != tensors.end() && it->second.shape != expected)
    throw FileError(where(*this),
                    fmt::format("tensor '{}' has shape {} in the file but the model expects {}", name,
                                shape_str(it->second.shape), shape_str(expected)),
                    kShapeHint);
  return get(name);
}

void SafeTensors::get_into(const std::string& name, Tensor& dst) const {
  Tensor t = get(name, dst.shape());
  dst.copy_from(t);
}

int64_t SafeTensors::get_i64(const std::string& name) const {
  const StTensor& s = find(*this, name);
  if (numel_of(s.shape) != 1)
    throw FileError(where(*this),
                    fmt::format("tensor '{}' has shape {}, expected a single integer", name, shape_str(s.shape)),
                    kShapeHint);
  const uint8_t* p = s.bytes.data();
  if (s.dtype == "I64") { int64_t v; std::memcpy(&v, p, 8); return v; }
  if (s.dtype == "I32") { int32_t v; std::memcpy(&v, p, 4); return v; }
  if (s.dtype == "I16") { int16_t v; std::memcpy(&v, p, 2); return v; }
  if (s.dtype == "I8") { return static_cast<int8_t>(p[0]); }
  if (s.dtype == "U8") { return p[0]; }
  throw FileError(where(*this), fmt::format("tensor '{}' has dtype {}, expected an integer one (I64)", name, s.dtype),
                  kCorruptHint);
}

std::string SafeTensors::meta(const std::string& key, const std::string& fallback) const {
  auto it = metadata.find(key);
  return it == metadata.end() ? fallback : it->second;
}

SafeTensors read_safetensors(const std::string& path) { return read_impl(path, true); }
SafeTensors read_safetensors_header(const std::string& path) { return read_impl(path, false); }

void write_safetensors_atomic(const std::string& path, const SafeTensors& st) {
  nlohmann::json header = nlohmann::json::object();
  uint64_t offset = 0;
  for (const auto& [name, t] : st.tensors) {
    DCGAN_CHECK(name != "__metadata__", "[safetensors] '__metadata__' cannot be a tensor name");
    size_t esize = safetensors_dtype_size(t.dtype);
    DCGAN_CHECK(esize != 0, "[safetensors] tensor '{}' has unknown dtype '{}'", name, t.dtype);
    DCGAN_CHECK(t.bytes.size() == numel_of(t.shape) * esize, "[safetensors] tensor '{}' ({} {}) holds {} bytes",
                name, t.dtype, shape_str(t.shape), t.bytes.size());
    header[name] = {{"dtype", t.dtype}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes.size()}}};
    offset += t.bytes.size();
  }
  if (!st.metadata.empty()) header["__metadata__"] = st.metadata;
  std::string text;
  try {
    text = header.dump();
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("[safetensors] cannot encode header for {}: {}", path, e.what()));
  }
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned
  write_file_atomic(path, [&](AtomicWriter& w) {
    uint8_t len[8];
    uint64_t n = text.size();
    for (int i = 0; i < 8; ++i) len[i] = static_cast<uint8_t>(n >> (8 * i));
    w.write(len, 8);
    w.write(text);
    for (const auto& [name, t] : st.tensors) w.write(t.bytes.data(), t.bytes.size());
  });
}

}  // namespace dcgan
