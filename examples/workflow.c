/* workflow.c - Shows how to trace a multi-step agent workflow: defaults for
   the workflow, run and actor, a run id, nested steps whose closing events
   carry metadata.duration_ms, a step ended on another thread, and the
   close report.

     cc -std=c99 -O2 -Wall -Wextra -pedantic -o workflow examples/workflow.c -lpthread

   Each step is two events on the server: status "running" when it begins,
   then its final status (same step_id, message, workflow, run and actor)
   with metadata.duration_ms, plus metadata.parent_step_id for a nested step.
   PACKTRACK_BASE_URL / PACKTRACK_API_KEY / PACKTRACK_DEBUG=1 as in async.c. */
#define PACKTRACK_IMPLEMENTATION
#include "../packtrack.h"

#include <stdio.h>
#include <time.h>
#if defined(_WIN32)
#include <windows.h>
static void sleep_ms(int ms) { Sleep((DWORD)ms); }
typedef HANDLE thread_t;
static DWORD WINAPI thread_main(LPVOID arg);
static int thread_start(thread_t *t, void *arg) { *t = CreateThread(NULL, 0, thread_main, arg, 0, NULL); return *t ? 0 : -1; }
static void thread_join(thread_t t) { WaitForSingleObject(t, INFINITE); CloseHandle(t); }
#else
#include <pthread.h>
static void sleep_ms(int ms) { struct timespec ts; ts.tv_sec = ms / 1000; ts.tv_nsec = (long)(ms % 1000) * 1000000L; nanosleep(&ts, NULL); }
typedef pthread_t thread_t;
static void *thread_main(void *arg);
static int thread_start(thread_t *t, void *arg) { return pthread_create(t, NULL, thread_main, arg); }
static void thread_join(thread_t t) { pthread_join(t, NULL); }
#endif

static int failures;
static void check(const char *what, pt_result r) {
    if (r == PT_OK) return;
    failures++;
    fprintf(stderr, "%s: %s\n", what, pt_strerror(r));
}

/* A worker thread finishes the "call tool" step it was handed. */
static void worker(pt_step *tool) {
    pt_field md[1];
    sleep_ms(30);                                  /* the tool call */
    md[0] = pt_field_int("results", 3);
    check("pt_step_end(call tool)", pt_step_end(tool, PT_STATUS_SUCCESS, md, 1));
}
#if defined(_WIN32)
static DWORD WINAPI thread_main(LPVOID arg) { worker((pt_step *)arg); return 0; }
#else
static void *thread_main(void *arg) { worker((pt_step *)arg); return NULL; }
#endif

int main(void) {
    pt_config cfg = {0};
    pt_client *client = NULL;
    pt_error err;
    pt_close_report rep;
    pt_result r;
    pt_step run, plan, tool;
    thread_t t;
    char run_id[37];

    pt_run_id(run_id);                             /* time-ordered UUID (v7) */
    cfg.api_key = "pk_test_local";
    cfg.base_url = "http://127.0.0.1:8080";
    cfg.defaults.source_system = "support-agent";
    cfg.defaults.source_env = "demo";
    cfg.defaults.workflow_id = "wf-refund";
    cfg.defaults.workflow_name = "refund request";
    cfg.defaults.run_id = run_id;                  /* copied by pt_client_new */
    cfg.defaults.actor_type = "agent";
    cfg.defaults.actor_id = "refund-bot";
    if ((r = pt_config_from_env(&cfg, &err)) != PT_OK || (r = pt_client_new(&cfg, &client, &err)) != PT_OK) {
        fprintf(stderr, "packtrack: %s: %s\n", pt_strerror(r), err.message);
        return 1;
    }
    printf("run %s\n", run_id);

    check("pt_step_begin(handle request)", pt_step_begin(client, &run, NULL, "handle refund request"));
    check("pt_step_begin(plan)", pt_step_begin(client, &plan, &run, "plan"));
    sleep_ms(10);                                  /* thinking */
    check("pt_step_end(plan)", pt_step_end(&plan, PT_STATUS_SUCCESS, NULL, 0));

    check("pt_step_begin(call tool)", pt_step_begin(client, &tool, &run, "call tool: order lookup"));
    if (thread_start(&t, &tool) != 0) { fprintf(stderr, "cannot start a thread\n"); return 1; }
    thread_join(t);                                /* the step was ended on the worker */
    printf("tool step took %lld ms\n", (long long)tool.duration_ms);

    check("pt_trackf", pt_trackf(client, PT_SEVERITY_WARN, PT_STATUS_RETRYING, "order %s: payment provider slow", "o-1042"));
    check("pt_step_end(handle request)", pt_step_end(&run, PT_STATUS_SUCCESS, NULL, 0));

    r = pt_close(client, 5000, &rep);
    printf("pt_close: %s; tracked %llu, delivered %llu, failed %llu, dropped %llu, abandoned %llu\n", pt_strerror(r),
           (unsigned long long)rep.tracked, (unsigned long long)rep.delivered,
           (unsigned long long)(rep.failed_rejected + rep.failed_exhausted + rep.failed_oversize),
           (unsigned long long)(rep.dropped_queue_full + rep.dropped_sampled), (unsigned long long)rep.abandoned);
    pt_client_free(client);
    return r == PT_OK && rep.delivered == rep.tracked && !failures ? 0 : 1;
}
