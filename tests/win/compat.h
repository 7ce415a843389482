/* compat.h - the few POSIX calls the test server and the tests make, on
   Winsock 2, for the Windows build of the suite (tests/win/run_suite.c).
   Included by tests/test_server.c under #ifdef _WIN32 only, AFTER packtrack.h
   (the library has its own Win32 layer and must not see these names).

   The test code keeps its POSIX source; here:
     - threads, mutexes, condition variables, clock_gettime: mingw-w64's
       winpthreads (<pthread.h>, linked statically). The library itself still
       uses Win32 threads, CRITICAL_SECTION, CONDITION_VARIABLE and Winsock2.
     - sockets stay `int` in the test code (SOCKET values are kernel handle
       values, small enough for an int), closed with closesocket();
     - poll() is WSAPoll() over the valid entries only (fd < 0 entries are
       skipped here, as POSIX says; WSAPoll's own handling of them varies);
     - fcntl(F_SETFL, O_NONBLOCK) is ioctlsocket(FIONBIO); F_SETFD/FD_CLOEXEC
       clears HANDLE_FLAG_INHERIT;
     - MSG_DONTWAIT does not exist: accept() makes every accepted socket
       non-blocking instead (the server only calls recv/send after poll, with
       MSG_DONTWAIT on POSIX);
     - MSG_NOSIGNAL does not exist (Windows has no SIGPIPE): test_server.c
       defines it as 0;
     - send/recv/poll/accept failures set errno from WSAGetLastError()
       (WSAEWOULDBLOCK -> EAGAIN, WSAEINTR -> EINTR, else EIO), so the
       server's errno checks read the same on both systems;
     - pipe() (the server's stop/wake pipe, which poll() must watch) is a
       connected pair of loopback TCP sockets; write() on it is send();
     - setsockopt takes `const char *` on Windows: cast here;
     - WSAStartup runs once, before the first socket (pts_w_net_init). */
#ifndef PTS_WIN_COMPAT_H
#define PTS_WIN_COMPAT_H
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <pthread.h>
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/types.h>

#define SHUT_WR   SD_SEND
#define SHUT_RDWR SD_BOTH
#define MSG_DONTWAIT 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define FD_CLOEXEC 1
#ifndef O_NONBLOCK
#define O_NONBLOCK 0x4000
#endif

static LONG pts_w_wsa_state;
static void pts_w_net_init(void) {
  if (InterlockedCompareExchange(&pts_w_wsa_state, 1, 0) == 0) {
    WSADATA d;
    WSAStartup(MAKEWORD(2, 2), &d);
    InterlockedExchange(&pts_w_wsa_state, 2);
  }
  while (InterlockedCompareExchange(&pts_w_wsa_state, 2, 2) != 2) Sleep(0);
}

static void pts_w_set_errno(void) {
  int e = WSAGetLastError();
  errno = e == WSAEWOULDBLOCK ? EAGAIN : e == WSAEINTR ? EINTR : EIO;
}

static int pts_w_socket(int af, int type, int proto) {
  SOCKET s;
  pts_w_net_init();
  s = socket(af, type, proto);
  if (s == INVALID_SOCKET) { pts_w_set_errno(); return -1; }
  return (int)s;
}

static int pts_w_close(int fd) {
  if (closesocket((SOCKET)fd) != 0) { pts_w_set_errno(); return -1; }
  return 0;
}

static int pts_w_nonblock(int fd) {
  u_long one = 1;
  return ioctlsocket((SOCKET)fd, (long)FIONBIO, &one) == 0 ? 0 : -1;
}

static int pts_w_fcntl(int fd, int cmd, ...) {
  va_list ap;
  int arg;
  if (cmd == F_GETFL || cmd == F_GETFD) return 0;
  va_start(ap, cmd);
  arg = va_arg(ap, int);
  va_end(ap);
  if (cmd == F_SETFL) return (arg & O_NONBLOCK) ? pts_w_nonblock(fd) : 0;
  if (cmd == F_SETFD && (arg & FD_CLOEXEC)) SetHandleInformation((HANDLE)(SOCKET)fd, HANDLE_FLAG_INHERIT, 0);
  return 0;
}

