/* Which instruction set the kernels run on, decided once from the CPU (and NABLA_KERNELS). */
#include "CNablaKernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
#endif

/* -1: not yet decided; else a NABLA_ISA_* level. Racing first calls all compute the same value;
 * the atomic (relaxed: a plain load on x86-64 and arm64) makes that race well-defined. */
static atomic_int selectedISA = -1;
/* Per thread, so that a test limiting its kernels does not change the arithmetic of other tests
 * running at the same time (the portable path rounds differently: it fuses no multiply-adds). */
static _Thread_local int threadLimit = NABLA_ISA_AVX512;

static int detectISA(void) {
    const char *env = getenv("NABLA_KERNELS");
    int limit = !env ? NABLA_ISA_AVX512
        : strcmp(env, "portable") == 0 ? NABLA_ISA_PORTABLE
        : strcmp(env, "avx2") == 0 ? NABLA_ISA_AVX2 : NABLA_ISA_AVX512;
    int isa = NABLA_ISA_PORTABLE;
#if HAVE_AVX2_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = NABLA_ISA_AVX2;
    if (isa == NABLA_ISA_AVX2 && __builtin_cpu_supports("avx512f")) isa = NABLA_ISA_AVX512;
#endif
    return isa < limit ? isa : limit;
}

int nabla_kernel_isa(void) {
    int isa = atomic_load_explicit(&selectedISA, memory_order_relaxed);
    if (isa < 0) {
        isa = detectISA();
        atomic_store_explicit(&selectedISA, isa, memory_order_relaxed);
    }
    return isa < threadLimit ? isa : threadLimit;
}

void nabla_limit_kernels(int isa) { threadLimit = isa < 0 ? NABLA_ISA_AVX512 : isa; }
