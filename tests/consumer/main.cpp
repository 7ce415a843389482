// The same consumer compiled as C++: packtrack::packtrack must serve C++
// targets too, and with PACKTRACK_BUILD_LIBRARY a C++ program must link the
// C-compiled library (the header's extern "C").
#include "main.c"