static int pts_w_accept(int lfd, struct sockaddr *a, socklen_t *al) {
  SOCKET s = accept((SOCKET)lfd, a, al);
  if (s == INVALID_SOCKET) { pts_w_set_errno(); return -1; }
  pts_w_nonblock((int)s);
  return (int)s;
}

static ssize_t pts_w_recv(int fd, void *b, size_t n, int flags) {
  int r = recv((SOCKET)fd, (char *)b, n > 0x40000000 ? 0x40000000 : (int)n, flags);
  if (r == SOCKET_ERROR) { pts_w_set_errno(); return -1; }
  return r;
}

static ssize_t pts_w_send(int fd, const void *b, size_t n, int flags) {
  int r = send((SOCKET)fd, (const char *)b, n > 0x40000000 ? 0x40000000 : (int)n, flags);
  if (r == SOCKET_ERROR) { pts_w_set_errno(); return -1; }
  return r;
}

/* poll(): WSAPoll over the entries with fd >= 0; none: just sleep. */
static int pts_w_poll(struct pollfd *p, unsigned long n, int ms) {
  WSAPOLLFD q[8];
  unsigned long i, k = 0;
  int r;
  if (n > 8) { errno = EINVAL; return -1; }
  for (i = 0; i < n; i++) {
    p[i].revents = 0;
    if ((INT_PTR)p[i].fd < 0) continue;
    q[k].fd = p[i].fd; q[k].events = p[i].events; q[k].revents = 0;
    k++;
  }
  if (k == 0) { Sleep(ms < 0 ? INFINITE : (DWORD)ms); return 0; }
  r = WSAPoll(q, k, ms);
  if (r == SOCKET_ERROR) { pts_w_set_errno(); return -1; }
  for (i = 0, k = 0; i < n; i++)
    if ((INT_PTR)p[i].fd >= 0) p[i].revents = q[k++].revents;
  return r;
}

/* pipe(): a connected pair of 127.0.0.1 TCP sockets (WSAPoll watches sockets only). */
static int pts_w_pipe(int fds[2]) {
  struct sockaddr_in sa;
  int sl = (int)sizeof sa, one = 1;
  SOCKET l, a = INVALID_SOCKET, b = INVALID_SOCKET;
  pts_w_net_init();
  l = socket(AF_INET, SOCK_STREAM, 0);
  if (l == INVALID_SOCKET) return -1;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  sa.sin_port = 0;
  if (bind(l, (struct sockaddr *)&sa, sizeof sa) == 0 && listen(l, 1) == 0 &&
      getsockname(l, (struct sockaddr *)&sa, &sl) == 0 &&
      (b = socket(AF_INET, SOCK_STREAM, 0)) != INVALID_SOCKET &&
      connect(b, (struct sockaddr *)&sa, sizeof sa) == 0)
    a = accept(l, NULL, NULL);
  closesocket(l);
  if (a == INVALID_SOCKET) {
    if (b != INVALID_SOCKET) closesocket(b);
    errno = EMFILE;
    return -1;
  }
  setsockopt(b, IPPROTO_TCP, TCP_NODELAY, (const char *)&one, sizeof one);
  fds[0] = (int)a;   /* read end */
  fds[1] = (int)b;   /* write end */
  return 0;
}

#define socket(af, type, proto) pts_w_socket(af, type, proto)
#define close(fd) pts_w_close(fd)
#define fcntl pts_w_fcntl
#define accept(l, a, al) pts_w_accept(l, a, al)
#define recv(fd, b, n, f) pts_w_recv(fd, b, n, f)
#define send(fd, b, n, f) pts_w_send(fd, b, n, f)
#define poll(p, n, ms) pts_w_poll(p, n, ms)
#define pipe(fds) pts_w_pipe(fds)
#define write(fd, b, n) pts_w_send(fd, b, n, 0)
#define setsockopt(fd, lvl, opt, v, n) setsockopt((SOCKET)(fd), lvl, opt, (const char *)(v), (int)(n))

#endif /* PTS_WIN_COMPAT_H */
