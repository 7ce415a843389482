/* libFuzzer target: see fuzz_targets.h (ptf_url) and run.sh.
   clang -g -O1 -fsanitize=fuzzer,address,undefined fuzz_url.c */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"
#include "fuzz_targets.h"
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int bad = ptf_url(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_url: invariant %d broken\n", bad);
        abort();
    }
    return 0;
}
