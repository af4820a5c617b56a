// The one translation unit that compiles the stb single-file libraries (stb_image, stb_image_write,
// stb_image_resize). Everything else includes their headers without the *_IMPLEMENTATION macros.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wall"
#pragma GCC diagnostic ignored "-Wextra"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"

#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

// PNG deflate through zlib (smaller files than stb's built-in compressor). The returned buffer
// must come from malloc: stb frees it with STBIW_FREE (= free).
#include <zlib.h>
#include <cstdlib>
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
