#include "packtrack.h"
int pt_other_tu(void) { return pt_strerror(PT_OK)[0] == 'o' ? 0 : 1; }
