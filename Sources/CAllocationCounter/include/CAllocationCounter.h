#ifndef CALLOCATION_COUNTER_H
#define CALLOCATION_COUNTER_H

/// How many heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign)
/// the process has made since it started. Linking this target into an executable interposes
/// those functions for the whole process; it is for benchmarks and tests only.
long nabla_allocation_count(void);

/// How many of them the calling thread has made.
long nabla_thread_allocation_count(void);

#endif
