/* fuzz_npz.c: libFuzzer target for the .npz loader (src/io); see fuzz_common.h. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_one(data, size, MX_IO_NPZ);
}
