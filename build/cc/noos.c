#include "packtrack.h"
#ifdef _PTHREAD_H
#error "pthread.h leaked through the declarations"
#endif
#if defined(_SYS_SOCKET_H) || defined(_STDIO_H) || defined(_STDLIB_H) || defined(_WINDOWS_)
#error "an OS/libc header leaked through the declarations"
#endif
/* <elf.h> and <sys/ptrace.h> names must not collide with ours */
#include <elf.h>
#include <sys/ptrace.h>
int main(void) { return PT_OK; }
