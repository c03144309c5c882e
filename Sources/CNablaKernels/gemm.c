#include "CNablaKernels.h"

#include <stdlib.h>

/* One share of a product, for a worker thread. */
struct GemmJob {
    int transposeA, transposeB, accumulate;
    long M, N, K, lda, ldb, ldc;
    double alpha;  /* exact for either scalar type */
    const void *A, *B;
    void *C;
};

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

static long parallelMinMACs = 4L * 1000 * 1000;

void nabla_set_parallel_threshold(long multiplyAdds) {
    parallelMinMACs = multiplyAdds > 0 ? multiplyAdds : 4L * 1000 * 1000;
}

/* Shares per thread. The pool hands shares out one at a time, so with several each, a thread that
 * starts late or runs slow (a core the machine lends elsewhere for a while) simply takes fewer,
 * instead of the whole product waiting for its one half. With the pool's workers polling, a share
 * costs about a microsecond to hand out; 8 rather than 4 per thread made the batch-1000 step's two
 * large products about 6% faster on two cores (median of 400 runs, 6 alternating runs each). */
#define SHARES_PER_THREAD 8
/* No share smaller than this many multiply-adds (about 10 µs): below it, handing out costs more. */
#define MIN_SHARE_MACS (1000L * 1000)

/* Splits C into shares — by rows, or by column panels when the columns are the larger
 * dimension — and runs them on the worker pool. Each share is an ordinary product on a
 * sub-matrix. */
static void runGemm(nabla_task runJob, size_t scalarSize, long panelWidth,
                    int transposeA, int transposeB, long M, long N, long K, double alpha,
                    const char *A, const char *B, char *C, int accumulate) {
    long lda = transposeA ? M : K, ldb = transposeB ? K : N, ldc = N;
    struct GemmJob whole = { transposeA, transposeB, accumulate, M, N, K, lda, ldb, ldc, alpha, A, B, C };
    long threads = nabla_thread_count();
    if (threads < 2 || M * N * K < parallelMinMACs) {
        runJob(&whole, 0);
        return;
    }
    struct GemmJob jobs[NABLA_MAX_THREADS * SHARES_PER_THREAD];
    /* Split the larger dimension: each share then reads only its part of the larger operand. */
    long panelCount = (N + panelWidth - 1) / panelWidth;
    int byRows = M >= N ? (M + 5) / 6 >= threads : panelCount < threads;
    long units = byRows ? (M + 5) / 6 : panelCount;  /* tiles of 6 rows, or column panels */
    long shares = threads * SHARES_PER_THREAD;
    if (shares > M * N * K / MIN_SHARE_MACS) shares = M * N * K / MIN_SHARE_MACS;
    if (shares < threads) shares = threads;
    if (shares > units) shares = units;
    long start = 0;
    for (long t = 0; t < shares; t++) {
        long count = units / shares + (t < units % shares ? 1 : 0);
        long begin = start, end = start + count;
        start = end;
        struct GemmJob job = whole;
        if (byRows) {
            long r0 = begin * 6, r1 = end * 6 < M ? end * 6 : M;
            job.M = r1 - r0;
            job.A = A + (size_t)(transposeA ? r0 : r0 * lda) * scalarSize;
            job.C = C + (size_t)(r0 * ldc) * scalarSize;
        } else {
            long c0 = begin * panelWidth, c1 = end * panelWidth < N ? end * panelWidth : N;
            job.N = c1 - c0;
            job.B = B + (size_t)(transposeB ? c0 * ldb : c0) * scalarSize;
            job.C = C + (size_t)c0 * scalarSize;
        }
        jobs[t] = job;
    }
    nabla_parallel_for(shares, runJob, jobs);
}

#define DISPATCH(SUFFIX, SCALAR, LANES)                                                        \
    runGemm(runJob_##SUFFIX, sizeof(SCALAR), 2 * LANES, transposeA, transposeB, M, N, K, alpha, \
            (const char *)A, (const char *)B, (char *)C, accumulate)

void nabla_sgemm(int transposeA, int transposeB, long M, long N, long K, float alpha,
                 const float *A, const float *B, float *C, int accumulate) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) { DISPATCH(f32_avx2, float, 8); return; }
#endif
    DISPATCH(f32_portable, float, 8);
}

void nabla_dgemm(int transposeA, int transposeB, long M, long N, long K, double alpha,
                 const double *A, const double *B, double *C, int accumulate) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) { DISPATCH(f64_avx2, double, 4); return; }
#endif
    DISPATCH(f64_portable, double, 4);
}
