/* dcgan.h: the C API of libdcgan.so, for using a trained generator from C or any language with a
 * C foreign-function interface. Stable: plain C types only, an opaque handle, integer error codes.
 *
 *   dcgan_generator* g = NULL;
 *   if (dcgan_generator_open("runs/x/checkpoints/latest.safetensors", &g) != DCGAN_OK) {
 *     fprintf(stderr, "%s\n", dcgan_last_error());
 *     return 1;
 *   }
 *   int64_t c, h, w;
 *   dcgan_generator_image_shape(g, &c, &h, &w);
 *   // latents: n * dcgan_generator_latent_dim(g) floats; images: n * c * h * w floats
 *   int rc = dcgan_generator_generate(g, latents, n, images, n * c * h * w);
 *   dcgan_generator_free(g);
 *
 * Errors: every function that can fail returns a dcgan_status; on failure the message (what went
 * wrong and what to do, naming the file where there is one) is kept for the calling thread until
 * its next failing call, readable with dcgan_last_error(). No C++ exception crosses this API.
 * Threads: make one call at a time (a handle owns the network's buffers, and the library shares
 * one oneDNN stream between handles): serialise calls from several threads, e.g. with a mutex. One
 * generate call already runs on all cores (OpenMP). dcgan_last_error is per thread.
 * See docs/export.md. */
#ifndef DCGAN_DCGAN_H
#define DCGAN_DCGAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DCGAN_C_API_VERSION 1

typedef enum dcgan_status {
  DCGAN_OK = 0,
  DCGAN_ERROR_ARGUMENT = 1, /* a null pointer, n < 1, a buffer too small, a non-finite latent */
  DCGAN_ERROR_FILE = 2,     /* the checkpoint is missing, unreadable, corrupt or not a generator */
  DCGAN_ERROR_MEMORY = 3,   /* out of memory */
  DCGAN_ERROR_FAILED = 4    /* any other failure (the message says which) */
} dcgan_status;

/* An opened generator: the network of a checkpoint, in eval mode. */
typedef struct dcgan_generator dcgan_generator;

/* The value of DCGAN_C_API_VERSION the library was built with. */
int dcgan_c_api_version(void);

/* The message of the calling thread's last failed call ("" if none). Valid until the thread's
 * next call into this API. */
const char* dcgan_last_error(void);

/* Opens `checkpoint` (a .safetensors file, or a run directory of `dcgan train`) into *out.
 * On failure *out is set to NULL. */
dcgan_status dcgan_generator_open(const char* checkpoint, dcgan_generator** out);

/* Frees a handle; NULL is allowed. */
void dcgan_generator_free(dcgan_generator* g);

/* The latent size (the number of floats per image in `latents`); -1 for a NULL handle. */
int64_t dcgan_generator_latent_dim(const dcgan_generator* g);

/* The shape of one image: channels (1 or 3), height, width. */
dcgan_status dcgan_generator_image_shape(const dcgan_generator* g, int64_t* channels, int64_t* height,
                                         int64_t* width);

/* Runs the generator on n latent vectors, `latents` holding n * latent_dim floats (row-major,
 * finite), and writes n images (N, C, H, W), row-major, values in [-1, 1], to `images`, which
 * holds `images_capacity` floats (at least n * C * H * W). The same latents give the same images
 * as `dcgan sample --latents`. */
dcgan_status dcgan_generator_generate(dcgan_generator* g, const float* latents, int64_t n, float* images,
                                      size_t images_capacity);

#ifdef __cplusplus
}
#endif

#endif /* DCGAN_DCGAN_H */
