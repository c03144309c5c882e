/* A small pool of persistent worker threads and a parallel-for over it. Starting threads per call
 * costs tens of microseconds, as much as a mid-sized product; the pool's workers wait on a
 * condition variable between calls instead. One parallel-for runs at a time (callers take a lock),
 * and the calling thread always runs a share itself. */
#include "CNablaKernels.h"
#include "parallel.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t callLock = PTHREAD_MUTEX_INITIALIZER;   /* one parallel-for at a time */
static pthread_mutex_t stateLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static long workers = 0;          /* threads in the pool, besides callers */
static long requestedThreads = 0; /* 0: the default */

/* The current call, read by workers under stateLock. */
static nabla_task currentTask;
static void *currentContext;
static long currentShares, nextShare, pendingShares;

/* Read once: sysconf reads a file under /sys, far too slow to ask on every product. */
static long detectedThreads = 0;

static long defaultThreads(void) {
    if (detectedThreads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        const char *env = getenv("NABLA_THREADS");
        if (env && atol(env) > 0) cores = atol(env);
        detectedThreads = cores < 1 ? 1 : (cores > NABLA_MAX_THREADS ? NABLA_MAX_THREADS : cores);
    }
    return detectedThreads;
}

long nabla_thread_count(void) {
    return requestedThreads > 0 ? requestedThreads : defaultThreads();
}

void nabla_set_threads(long count) {
    requestedThreads = count < 0 ? 0 : (count > NABLA_MAX_THREADS ? NABLA_MAX_THREADS : count);
}

static void *workerLoop(void *unused) {
    (void)unused;
    pthread_mutex_lock(&stateLock);
    for (;;) {
        while (nextShare >= currentShares) pthread_cond_wait(&wake, &stateLock);
        long share = nextShare++;
        nabla_task task = currentTask;
        void *context = currentContext;
        pthread_mutex_unlock(&stateLock);
        task(context, share);
        pthread_mutex_lock(&stateLock);
        if (--pendingShares == 0) pthread_cond_signal(&finished);
    }
    return NULL;
}

static void startPool(void) {
    for (long i = 0; i < defaultThreads() - 1; i++) {
        pthread_t thread;
        if (pthread_create(&thread, NULL, workerLoop, NULL) != 0) break;
        pthread_detach(thread);
        workers++;
    }
}

void nabla_parallel_for(long shares, nabla_task task, void *context) {
    if (shares <= 1) {
        if (shares == 1) task(context, 0);
        return;
    }
    pthread_once(&once, startPool);
    if (workers == 0 || pthread_mutex_trylock(&callLock) != 0) {
        /* No pool, or another thread is using it (nested or concurrent): run here, in order. */
        for (long s = 0; s < shares; s++) task(context, s);
        return;
    }
    pthread_mutex_lock(&stateLock);
    currentTask = task;
    currentContext = context;
    currentShares = shares;
    nextShare = 1;              /* share 0 is the caller's */
    pendingShares = shares - 1;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&stateLock);

    task(context, 0);
    /* Help with shares no worker has taken yet, then wait for the rest. */
    pthread_mutex_lock(&stateLock);
    while (nextShare < currentShares) {
        long share = nextShare++;
        pthread_mutex_unlock(&stateLock);
        task(context, share);
        pthread_mutex_lock(&stateLock);
        pendingShares--;
    }
    while (pendingShares > 0) pthread_cond_wait(&finished, &stateLock);
    currentShares = 0;
    pthread_mutex_unlock(&stateLock);
    pthread_mutex_unlock(&callLock);
}
