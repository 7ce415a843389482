/* libFuzzer target: see fuzz_targets.h (ptf_retry_after) and run.sh.
   clang -g -O1 -fsanitize=fuzzer,address,undefined fuzz_retry_after.c */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"
#include "fuzz_targets.h"
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int bad = ptf_retry_after(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_retry_after: invariant %d broken\n", bad);
        abort();
    }
    return 0;
}
