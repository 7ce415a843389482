/* libFuzzer target: see fuzz_targets.h (ptf_spool) and run.sh.
   clang -g -O1 -fsanitize=fuzzer,address,undefined fuzz_spool.c */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"
#include "fuzz_targets.h"
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int bad = ptf_spool(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_spool: invariant %d broken\n", bad);
        abort();
    }
    return 0;
}
