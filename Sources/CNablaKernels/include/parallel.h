#ifndef NABLA_PARALLEL_H
#define NABLA_PARALLEL_H

/// At most this many threads work on one parallel-for.
#define NABLA_MAX_THREADS 8

/// One share of a parallel-for: `share` runs from 0 to the number of shares − 1.
typedef void (*nabla_task)(void *context, long share);

/// Runs `task` for every share, on the calling thread and the pool's persistent workers, and
/// returns when all are done. Shares may run in any order and at the same time. Afterwards the
/// workers poll for the next call for up to a millisecond before they sleep.
void nabla_parallel_for(long shares, nabla_task task, void *context);

/// How many threads a parallel-for may use: NABLA_THREADS, or the online cores (at most 8),
/// unless set by `nabla_set_threads`.
long nabla_thread_count(void);

#endif
