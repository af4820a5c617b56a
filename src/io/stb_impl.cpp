// The one translation unit that compiles the stb single-file libraries (stb_image, stb_image_write,
// stb_image_resize). Everything else includes their headers without the *_IMPLEMENTATION macros.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"

// stb_image's public decoding entry points are compiled under other names and wrapped below by
// versions that first refuse headers stb 2.27 would mishandle (see dcgan_header_check) and then
// images of zero size.
#define stbi_load dcgan_stbi_load_unchecked
#define stbi_load_from_file dcgan_stbi_load_from_file_unchecked
#define stbi_load_from_memory dcgan_stbi_load_from_memory_unchecked
#define stbi_info dcgan_stbi_info_unchecked
#define stbi_info_from_file dcgan_stbi_info_from_file_unchecked
#define stbi_info_from_memory dcgan_stbi_info_from_memory_unchecked
// Zeroed allocations: stb 2.27 reads parts of its JPEG decoder state that a malformed file never
// sets (see "Scans that use a Huffman table" below); zeroed, they read the same in every process
// instead of whatever the heap held. (Its buffers grown by realloc are written before they are
// read.) The cost is one memset per allocation, small against decoding.
#define STBI_MALLOC(sz) std::calloc(1, sz)
#define STBI_REALLOC(p, newsz) std::realloc(p, newsz)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>
#undef stbi_load
#undef stbi_load_from_file
#undef stbi_load_from_memory
#undef stbi_info
#undef stbi_info_from_file
#undef stbi_info_from_memory

// PNG deflate through zlib (smaller files than stb's built-in compressor). The returned buffer
// must come from malloc: stb frees it with STBIW_FREE (= free).
#include <zlib.h>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
static unsigned char* dcgan_stbiw_zlib_compress(unsigned char* data, int data_len, int* out_len, int quality) {
  uLongf cap = compressBound(static_cast<uLong>(data_len));
  unsigned char* out = static_cast<unsigned char*>(std::malloc(cap));
  if (!out) return nullptr;
  int level = quality < 0 ? Z_DEFAULT_COMPRESSION : (quality > 9 ? 9 : quality);
  if (compress2(out, &cap, data, static_cast<uLong>(data_len), level) != Z_OK) {
    std::free(out);
    return nullptr;
  }
  *out_len = static_cast<int>(cap);
  return out;
}
#define STBIW_ZLIB_COMPRESS dcgan_stbiw_zlib_compress
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb_image_write.h>

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#include <stb_image_resize.h>

#pragma GCC diagnostic pop

