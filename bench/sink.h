/* sink.h - shared by the benchmark programs: a minimal HTTP/1.1 responder
   (200 to every request, nothing counted) in a forked child process, so the
   client's CPU time is measured alone, plus two clocks. Include after the
   system headers it needs (stdio, stdlib, string, pthread, signal, unistd,
   sys/socket, sys/wait, sys/resource, netinet/in, netinet/tcp, arpa/inet). */
#ifndef PT_BENCH_SINK_H
#define PT_BENCH_SINK_H
/* ---- minimal sink: answers 200 to every request, counts nothing ---------- */
static void *sink_conn(void *arg) {
    int fd = (int)(intptr_t)arg;
    size_t cap = 1 << 20, len = 0;
    char *buf = (char *)malloc(cap);
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}";
    for (;;) {
        char *he;
        ssize_t r;
        size_t hl, cl = 0;
        buf[len] = 0;
        while (!(he = strstr(buf, "\r\n\r\n"))) {
            if (len + 1 >= cap) goto out;
            r = recv(fd, buf + len, cap - 1 - len, 0);
            if (r <= 0) goto out;
            len += (size_t)r; buf[len] = 0;
        }
        hl = (size_t)(he - buf) + 4;
        {
            char *p = strcasestr(buf, "\r\nContent-Length:");
            if (p && p < he) cl = strtoul(p + 17, NULL, 10);
        }
        while (len < hl + cl) {
            size_t want = hl + cl - len;
            if (hl + cl > cap) {     /* discard body bytes beyond the buffer */
                char tmp[65536];
                size_t k = want < sizeof tmp ? want : sizeof tmp;
                r = recv(fd, tmp, k, 0);
                if (r <= 0) goto out;
                cl -= (size_t)r;
                continue;
            }
            r = recv(fd, buf + len, cap - 1 - len, 0);
            if (r <= 0) goto out;
            len += (size_t)r;
        }
        if (send(fd, ok, sizeof ok - 1, MSG_NOSIGNAL) < 0) goto out;
        memmove(buf, buf + hl + cl, len - hl - cl);
        len -= hl + cl;
    }
out:
    close(fd);
    free(buf);
    return NULL;
}
static pid_t sink_pid;
static int sink_start(void) {
    int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET; a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 64)) { perror("sink"); exit(1); }
    getsockname(l, (struct sockaddr *)&a, &al);
    sink_pid = fork();
    if (sink_pid == 0) {
        for (;;) {
            int f = accept(l, NULL, NULL);
            pthread_t t;
            if (f < 0) continue;
            setsockopt(f, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            pthread_create(&t, NULL, sink_conn, (void *)(intptr_t)f);
            pthread_detach(t);
        }
    }
    close(l);
    return ntohs(a.sin_port);
}
static void sink_stop(void) { if (sink_pid > 0) { kill(sink_pid, SIGKILL); waitpid(sink_pid, NULL, 0); sink_pid = 0; } }
static double now_s(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu_s(void) { struct rusage u; getrusage(RUSAGE_SELF, &u); return u.ru_utime.tv_sec + u.ru_utime.tv_usec / 1e6 + u.ru_stime.tv_sec + u.ru_stime.tv_usec / 1e6; }
#endif
