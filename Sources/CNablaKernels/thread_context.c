#include "CNablaKernels.h"

/* A few pointers per thread, one per kind of context Nabla keeps (see the header). A thread-local
   in C is a single load; Swift has no thread-local storage of its own. */
#define SLOTS 4
static _Thread_local void *threadContexts[SLOTS];

void *nabla_thread_context(int slot) { return slot >= 0 && slot < SLOTS ? threadContexts[slot] : 0; }

void nabla_set_thread_context(int slot, void *context) {
    if (slot >= 0 && slot < SLOTS) threadContexts[slot] = context;
}
