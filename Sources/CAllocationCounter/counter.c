/* Counts heap allocations by interposing glibc's allocator entry points. Defined in the
 * executable, these symbols take precedence over libc's for every library in the process (the
 * Swift runtime included), and forward to glibc's internal implementations. */
#define _GNU_SOURCE
#include "CAllocationCounter.h"

#include <stdatomic.h>
#include <stddef.h>
#include <errno.h>

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);

static atomic_long allocations;
/* The calling thread's own count: tests running side by side each count only their own. */
static _Thread_local long threadAllocations;

long nabla_allocation_count(void) { return atomic_load(&allocations); }

long nabla_thread_allocation_count(void) { return threadAllocations; }

#define COUNT() (atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed), threadAllocations++)

void *malloc(size_t size) {
    COUNT();
    return __libc_malloc(size);
}

void *calloc(size_t count, size_t size) {
    COUNT();
    return __libc_calloc(count, size);
}

void *realloc(void *pointer, size_t size) {
    COUNT();
    return __libc_realloc(pointer, size);
}

void *memalign(size_t alignment, size_t size) {
    COUNT();
    return __libc_memalign(alignment, size);
}

void *aligned_alloc(size_t alignment, size_t size) { return memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    void *p = memalign(alignment, size);
    if (!p) return ENOMEM;
    *out = p;
    return 0;
}