// ---------------------------------------------------------------------------------------------
// JPEG Huffman tables. stb_image 2.27 (Debian 12's libstb-dev) trusts the 16 code counts of a
// DHT table: more than 256 codes in one table overrun stbi__huffman::size[257] and ::values[256]
// inside its decoder state (fixed upstream in 2.28: "bad size list"). Both stbi_info and stbi_load
// parse DHT segments, so every entry point above runs this check first. Found by
// fuzz/fuzz_image.cpp (regression: fuzz/regressions/image/jpeg_dht_more_than_256_codes).
//
// Scans that use a Huffman table the file never defined. stb 2.27 decodes them with whatever its
// decoder state holds in that table's place: memory it does not initialise, so what a malloc
// returns, e.g. the tables of an image decoded earlier in the process. A symbol index computed
// from such a table can be negative (found by fuzz/fuzz_image.cpp as a read before
// stbi__huffman::values in a progressive AC scan, after thousands of other inputs; regression:
// fuzz/regressions/image/jpeg_scan_uses_undefined_huffman_table). A JPEG must define a table
// before a scan uses it (ITU T.81 B.2.4.2), so the walk refuses such a scan; the decoder's
// allocations are zeroed too (STBI_MALLOC above), so that nothing it reads depends on the heap.
//
// The walk follows stb's own marker parsing (fill bytes, junk between markers, segment lengths, scan
// data up to the first marker other than FF00 / RSTn) and looks at least at every DHT and SOS stb
// would read. Returns nullptr when the bytes are not a JPEG or hold no such table or scan.
namespace {

// The tables a scan (SOS segment at `q`, `len` bytes with the length field) decodes with: the DC
// table of each component in a first DC pass (Ss = 0, Ah = 0; every baseline scan), the AC table
// in a pass over AC coefficients (Se > 0; every baseline scan). Refinement passes of the DC
// coefficient read raw bits only.
const char* dcgan_jpeg_scan_check(const unsigned char* p, size_t n, size_t q, size_t len, bool progressive,
                                  const bool (&defined)[2][4]) {
  const size_t end = std::min(n, q + len);
  if (q + 3 > end) return nullptr;  // stb refuses a short scan header itself
  const size_t ns = p[q + 2];
  const size_t spec = q + 3 + 2 * ns;  // Ss, Se, Ah/Al
  if (spec + 3 > end) return nullptr;
  const int ss = p[spec], se = p[spec + 1], ah = p[spec + 2] >> 4;
  const bool dc = !progressive || (ss == 0 && ah == 0);
  const bool ac = !progressive || se > 0;
  for (size_t c = 0; c < ns; ++c) {
    const int td = p[q + 4 + 2 * c] >> 4, ta = p[q + 4 + 2 * c] & 15;
    if (td > 3 || ta > 3) return nullptr;  // stb refuses these ids itself
    if ((dc && !defined[0][td]) || (ac && !defined[1][ta]))
      return "a scan uses a Huffman table the file does not define";
  }
  return nullptr;
}

const char* dcgan_jpeg_check(const unsigned char* p, size_t n) {
  size_t i = 0;
  if (n < 2 || p[0] != 0xFF) return nullptr;
  while (i < n && p[i] == 0xFF) ++i;
  if (i >= n || p[i] != 0xD8) return nullptr;  // no SOI: stb will not take it for a JPEG
  ++i;
  bool in_scan = false, progressive = false;
  bool defined[2][4] = {};  // Huffman tables defined so far: [DC, AC][id]
  while (i < n) {
    if (p[i++] != 0xFF) continue;  // scan data, or junk stb skips between markers
    while (i < n && p[i] == 0xFF) ++i;
    if (i >= n) break;
    const unsigned char m = p[i++];
    if (in_scan && (m == 0x00 || (m >= 0xD0 && m <= 0xD7))) continue;  // stuffing, restart
    in_scan = false;
    if (m == 0xD9) break;                                             // EOI
    if (m == 0x00 || m == 0x01 || (m >= 0xD0 && m <= 0xD8)) continue;  // no length field
    if (i + 2 > n) break;
    const size_t len = size_t(p[i]) << 8 | p[i + 1];
    if (m == 0xC4) {  // DHT: tables of (class/id byte, 16 counts, sum(counts) symbols)
      long left = long(len) - 2;
      size_t q = i + 2;
      while (left > 0 && q < n) {
        int codes = 0;  // stb reads bytes past the end as 0
        for (size_t k = 1; k <= 16 && q + k < n; ++k) codes += p[q + k];
        if (codes > 256) return "bad Huffman table (more than 256 codes)";
        if ((p[q] >> 4) <= 1 && (p[q] & 15) <= 3) defined[p[q] >> 4][p[q] & 15] = true;
        q += 17 + size_t(codes);
        left -= 17 + codes;
      }
    }
    if (m == 0xC2) progressive = true;  // SOF2, the progressive frame stb decodes
    if (m == 0xDA) {
      if (const char* why = dcgan_jpeg_scan_check(p, n, i, len, progressive, defined)) return why;
      in_scan = true;
    }
    i += len;
  }
  return nullptr;
}

// PNM (P5 / P6) headers. stb_image 2.27 parses width, height and maxval into an int without an
// overflow check (signed overflow: undefined behaviour; fixed upstream in 2.28). Found by
// fuzz/fuzz_image.cpp (regression: fuzz/regressions/image/pnm_width_overflows_int). This replays
// stb's header parsing (whitespace, '#' comments, digits, with stb's end-of-data rules) and refuses
// a number above INT_MAX before stb sees it.
const char* dcgan_pnm_check(const unsigned char* p, size_t n) {
  if (n < 2 || p[0] != 'P' || (p[1] != '5' && p[1] != '6')) return nullptr;
  size_t i = 2;
  auto at_eof = [&] { return i >= n; };
  auto get8 = [&] { return static_cast<char>(i < n ? p[i++] : 0); };
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'; };
  char c = get8();
  for (int field = 0; field < 3; ++field) {  // width, height, maxval
    for (;;) {
      while (!at_eof() && space(c)) c = get8();
      if (at_eof() || c != '#') break;
      while (!at_eof() && c != '\n' && c != '\r') c = get8();
    }
    long long value = 0;
    while (!at_eof() && c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      if (value > INT_MAX) return "PNM header number too large";
      c = get8();
    }
  }
  return nullptr;
}

// PNG IDAT chunks longer than the file. stb 2.27 grows its compressed-data buffer to a chunk's
// declared length (up to 2^31 bytes) before reading it, so a 100-byte file could make it allocate
// 2 GB and then fail with "outofdata" (found by fuzz/fuzz_image.cpp as an out-of-memory;
// regression: fuzz/regressions/image/png_idat_longer_than_file). The walk follows stb's chunk
// loop (length, type, data, CRC) and refuses such a chunk before stb sees it.
const char* dcgan_png_check(const unsigned char* p, size_t n) {
  static const unsigned char kSig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
  if (n < 8 || std::memcmp(p, kSig, 8) != 0) return nullptr;
  for (size_t i = 8; i + 8 <= n;) {
    const size_t len = size_t(p[i]) << 24 | size_t(p[i + 1]) << 16 | size_t(p[i + 2]) << 8 | p[i + 3];
    if (std::memcmp(p + i + 4, "IDAT", 4) == 0 && len > n - (i + 8))
      return "truncated PNG (an IDAT chunk claims more bytes than the file holds)";
    if (std::memcmp(p + i + 4, "IEND", 4) == 0) break;
    i += 12 + len;
  }
  return nullptr;
}

const char* dcgan_header_check(const unsigned char* p, size_t n) {
  for (auto check : {dcgan_jpeg_check, dcgan_pnm_check, dcgan_png_check})
    if (const char* why = check(p, n)) return why;
  return nullptr;
}

// Runs dcgan_header_check on the bytes of `f` from its current position to the end (only the first
// few when they start like neither a JPEG, a PNM nor a PNG), with the position restored.
bool dcgan_file_header_ok(FILE* f) {
  long pos = std::ftell(f);
  if (pos < 0) return true;
  std::vector<unsigned char> bytes(4096);
  size_t got = std::fread(bytes.data(), 1, bytes.size(), f);
  bytes.resize(got);
  if (got >= 2 && (bytes[0] == 0xFF || bytes[0] == 'P' || bytes[0] == 0x89)) {  // JPEG, PNM, PNG: the whole file
    std::vector<unsigned char> buf(1 << 16);
    while (size_t k = std::fread(buf.data(), 1, buf.size(), f)) bytes.insert(bytes.end(), buf.data(), buf.data() + k);
  }
  const char* why = dcgan_header_check(bytes.data(), bytes.size());
  std::fseek(f, pos, SEEK_SET);
  if (why) stbi__err(why, "Corrupt image");
  return why == nullptr;
}

bool dcgan_memory_header_ok(stbi_uc const* buffer, int len) {
  const char* why = len > 0 ? dcgan_header_check(buffer, static_cast<size_t>(len)) : nullptr;
  if (why) stbi__err(why, "Corrupt image");
  return why == nullptr;
}

// stb's PNM reader (2.27) returns a pixel buffer for a header declaring a width or height of 0;
// callers then divide by the size (found by fuzz/fuzz_image.cpp, regression:
// fuzz/regressions/image/pnm_zero_width). The wrappers refuse such images.
// Some of stb's failure paths leave the failure reason empty; callers print it.
stbi_uc* dcgan_no_empty(stbi_uc* px, int* x, int* y) {
  if (!px && (!stbi__g_failure_reason || !*stbi__g_failure_reason)) stbi__err("corrupt image", "Corrupt image");
  if (px && (*x <= 0 || *y <= 0)) {
    stbi_image_free(px);
    return stbi__errpuc("image has a zero width or height", "Corrupt image");
  }
  return px;
}

int dcgan_info_no_empty(int ok, int* x, int* y) {
  if (ok && x && y && (*x <= 0 || *y <= 0)) return stbi__err("image has a zero width or height", "Corrupt image");
  return ok;
}

}  // namespace

