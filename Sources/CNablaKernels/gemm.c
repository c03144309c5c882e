#include "CNablaKernels.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "scratch.h"

/* How a product is computed (chosen once per product, in runGemm). */
enum GemmMethod {
    GEMM_TILED,         /* tiles of C over whole-depth panels of B */
    GEMM_DOT_PRODUCTS,  /* A·Bᵀ as dot products of contiguous rows */
    GEMM_BLOCKED,       /* tiles over cache-sized blocks: B packed, A read in place */
};

/* One share of a product, for a worker thread. */
struct GemmJob {
    int transposeA, transposeB, accumulate;
    enum GemmMethod method;
    long kc, mc;  /* GEMM_BLOCKED's depth slice and block of rows */
    long M, N, K, lda, ldb, ldc;
    double alpha;  /* exact for either scalar type */
    const void *A, *B;
    const void *packedB;  /* all of op(B) in panels already, or NULL to pack it as needed */
    void *C;
};

/* Packing all of op(B) (K rows by N columns) into panels, a run of panelsPerShare per share. */
struct GemmPacking {
    int transposeB;
    long N, K, ldb, panelsPerShare;
    const void *B;
    void *packed;
};

/* One instantiation of the kernels (a scalar type on an instruction set), as runGemm calls them. */
struct GemmPath {
    nabla_task multiply;  /* a share of a product: a struct GemmJob */
    nabla_task packB;     /* a share of packing B: a struct GemmPacking */
    void *(*packedBScratch)(long N, long K);  /* the calling thread's room for all of B packed */
};

/* Rows in the micro-kernel's tile of C. A product split by rows is split on whole tiles, so that
 * each row is computed with the same neighbours, and so the same operations, on any thread. */
#define MR 6

#define TEMPLATE "gemm_template.h"
#include "instantiate_paths.h"
#include "instantiate_avx512_path.h"
#undef TEMPLATE

/* Below this many multiply-adds a product runs on the calling thread,
 * so that no product of the book's mini-batch of 10 involves the pool. Atomic: a test may change
 * it while other threads multiply. */
#define DEFAULT_PARALLEL_MIN_MACS (4L * 1000 * 1000)
static atomic_long parallelMinMACs = DEFAULT_PARALLEL_MIN_MACS;

/* A product with this many rows or more splits from a sixteenth of the threshold: at a large
 * mini-batch, a narrow layer's products (at 1,000 rows, [1000×30]·[10×30]ᵀ and [1000×10]·[10×30])
 * would otherwise run alone while the other cores wait, and the pool is already awake for the
 * wide layer's products. Few rows mean a small batch, whose products stay on one core however
 * wide the layer: split, a core that is busy elsewhere slows them several times over
 * (Docs/Performance.md). */
#define ROW_RICH_MIN_ROWS 256
#define ROW_RICH_THRESHOLD_DIVISOR 16

void nabla_set_parallel_threshold(long multiplyAdds) {
    atomic_store_explicit(&parallelMinMACs, multiplyAdds > 0 ? multiplyAdds : DEFAULT_PARALLEL_MIN_MACS,
                          memory_order_relaxed);
}

/* Shares shrink as they are handed out (guided self-scheduling): each takes 1/(2·threads) of the
 * work left, but no less than MIN_SHARE_MACS multiply-adds (below it, handing out costs more than
 * the share). Large shares first keep the hand-outs few; small ones last let the threads finish
 * together, whichever ran slow (on a shared machine, a core is now and then lent elsewhere). */
#define MIN_SHARE_MACS (1000L * 1000)
#define MAX_SHARES 64

/* Whether A·Bᵀ runs as dot products of A's rows with B's rows (both contiguous along K) instead
 * of packing B into column panels for the tiled kernel (Docs/Performance.md has what it gained).
 * Only for few rows of A (M ≤ 32), where packing B, a strided, transposing copy of all of it,
 * would not be repaid (with 10 rows it took longer than the product itself), and then when
 * either of two more facts holds:
 * - B fits in 256 KB (a quarter of this machine's 1 MB L2), so each block of 3 rows of A re-reads
 *   it from cache;
 * - rows are long (K ≥ 256), so the horizontal sum that ends each dot product costs little.
 * With many rows the tiles in cache-sized blocks are faster, narrow C and its padded panels
 * included (an evaluation's 10,000 rows by the book's 30 outputs or chapter 6's 100: 1.4–1.7×
 * faster).
 * Decided once for the whole product, so that every share computes its elements the same way and
 * the result does not depend on the number of threads. */
