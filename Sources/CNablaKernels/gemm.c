#include "CNablaKernels.h"

#include <stdlib.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));

/* Portable path: plain vector extensions, which the compiler lowers to SSE2 on baseline
 * x86-64 and to NEON on arm64. */
#define ATTR
#define T float
#define V v8f
#define VU v8fu
#define VL 8
#define NAME(x) x##_f32_portable
#include "gemm_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#define T double
#define V v4d
#define VU v4du
#define VL 4
#define NAME(x) x##_f64_portable
#include "gemm_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#undef ATTR

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
/* The same source compiled for AVX2+FMA; `s * b + acc` contracts to vfmadd. */
#define ATTR __attribute__((target("avx2,fma")))
#define T float
#define V v8f
#define VU v8fu
#define VL 8
#define NAME(x) x##_f32_avx2
#include "gemm_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#define T double
#define V v4d
#define VU v4du
#define VL 4
#define NAME(x) x##_f64_avx2
#include "gemm_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#undef ATTR
#endif

/* -1: not yet decided; 0: portable; 1: AVX2+FMA. Racing first calls all compute the same value. */
static int selectedISA = -1;
static int forcedPortable = 0;

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
    if (selectedISA < 0) selectedISA = detectISA();
    return selectedISA;
}

void nabla_force_portable_kernels(int force) { forcedPortable = force; }

void nabla_sgemm(int transposeA, int transposeB, long M, long N, long K,
                 const float *A, const float *B, float *C, int accumulate) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) {
        gemm_f32_avx2(transposeA, transposeB, M, N, K, A, B, C, accumulate);
        return;
    }
#endif
    gemm_f32_portable(transposeA, transposeB, M, N, K, A, B, C, accumulate);
}

void nabla_dgemm(int transposeA, int transposeB, long M, long N, long K,
                 const double *A, const double *B, double *C, int accumulate) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) {
        gemm_f64_avx2(transposeA, transposeB, M, N, K, A, B, C, accumulate);
        return;
    }
#endif
    gemm_f64_portable(transposeA, transposeB, M, N, K, A, B, C, accumulate);
}

/* Byte-to-float conversion is a plain loop: at -O2 the compiler vectorises it for whichever
 * instruction set this file is built for, and it is memory-bound either way. */
void nabla_bytes_to_float(const unsigned char *src, float *dst, long count, float scale) {
    for (long i = 0; i < count; i++) dst[i] = (float)src[i] * scale;
}

void nabla_bytes_to_double(const unsigned char *src, double *dst, long count, double scale) {
    for (long i = 0; i < count; i++) dst[i] = (double)src[i] * scale;
}
