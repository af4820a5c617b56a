// Images out (PNG via stb_image_write, animated GIF via a small built-in encoder) and images in
// (PNG/JPEG/BMP/GIF/TGA/PNM via stb_image, as raw 8-bit pixels; turning them into float tensors is
// the data pipeline's job). All pixel buffers are HWC, row-major, 8 bits per channel.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dcgan/tensor.hpp"

namespace dcgan {

// An 8-bit image: pixels[(y * w + x) * channels + c]. channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA.
struct ImageU8 {
  int h = 0, w = 0, channels = 0;
  std::vector<uint8_t> pixels;  // (h, w, channels)
};
using DecodedImage = ImageU8;

// One CHW float image in [-1, 1] -> HWC uint8, as torchvision's save_image with value_range
// (-1, 1): x clamped to [-1, 1], (x + 1) / 2 * 255 + 0.5, truncated (float32 arithmetic). NaN -> 0.
std::vector<uint8_t> to_uint8_hwc(const float* chw, int C, int H, int W);

// torchvision.utils.make_grid for images (N, C, H, W) in [-1, 1]: `nrow` images per row,
// `padding` pixels of black (0) between and around them; a single image comes back unpadded, as in
// torchvision. Unlike torchvision, 1-channel images stay 1-channel (same pixels, gray PNG).
ImageU8 make_grid(const Tensor& nchw, int nrow = 8, int padding = 2);
// A grid whose rows differ in length: row r holds the next row_lengths[r] images of nchw (the
// lengths sum to N), as wide as the longest row; the cells a shorter row leaves are black, like
// the padding. E.g. the latent arithmetic figure (dcgan/latents.hpp).
ImageU8 make_grid_rows(const Tensor& nchw, const std::vector<int64_t>& row_lengths, int padding = 2);

// Encodes a PNG in memory (for a web server, a pipe). channels 1..4. Throws Error on a bad shape.
std::vector<uint8_t> encode_png(const uint8_t* hwc, int h, int w, int channels);
std::vector<uint8_t> encode_png(const ImageU8& img);

// Writes a PNG atomically (see atomic_file.hpp). channels 1..4. Throws FileError naming `path`.
void write_png(const std::string& path, const uint8_t* hwc, int h, int w, int channels);
void write_png(const std::string& path, const ImageU8& img);
// make_grid + write_png: the equivalent of torchvision.utils.save_image(x, path, nrow, padding,
// normalize=True, value_range=(-1, 1)).
void save_image_grid(const std::string& path, const Tensor& nchw, int nrow = 8, int padding = 2);

// Writes an animated GIF89a atomically: each frame is h*w*channels bytes (HWC). One global
// 256-colour palette: 256 grays for channels 1/2 (exact), a 6x7x6 RGB cube with 4x4 ordered
// dithering for channels 3/4 (colours on the cube are exact). Alpha is ignored. `delay_cs`: delay
// per frame in 1/100 s. `loop`: NETSCAPE2.0 repeat count, 0 = forever; negative = play once
// (no loop extension).
void write_gif(const std::string& path, const std::vector<std::vector<uint8_t>>& frames, int h, int w,
               int channels, int delay_cs = 10, int loop = 0);

// Decodes an image file with stb_image, keeping its channel count (1, 2, 3 or 4; 16-bit files are
// reduced to 8 bits; for a GIF, the first frame). Throws FileError naming the file with the
// decoder's reason on failure.
DecodedImage decode_image_file(const std::string& path);
// Same for an encoded image in memory; `name` is used in error messages (e.g. "archive.tar:img.png").
DecodedImage decode_image_memory(const uint8_t* data, size_t size, const std::string& name);

}  // namespace dcgan