static int dotProducts(int transposeA, int transposeB, long M, long N, long K, size_t scalarSize) {
    if (transposeA || !transposeB || M > 32) return 0;
    int smallB = (size_t)N * (size_t)K * scalarSize <= 256 * 1024, longRows = K >= 256;
    return smallB || longRows;
}

/* The caches the blocked products are sized for, as the processor reports them (glibc reads
 * CPUID once at start-up; a call costs a few nanoseconds), or common sizes where it reports none. */
static long cacheBytes(int level) {
    long reported = -1;
#if defined(_SC_LEVEL1_DCACHE_SIZE) && defined(_SC_LEVEL2_CACHE_SIZE)
    reported = sysconf(level == 1 ? _SC_LEVEL1_DCACHE_SIZE : _SC_LEVEL2_CACHE_SIZE);
#endif
    return reported > 0 ? reported : level == 1 ? 32 * 1024 : 256 * 1024;
}

/* The depth slice: a kc×NR panel of B in two thirds of the first-level cache, the rest for the
 * tile's rows of A and what else passes through. Sized for AVX-512's panels of 128 bytes a row
 * (32 floats or 16 doubles) whatever the path, so that every path slices the same way. */
static long sliceDepth(void) {
    long kc = cacheBytes(1) * 2 / 3 / 128 / 16 * 16;
    return kc < 64 ? 64 : kc > 512 ? 512 : kc;
}

/* Rows of A in a block: a kc-deep block of them in half the second-level cache. */
static long blockRows(long kc, size_t scalarSize) {
    long rows = cacheBytes(2) / 2 / (kc * (long)scalarSize) / MR * MR;
    return rows < MR ? MR : rows;
}

void nabla_gemm_blocking(long *depthSliceOut, long *floatBlockRowsOut, long *l1Bytes, long *l2Bytes) {
    long kc = sliceDepth();
    *depthSliceOut = kc;
    *floatBlockRowsOut = blockRows(kc, sizeof(float));
    *l1Bytes = cacheBytes(1);
    *l2Bytes = cacheBytes(2);
}

/* Per thread, as nabla_limit_kernels is, so that a test comparing blocked and unblocked products
 * changes nothing for tests running beside it. */
static _Thread_local int blockingAllowed = 1;

void nabla_allow_gemm_blocking(int allowed) { blockingAllowed = allowed; }

/* Whether a product runs in blocks: when B's panels are deeper than a slice (a panel would not
 * stay in the first-level cache), or A would not stay in the second while several panels pass
 * over it (`panelWidth` columns each). Blocking packs all of B, a cost that few rows of A would
 * not repay. Blocks change no bits (gemm_template.h), so this decides only the speed. */
static int blocked(long M, long N, long K, long kc, long panelWidth, size_t scalarSize) {
    int deep = K > kc, largeA = (size_t)M * (size_t)K * scalarSize > (size_t)cacheBytes(2) / 2 && N > panelWidth;
    return blockingAllowed && M >= 4 * MR && (deep || largeA);
}

/* Splits C into shares — by rows, or by column panels when the columns are the larger
 * dimension — and runs them on the worker pool. Each share is an ordinary product on a
 * sub-matrix. */
