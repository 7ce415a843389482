#include "packtrack.h"
#include "packtrack.h"
#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int main(void) { return 0; }
