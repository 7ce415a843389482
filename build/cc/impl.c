#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
int pt_other_tu(void);
int main(void) { pt_config cfg = {0}; (void)cfg; return pt_other_tu(); }