static void runGemm(const struct GemmPath *path, size_t scalarSize, long panelWidth,
                    int transposeA, int transposeB, long M, long N, long K, double alpha,
                    const char *A, long lda, const char *B, long ldb, char *C, long ldc, int accumulate) {
    long kc = sliceDepth();
    enum GemmMethod method = dotProducts(transposeA, transposeB, M, N, K, scalarSize) ? GEMM_DOT_PRODUCTS
        : blocked(M, N, K, kc, panelWidth, scalarSize) ? GEMM_BLOCKED : GEMM_TILED;
    struct GemmJob whole = { transposeA, transposeB, accumulate, method, kc, blockRows(kc, scalarSize),
                             M, N, K, lda, ldb, ldc, alpha, A, B, NULL, C };
    long threads = nabla_thread_count();
    long minMACs = atomic_load_explicit(&parallelMinMACs, memory_order_relaxed);
    if (M >= ROW_RICH_MIN_ROWS) minMACs /= ROW_RICH_THRESHOLD_DIVISOR;
    if (threads < 2 || M * N * K < minMACs) {
        path->multiply(&whole, 0);
        return;
    }
    struct GemmJob jobs[MAX_SHARES];
    /* Split the larger dimension: each share then reads only its part of the larger operand. */
    long panelCount = (N + panelWidth - 1) / panelWidth;
    long tiles = (M + MR - 1) / MR;
    int byRows = M >= N ? tiles >= threads : panelCount < threads;
    long units = byRows ? tiles : panelCount;  /* tiles of rows, or column panels */
    /* Past the threshold every thread gets a share, however small the product. */
    long minUnits = MIN_SHARE_MACS / (M * N * K / units);
    if (minUnits > units / threads) minUnits = units / threads;
    if (minUnits < 1) minUnits = 1;
    long shares = 0;
    for (long begin = 0; begin < units; shares++) {
        long left = units - begin, count = left / (2 * threads);
        if (count < minUnits) count = minUnits;
        if (count > left || shares == MAX_SHARES - 1) count = left;
        long end = begin + count;
        struct GemmJob job = whole;
        if (byRows) {
            long r0 = begin * MR, r1 = end * MR < M ? end * MR : M;
            job.M = r1 - r0;
            job.A = A + (size_t)(transposeA ? r0 : r0 * lda) * scalarSize;
            job.C = C + (size_t)(r0 * ldc) * scalarSize;
        } else {
            long c0 = begin * panelWidth, c1 = end * panelWidth < N ? end * panelWidth : N;
            job.N = c1 - c0;
            job.B = B + (size_t)(transposeB ? c0 * ldb : c0) * scalarSize;
            job.C = C + (size_t)c0 * scalarSize;
        }
        jobs[shares] = job;
        begin = end;
    }
    /* Shares of rows would each pack all of B, the whole of it for each share, where the method
     * packs B whole (at the transformer's A·Bᵀ that took more time than the product gained from
     * the second core): it is packed once instead, by all the threads, and the shares share it. */
    if (byRows && shares > 1 && (method == GEMM_BLOCKED || (method == GEMM_TILED && transposeB))) {
        long packShares = threads < panelCount ? threads : panelCount;
        struct GemmPacking packing = { transposeB, N, K, ldb, (panelCount + packShares - 1) / packShares, B,
                                       path->packedBScratch(N, K) };
        nabla_parallel_for(packShares, path->packB, &packing);
        for (long share = 0; share < shares; share++) jobs[share].packedB = packing.packed;
    }
    nabla_parallel_for(shares, path->multiply, jobs);
}

/* With AVX-512 the tiled kernel runs 16 floats (8 doubles) wide, a tile of C twice as wide for
 * the same instructions, and the dot products take two columns in each vector. Each element of C
 * is still computed by the same operations in the same order, so the product is the AVX2 path's
 * to the bit (KernelTests checks it). */
#define DISPATCH(SUFFIX, SCALAR, LANES)                                                        \
    runGemm(&path_##SUFFIX, sizeof(SCALAR), 2 * LANES, transposeA, transposeB, M, N, K, alpha, \
            (const char *)A, lda, (const char *)B, ldb, (char *)C, ldc, accumulate)

void nabla_sgemm_strided(int transposeA, int transposeB, long M, long N, long K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float *C, long ldc, int accumulate) {
#if HAVE_AVX2_PATH
    int isa = nabla_kernel_isa();
    if (isa == NABLA_ISA_AVX512) { DISPATCH(f32_avx512, float, 16); return; }
    if (isa == NABLA_ISA_AVX2) { DISPATCH(f32_avx2, float, 8); return; }
#endif
    DISPATCH(f32_portable, float, 8);
}

void nabla_dgemm_strided(int transposeA, int transposeB, long M, long N, long K, double alpha,
                         const double *A, long lda, const double *B, long ldb, double *C, long ldc, int accumulate) {
#if HAVE_AVX2_PATH
    int isa = nabla_kernel_isa();
    if (isa == NABLA_ISA_AVX512) { DISPATCH(f64_avx512, double, 8); return; }
    if (isa == NABLA_ISA_AVX2) { DISPATCH(f64_avx2, double, 4); return; }
#endif
    DISPATCH(f64_portable, double, 4);
}

/* A whole matrix's rows are as long as its stored shape says. */
void nabla_sgemm(int transposeA, int transposeB, long M, long N, long K, float alpha,
                 const float *A, const float *B, float *C, int accumulate) {
    nabla_sgemm_strided(transposeA, transposeB, M, N, K, alpha, A, transposeA ? M : K, B, transposeB ? K : N, C, N,
                        accumulate);
}

void nabla_dgemm(int transposeA, int transposeB, long M, long N, long K, double alpha,
                 const double *A, const double *B, double *C, int accumulate) {
    nabla_dgemm_strided(transposeA, transposeB, M, N, K, alpha, A, transposeA ? M : K, B, transposeB ? K : N, C, N,
                        accumulate);
}
