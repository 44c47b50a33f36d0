/* fuzz_gguf.c: libFuzzer target for the .gguf loader (src/io); see fuzz_common.h. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  return fuzz_one(data, size, MX_IO_GGUF);
}
