// The C API (dcgan/dcgan.h) over ImageGenerator. Every entry point catches everything: a C caller
// cannot catch a C++ exception, and one unwinding through its frames would abort the process.
#include "dcgan/dcgan.h"

#include <cstring>
#include <new>
#include <string>

#include "dcgan/error.hpp"
#include "dcgan/generator.hpp"
#include "dcgan/models/checkpoint.hpp"

struct dcgan_generator {
  dcgan::ImageGenerator gen;
};

namespace {

thread_local std::string t_last_error;

dcgan_status fail(dcgan_status code, std::string message) {
  t_last_error = std::move(message);
  return code;
}

// Runs `body`, turning any exception into a status and this thread's message (with the HINT
// the CLI would print).
template <class F>
dcgan_status guarded(dcgan_status error_code, F&& body) noexcept {
  try {
    body();
    return DCGAN_OK;
  } catch (const dcgan::Error& e) {
    std::string msg = e.what();
    if (!e.hint().empty()) msg += "\nHINT: " + e.hint();
    return fail(dynamic_cast<const dcgan::FileError*>(&e) ? DCGAN_ERROR_FILE : error_code, std::move(msg));
  } catch (const std::bad_alloc&) {
    return fail(DCGAN_ERROR_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(DCGAN_ERROR_FAILED, e.what());
  } catch (...) {
    return fail(DCGAN_ERROR_FAILED, "unknown error");
  }
}

}  // namespace

extern "C" {

int dcgan_c_api_version(void) { return DCGAN_C_API_VERSION; }

const char* dcgan_last_error(void) { return t_last_error.c_str(); }

dcgan_status dcgan_generator_open(const char* checkpoint, dcgan_generator** out) {
  if (!out) return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_open: out is NULL");
  *out = nullptr;
  if (!checkpoint) return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_open: checkpoint is NULL");
  return guarded(DCGAN_ERROR_FAILED, [&] {
    *out = new dcgan_generator{dcgan::ImageGenerator(dcgan::find_checkpoint(checkpoint))};
  });
}

void dcgan_generator_free(dcgan_generator* g) { delete g; }

int64_t dcgan_generator_latent_dim(const dcgan_generator* g) { return g ? g->gen.config().latent_dim : -1; }

dcgan_status dcgan_generator_image_shape(const dcgan_generator* g, int64_t* channels, int64_t* height,
                                         int64_t* width) {
  if (!g || !channels || !height || !width)
    return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_image_shape: a NULL argument");
  *channels = g->gen.config().channels;
  *height = *width = g->gen.config().img_size;
  return DCGAN_OK;
}

dcgan_status dcgan_generator_generate(dcgan_generator* g, const float* latents, int64_t n, float* images,
                                      size_t images_capacity) {
  if (!g || !latents || !images) return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_generate: a NULL argument");
  if (n < 1) return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_generate: n must be >= 1, got " + std::to_string(n));
  const dcgan::ModelConfig& c = g->gen.config();
  const int64_t per_image = int64_t(c.channels) * c.img_size * c.img_size;
  if (n > int64_t(images_capacity) / per_image)
    return fail(DCGAN_ERROR_ARGUMENT, "dcgan_generator_generate: images holds " + std::to_string(images_capacity) +
                                          " floats, " + std::to_string(n) + " images need " +
                                          std::to_string(n * per_image));
  return guarded(DCGAN_ERROR_ARGUMENT, [&] {
    // generate() only reads z; the view is const in all but type.
    dcgan::Tensor z = dcgan::Tensor::view(const_cast<float*>(latents), {n, c.latent_dim});
    dcgan::Tensor img = g->gen.generate(z);
    std::memcpy(images, img.data(), size_t(img.numel()) * sizeof(float));
  });
}

}  // extern "C"
