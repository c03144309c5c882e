/* A small pool of persistent worker threads and a parallel-for over it. Starting threads per call
 * costs tens of microseconds, as much as a mid-sized product; the pool's workers are started once.
 * One parallel-for runs at a time (callers take a lock), and the calling thread always runs a
 * share itself.
 *
 * Waiting spins before it sleeps. A thread asleep on a condition variable takes tens of
 * microseconds to wake on a virtual machine (its idle virtual core has to be scheduled again; see
 * Docs/Performance.md), as long as a share of a large product. Training with large mini-batches calls parallel-fors back to back, so
 * a worker that has just finished one keeps polling for the next for a while (SPIN_NANOSECONDS),
 * and a caller waiting for the last share polls before sleeping too. Programs that never make a
 * parallel call, such as training with the book's mini-batch of 10, never spin. Nor does a pool
 * with more threads than cores (NABLA_THREADS set high): there a spinning thread would hold a core
 * that a working one needs. */
#include "CNablaKernels.h"
#include "parallel.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* How long a thread polls before it sleeps: longer than the serial gaps of a large-batch training
 * step (reading the next 1,000 images, say), short enough that a lone parallel
 * call, such as an evaluation, leaves a core busy for only a moment after it. */
#define SPIN_NANOSECONDS (1000L * 1000)

static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t callLock = PTHREAD_MUTEX_INITIALIZER;   /* one parallel-for at a time */
static pthread_mutex_t stateLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, finished = PTHREAD_COND_INITIALIZER;
static long workers = 0;          /* threads in the pool, besides callers */
static int spinning = 0;          /* whether waits poll first: no more threads than cores */
static atomic_long requestedThreads = 0; /* 0: the default */

/* The current call. Written under stateLock; the two atomics are also read without it, by
 * threads that poll before taking the lock to sleep. */
static nabla_task currentTask;
static void *currentContext;
static long currentShares, nextShare;
static atomic_long pendingShares;
static atomic_ulong callsPosted;  /* changes whenever a call is posted */

/* Read once: sysconf reads a file under /sys, far too slow to ask on every product. Racing first
 * calls all compute the same value; the atomic makes that race well-defined. */
static atomic_long detectedThreads = 0;

static long defaultThreads(void) {
    long threads = atomic_load_explicit(&detectedThreads, memory_order_relaxed);
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        const char *env = getenv("NABLA_THREADS");
        if (env && atol(env) > 0) cores = atol(env);
        threads = cores < 1 ? 1 : (cores > NABLA_MAX_THREADS ? NABLA_MAX_THREADS : cores);
        atomic_store_explicit(&detectedThreads, threads, memory_order_relaxed);
    }
    return threads;
}

long nabla_thread_count(void) {
    long requested = atomic_load_explicit(&requestedThreads, memory_order_relaxed);
    return requested > 0 ? requested : defaultThreads();
}

void nabla_set_threads(long count) {
    atomic_store_explicit(&requestedThreads, count < 0 ? 0 : (count > NABLA_MAX_THREADS ? NABLA_MAX_THREADS : count),
                          memory_order_relaxed);
}

static long nanoseconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000L + t.tv_nsec;
}

static inline void cpuRelax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Polls `done(argument)` for up to SPIN_NANOSECONDS; true if it came true. Only a hint: callers
 * check again under the lock before sleeping. */
static int spinUntil(int (*done)(unsigned long), unsigned long argument) {
    if (!spinning) return done(argument);
    long deadline = nanoseconds() + SPIN_NANOSECONDS;
    for (;;) {
        for (int i = 0; i < 64; i++) {
            if (done(argument)) return 1;
            cpuRelax();
        }
        if (nanoseconds() > deadline) return 0;
    }
}

static int newCallPosted(unsigned long seen) {
    return atomic_load_explicit(&callsPosted, memory_order_acquire) != seen;
}

static int allSharesDone(unsigned long unused) {
    (void)unused;
    return atomic_load_explicit(&pendingShares, memory_order_acquire) == 0;
}

static void *workerLoop(void *unused) {
    (void)unused;
    pthread_mutex_lock(&stateLock);
    for (;;) {
        while (nextShare >= currentShares) {
            /* Poll for the next call; sleep only if none came. A call the caller finished
             * alone before this worker looked is simply polled past. */
            unsigned long seen = atomic_load_explicit(&callsPosted, memory_order_relaxed);
            pthread_mutex_unlock(&stateLock);
            int posted = spinUntil(newCallPosted, seen);
            pthread_mutex_lock(&stateLock);
            if (!posted) while (nextShare >= currentShares) pthread_cond_wait(&wake, &stateLock);
        }
        long share = nextShare++;
        nabla_task task = currentTask;
        void *context = currentContext;
        pthread_mutex_unlock(&stateLock);
        task(context, share);
        pthread_mutex_lock(&stateLock);
        if (atomic_fetch_sub_explicit(&pendingShares, 1, memory_order_release) == 1)
            pthread_cond_signal(&finished);
    }
    return NULL;
}

static void startPool(void) {
    spinning = defaultThreads() <= sysconf(_SC_NPROCESSORS_ONLN);
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
    atomic_store_explicit(&pendingShares, shares - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&callsPosted, 1, memory_order_release);
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
        atomic_fetch_sub_explicit(&pendingShares, 1, memory_order_release);
    }
    if (atomic_load_explicit(&pendingShares, memory_order_acquire) > 0) {
        pthread_mutex_unlock(&stateLock);
        spinUntil(allSharesDone, 0);
        pthread_mutex_lock(&stateLock);
        while (atomic_load_explicit(&pendingShares, memory_order_acquire) > 0)
            pthread_cond_wait(&finished, &stateLock);
    }
    currentShares = 0;
    pthread_mutex_unlock(&stateLock);
    pthread_mutex_unlock(&callLock);
}