extern "C" {

STBIDEF stbi_uc* stbi_load_from_memory(stbi_uc const* buffer, int len, int* x, int* y, int* comp, int req_comp) {
  if (!dcgan_memory_header_ok(buffer, len)) return nullptr;
  return dcgan_no_empty(dcgan_stbi_load_from_memory_unchecked(buffer, len, x, y, comp, req_comp), x, y);
}

STBIDEF int stbi_info_from_memory(stbi_uc const* buffer, int len, int* x, int* y, int* comp) {
  if (!dcgan_memory_header_ok(buffer, len)) return 0;
  return dcgan_info_no_empty(dcgan_stbi_info_from_memory_unchecked(buffer, len, x, y, comp), x, y);
}

STBIDEF stbi_uc* stbi_load_from_file(FILE* f, int* x, int* y, int* comp, int req_comp) {
  if (!dcgan_file_header_ok(f)) return nullptr;
  return dcgan_no_empty(dcgan_stbi_load_from_file_unchecked(f, x, y, comp, req_comp), x, y);
}

STBIDEF int stbi_info_from_file(FILE* f, int* x, int* y, int* comp) {
  if (!dcgan_file_header_ok(f)) return 0;
  return dcgan_info_no_empty(dcgan_stbi_info_from_file_unchecked(f, x, y, comp), x, y);
}

STBIDEF stbi_uc* stbi_load(char const* filename, int* x, int* y, int* comp, int req_comp) {
  FILE* f = stbi__fopen(filename, "rb");
  if (!f) return stbi__errpuc("can't fopen", "Unable to open file");
  stbi_uc* result = stbi_load_from_file(f, x, y, comp, req_comp);
  std::fclose(f);
  return result;
}

STBIDEF int stbi_info(char const* filename, int* x, int* y, int* comp) {
  FILE* f = stbi__fopen(filename, "rb");
  if (!f) return stbi__err("can't fopen", "Unable to open file");
  int result = stbi_info_from_file(f, x, y, comp);
  std::fclose(f);
  return result;
}

}  // extern "C"
