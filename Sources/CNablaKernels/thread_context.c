#include "CNablaKernels.h"

/* One pointer per thread: the program that the calling thread is recording, if any. A thread-local
   in C is a single load; Swift has no thread-local storage of its own. */
static _Thread_local void *threadContext;

void *nabla_thread_context(void) { return threadContext; }

void nabla_set_thread_context(void *context) { threadContext = context; }
