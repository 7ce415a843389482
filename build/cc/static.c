#define PACKTRACK_API static
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return pt_version()[0] == '0' ? 0 : 1; }
