#define PACKTRACK_IMPLEMENTATION
#include "packtrack.h"
