/* A thread's scratch memory for a kernel: grown when a call needs more, never shrunk, so that
 * steady-state training allocates nothing. Declare it _Thread_local, one per kind of use. */
#ifndef NABLA_SCRATCH_H
#define NABLA_SCRATCH_H

#include <stdlib.h>

struct NablaScratch {
    void *memory;
    size_t bytes;
};

/* At least `bytes` of `scratch`, 64-byte aligned (its contents are not kept when it grows). */
static inline void *nablaScratch(struct NablaScratch *scratch, size_t bytes) {
    if (bytes > scratch->bytes) {
        free(scratch->memory);
        size_t rounded = (bytes + 63) & ~(size_t)63;
        scratch->memory = aligned_alloc(64, rounded);
        scratch->bytes = scratch->memory ? rounded : 0;
    }
    if (!scratch->memory) abort();
    return scratch->memory;
}

#endif
