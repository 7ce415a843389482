/* libFuzzer target: see fuzz_targets.h (ptf_json_writer) and run.sh.
   clang -g -O1 -fsanitize=fuzzer,address,undefined fuzz_json_writer.c */
#define PACKTRACK_IMPLEMENTATION
#include "../../packtrack.h"
#include "fuzz_targets.h"
#include <stdio.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int bad = ptf_json_writer(data, size);
    if (bad) {
        fprintf(stderr, "fuzz_json_writer: invariant %d broken\n", bad);
        abort();
    }
    return 0;
}
