// Image transforms of the data pipeline: channel conversion and resize + centre crop to the
// model's square size. Used by load_dataset(); public so that other tools (e.g. evaluation reading
// an image folder at a feature network's size) convert images exactly the same way.
// See dataset.hpp for the conversion rules; names: H height, W width, C channels.
#pragma once
#include <cstdint>
#include <string>

namespace dcgan {

// src: (H, W, C) interleaved uint8 as decoders give it, C in {1 gray, 2 gray+alpha, 3 RGB, 4 RGBA}.
// dst: (out_channels, size, size) planar uint8, out_channels in {1, 3}.
// Alpha is composited over white, then channels converted, then the shorter side is resized to
// `size` (bilinear, antialiased when downscaling, as PyTorch's interpolate(antialias=True)) and
// the centre cropped. Thread-safe; allocates small temporaries.
void convert_image(const uint8_t* src, int h, int w, int c, int size, int out_channels, uint8_t* dst);

// "gray -> RGB replicated", "RGBA composited over white -> RGB", "" when nothing changes, ...
std::string channel_conversion_name(int in_channels, int out_channels);

// The size the shorter-side resize produces before the crop: (new_h, new_w).
void resize_shape(int h, int w, int size, int64_t* new_h, int64_t* new_w);  // int64: extreme aspect ratios

}  // namespace dcgan
