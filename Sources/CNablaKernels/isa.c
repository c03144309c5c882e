/* Which instruction set the kernels run on, decided once from the CPU (and NABLA_KERNELS). */
#include "CNablaKernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
#endif

/* -1: not yet decided; 0: portable; 1: AVX2+FMA. Racing first calls all compute the same value;
 * the atomic (relaxed: a plain load on x86-64 and arm64) makes that race well-defined. */
static atomic_int selectedISA = -1;
/* Per thread, so that a test forcing the portable path does not change the arithmetic of other
 * tests running at the same time (the two paths round differently: one fuses multiply-adds). */
static _Thread_local int forcedPortable = 0;

static int detectISA(void) {
    const char *env = getenv("NABLA_KERNELS");
    if (env && strcmp(env, "portable") == 0) return 0;
#if HAVE_AVX2_PATH
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

int nabla_kernel_isa(void) {
    if (forcedPortable) return 0;
    int isa = atomic_load_explicit(&selectedISA, memory_order_relaxed);
    if (isa < 0) {
        isa = detectISA();
        atomic_store_explicit(&selectedISA, isa, memory_order_relaxed);
    }
    return isa;
}

void nabla_force_portable_kernels(int force) { forcedPortable = force; }
