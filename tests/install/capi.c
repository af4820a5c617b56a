/* A C program on libdcgan's C API (dcgan/dcgan.h), built by tests/e2e/test_install.cpp against
 * an installed copy, with CMake and with pkg-config.
 *
 *   capi CHECKPOINT LATENTS_OUT.npy IMAGES_OUT.npy
 *
 * Makes 5 latent vectors of its own, generates their images and writes both as .npy (the test
 * compares the images with `dcgan sample --latents`), after checking two errors: a missing
 * checkpoint and a buffer too small. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dcgan/dcgan.h"

/* A float32 .npy file (version 1.0, C order) of shape (d0, d1) or (d0, d1, d2, d3). */
static int write_npy(const char* path, const float* data, const int64_t* shape, int ndim) {
  char dict[128], header[192];
  size_t count = 1, len;
  int i, off = 0;
  off += sprintf(dict + off, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  for (i = 0; i < ndim; ++i) {
    off += sprintf(dict + off, i ? ", %lld" : "%lld", (long long)shape[i]);
    count *= (size_t)shape[i];
  }
  sprintf(dict + off, "), }");
  len = strlen(dict);
  memcpy(header, dict, len);
  while ((10 + len + 1) % 64 != 0) header[len++] = ' '; /* the data starts 64-byte aligned */
  header[len++] = '\n';
  FILE* f = fopen(path, "wb");
  if (!f) return 0;
  const unsigned char magic[8] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
  const unsigned char hlen[2] = {(unsigned char)(len & 0xff), (unsigned char)(len >> 8)};
  int ok = fwrite(magic, 1, 8, f) == 8 && fwrite(hlen, 1, 2, f) == 2 && fwrite(header, 1, len, f) == len &&
           fwrite(data, sizeof(float), count, f) == count;
  return fclose(f) == 0 && ok;
}

int main(int argc, char** argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: capi CHECKPOINT LATENTS_OUT.npy IMAGES_OUT.npy\n");
    return 2;
  }
  printf("C API version %d\n", dcgan_c_api_version());

  dcgan_generator* g = (dcgan_generator*)1; /* open must set it to NULL on failure */
  dcgan_status st = dcgan_generator_open("no/such/checkpoint.safetensors", &g);
  printf("missing checkpoint: %s, handle %s, message: %s\n", st == DCGAN_ERROR_FILE ? "DCGAN_ERROR_FILE" : "WRONG",
         g ? "SET" : "NULL", dcgan_last_error());

  if (dcgan_generator_open(argv[1], &g) != DCGAN_OK) {
    fprintf(stderr, "error: %s\n", dcgan_last_error());
    return 1;
  }
  const int64_t n = 5, latent = dcgan_generator_latent_dim(g);
  int64_t c, h, w;
  if (dcgan_generator_image_shape(g, &c, &h, &w) != DCGAN_OK) {
    fprintf(stderr, "error: %s\n", dcgan_last_error());
    return 1;
  }
  printf("latent %lld, image %lldx%lldx%lld\n", (long long)latent, (long long)c, (long long)h, (long long)w);

  const size_t nz = (size_t)(n * latent), ni = (size_t)(n * c * h * w);
  float* z = malloc(nz * sizeof(float));
  float* images = malloc(ni * sizeof(float));
  if (!z || !images) return 1;
  uint32_t state = 12345u; /* latents in [-2, 2) from a small LCG */
  for (size_t i = 0; i < nz; ++i) {
    state = state * 1664525u + 1013904223u;
    z[i] = (float)(state >> 8) / (float)(1u << 24) * 4.0f - 2.0f;
  }

  st = dcgan_generator_generate(g, z, n, images, ni - 1);
  printf("small buffer: %s, message: %s\n", st == DCGAN_ERROR_ARGUMENT ? "DCGAN_ERROR_ARGUMENT" : "WRONG",
         dcgan_last_error());

  if (dcgan_generator_generate(g, z, n, images, ni) != DCGAN_OK) {
    fprintf(stderr, "error: %s\n", dcgan_last_error());
    return 1;
  }
  const int64_t zshape[2] = {n, latent}, ishape[4] = {n, c, h, w};
  if (!write_npy(argv[2], z, zshape, 2) || !write_npy(argv[3], images, ishape, 4)) {
    fprintf(stderr, "error: cannot write %s or %s\n", argv[2], argv[3]);
    return 1;
  }
  free(z);
  free(images);
  dcgan_generator_free(g);
  printf("generated %lld images\n", (long long)n);
  return 0;
}
