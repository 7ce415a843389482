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
       MSG_DONTWAIT on POSIX), and MSG_DONTWAIT is a private flag bit that
       recv/send strip: without it they wait (WSAPoll) and retry while the
       socket would block, so a test's own blocking accept-recv-send peer
       (tests/test_http.c) reads as on POSIX;
     - MSG_NOSIGNAL does not exist (Windows has no SIGPIPE): test_server.c
       defines it as 0;
     - send/recv/poll/accept failures set errno from WSAGetLastError()
       (WSAEWOULDBLOCK -> EAGAIN, WSAEINTR -> EINTR, else EIO), so the
       server's errno checks read the same on both systems;
     - pipe() (the server's stop/wake pipe, which poll() must watch) is a
       connected pair of loopback TCP sockets; write() on it is send();
     - setsockopt takes `const char *` on Windows: cast here;
     - WSAStartup runs once, before the first socket (pts_w_net_init).
   Files and the environment (tests/test_spool.c, tests/test_ingest.c):
     - mkdir(path, mode) is _mkdir(path) (no modes); mkdtemp() is here (mingw
       has none); pts_w_tmp_template() gives "%TEMP%\<name>" for it;
     - opendir/readdir/stat/unlink/rmdir are mingw's own (<dirent.h>, <io.h>);
     - setenv/unsetenv are _putenv("N=V") / _putenv("N=") (setenv always
       overwrites: the tests pass 1);
     - no fork(): pts_w_run_self() runs this executable again with arguments
       (CreateProcess, no handles inherited) and returns its exit status. */
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
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <io.h>
#include <direct.h>
#include <dirent.h>
#include <process.h>

#define SHUT_WR   SD_SEND
#define SHUT_RDWR SD_BOTH
#define MSG_DONTWAIT 0x40000    /* private: no Winsock flag uses this bit; stripped */
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

/* Blocks until fd is readable (or writable), for recv/send without MSG_DONTWAIT
   on a socket accept() made non-blocking. */
static void pts_w_wait(int fd, int want_write) {
  WSAPOLLFD q;
  q.fd = (SOCKET)fd; q.events = want_write ? POLLOUT : POLLIN; q.revents = 0;
  WSAPoll(&q, 1, -1);
}

static ssize_t pts_w_recv(int fd, void *b, size_t n, int flags) {
  int r;
  for (;;) {
    r = recv((SOCKET)fd, (char *)b, n > 0x40000000 ? 0x40000000 : (int)n, flags & ~MSG_DONTWAIT);
    if (r != SOCKET_ERROR || (flags & MSG_DONTWAIT) || WSAGetLastError() != WSAEWOULDBLOCK) break;
    pts_w_wait(fd, 0);
  }
  if (r == SOCKET_ERROR) { pts_w_set_errno(); return -1; }
  return r;
}

static ssize_t pts_w_send(int fd, const void *b, size_t n, int flags) {
  int r;
  for (;;) {
    r = send((SOCKET)fd, (const char *)b, n > 0x40000000 ? 0x40000000 : (int)n, flags & ~MSG_DONTWAIT);
    if (r != SOCKET_ERROR || (flags & MSG_DONTWAIT) || WSAGetLastError() != WSAEWOULDBLOCK) break;
    pts_w_wait(fd, 1);
  }
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

/* mkdtemp(): the trailing XXXXXX replaced until CreateDirectory makes a new one. */
static char *pts_w_mkdtemp(char *tmpl) {
  static const char abc[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  size_t n = strlen(tmpl), i;
  unsigned long long x = (unsigned long long)GetTickCount64() * 0x9E3779B97F4A7C15ULL ^
                         (unsigned long long)GetCurrentProcessId() << 20 ^ (unsigned long long)(size_t)tmpl;
  int tries;
  if (n < 6 || strcmp(tmpl + n - 6, "XXXXXX") != 0) { errno = EINVAL; return NULL; }
  for (tries = 0; tries < 1000; tries++) {
    LARGE_INTEGER q;
    QueryPerformanceCounter(&q);
    x += (unsigned long long)q.QuadPart + 0x9E3779B97F4A7C15ULL;
    x ^= x >> 31; x *= 0xBF58476D1CE4E5B9ULL; x ^= x >> 29;
    for (i = 0; i < 6; i++) tmpl[n - 6 + i] = abc[(x >> (i * 6)) % (sizeof abc - 1)];
    if (CreateDirectoryA(tmpl, NULL)) return tmpl;
    if (GetLastError() != ERROR_ALREADY_EXISTS) break;
  }
  errno = EEXIST;
  return NULL;
}

/* "%TEMP%\<name>" into out (name ends in XXXXXX for mkdtemp); "" if it does not fit. */
static void pts_w_tmp_template(char *out, size_t cap, const char *name) {
  char t[MAX_PATH + 1];
  DWORD k = GetTempPathA((DWORD)sizeof t, t);
  if (k == 0 || k >= sizeof t) strcpy(t, ".\\");
  if ((size_t)snprintf(out, cap, "%s%s", t, name) >= cap) out[0] = 0;
}

static int pts_w_setenv(const char *name, const char *value) {
  char kv[1024];
  if ((size_t)snprintf(kv, sizeof kv, "%s=%s", name, value) >= sizeof kv) { errno = EINVAL; return -1; }
  return _putenv(kv);       /* the CRT copies the string */
}
static int pts_w_unsetenv(const char *name) { return pts_w_setenv(name, ""); }

/* Runs this executable again with args (each quoted; none may contain '"')
   and waits at most ms for it: its exit status, or -1 (did not start, or
   killed at the time limit). Stands in for fork() + waitpid(). */
static int pts_w_run_self(const char *const *args, int n, DWORD ms) {
  char self[MAX_PATH + 1], cmd[4096];
  size_t len;
  int i;
  DWORD k = GetModuleFileNameA(NULL, self, (DWORD)sizeof self), code = 0;
  STARTUPINFOA si;
  PROCESS_INFORMATION pi;
  if (k == 0 || k >= sizeof self) return -1;
  len = (size_t)snprintf(cmd, sizeof cmd, "\"%s\"", self);
  for (i = 0; i < n && len < sizeof cmd; i++) len += (size_t)snprintf(cmd + len, sizeof cmd - len, " \"%s\"", args[i]);
  if (len >= sizeof cmd) return -1;
  memset(&si, 0, sizeof si);
  si.cb = sizeof si;
  if (!CreateProcessA(self, cmd, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi)) return -1;
  if (WaitForSingleObject(pi.hProcess, ms) != WAIT_OBJECT_0) {
    TerminateProcess(pi.hProcess, 255);
    WaitForSingleObject(pi.hProcess, INFINITE);
    code = (DWORD)-1;
  } else if (!GetExitCodeProcess(pi.hProcess, &code)) code = (DWORD)-1;
  CloseHandle(pi.hThread);
  CloseHandle(pi.hProcess);
  return (int)code;
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
#define mkdir(path, mode) _mkdir(path)
#define mkdtemp(tmpl) pts_w_mkdtemp(tmpl)
#define setenv(n, v, overwrite) pts_w_setenv(n, v)
#define unsetenv(n) pts_w_unsetenv(n)

#endif /* PTS_WIN_COMPAT_H */
