/* gpu.c: picks the active GPU backend once: the fake device when MLX_FAKE_GPU=1 (CI tests
 * residency with it), else CUDA when built in and a device is present, else none. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"

static const mx_gpu_backend *active;
static pthread_once_t once = PTHREAD_ONCE_INIT;

#ifndef MLX_HAS_CUDA /* built without the CUDA backend */
const mx_gpu_backend *mx_cuda_backend(void) { return NULL; }
#endif

static void choose(void) {
  const char *fake = getenv("MLX_FAKE_GPU");
  if (fake && strcmp(fake, "0") != 0 && fake[0]) {
    active = mx_fake_gpu_backend();
    return;
  }
  const mx_gpu_backend *cuda = mx_cuda_backend();
  if (cuda && cuda->device_count() > 0) active = cuda;
}

const mx_gpu_backend *mx_gpu(void) {
  pthread_once(&once, choose);
  return active;
}
