/*
 * One register-blocked GEMM, instantiated per scalar type and instruction set by gemm.c.
 *
 * Expects what instantiate_paths.h defines (T, V, VU, VL, RUNS_PER_VECTOR, LOAD_RUNS, NAME(x),
 * ATTR) and MR, the tile's rows (6: `gemm` has a case for each row count up to it).
 *
 * B is packed into zero-padded panels of NR = 2·VL columns, so that every column block (the
 * ragged last one too) runs the same fully vectorised micro-kernel; the mr×NR tile of C stays in
 * registers for the whole K loop, or for a slice of it in a large product taken in cache-sized
 * blocks. A is read in place (rows or, transposed, columns) and broadcast one scalar at a time,
 * which needs no packing.
 */

#define NR (2 * VL)
/* Loops over a tile's rows are unrolled in full, so that its accumulators live in registers. */
#define UNROLL _Pragma("clang loop unroll(full)")
/* Scratch, two buffers per thread (B's packed panels; a blocked product's sums when they cannot
 * wait in C), grown but never shrunk (scratch.h). */
static _Thread_local struct NablaScratch NAME(scratch)[2];

static T *NAME(scratchBuffer)(int which, size_t count) {
    return nablaScratch(&NAME(scratch)[which], count * sizeof(T));
}

/* Packs the N columns of op(B) (K rows) into zero-padded panels of NR. `ld` is B's row length. */
ATTR static void NAME(packB)(int transposeB, long N, long K, const T *B, T *packed, long ld) {
    long panels = (N + NR - 1) / NR;
    for (long p = 0; p < panels; p++) {
        T *dst = packed + p * K * NR;
        long j0 = p * NR, width = N - j0 < NR ? N - j0 : NR;
        for (long k = 0; k < K; k++) {
            long jj = 0;
            if (transposeB) {
                for (; jj < width; jj++) dst[k * NR + jj] = B[(j0 + jj) * ld + k];
            } else {
                for (; jj < width; jj++) dst[k * NR + jj] = B[k * ld + j0 + jj];
            }
            for (; jj < NR; jj++) dst[k * NR + jj] = 0;
        }
    }
}

/* The micro-kernel: an mr×NR tile of C (mr ≤ MR, a compile-time constant after inlining) summed
 * over K in registers. Its sums start at zero, or, where a slice of a blocked product carries on
 * from the slices before (`carryOn`), at the unscaled sums left at `sums` (row length lds). A last slice
 * (`finish`) scales them by alpha and writes or adds them at C (row length ldc); an earlier one
 * leaves them, unscaled, at `sums`. Either way an element is summed in one unbroken sequence, so
 * a product gives the same bits in slices or whole. A ragged last panel's `width` valid columns
 * go through a buffer. */
ATTR static inline __attribute__((always_inline)) void NAME(tile)(
    const int mr, int transposeA, long lda, long K, long i0, T alpha,
    const T *A, const T *panel, long panelStride, T *C, long ldc, long width, int accumulate,
    T *sums, long lds, int carryOn, int finish) {
    /* Every loop over r is unrolled in full, so that the accumulators live in registers. */
    V acc[MR][2];
    T out[MR][NR];
    if (!carryOn) {
        UNROLL for (int r = 0; r < MR; r++) { acc[r][0] = (V){0}; acc[r][1] = (V){0}; }
    } else if (width == NR) {
        UNROLL for (int r = 0; r < mr; r++) {
            acc[r][0] = *(const VU *)(sums + r * lds);
            acc[r][1] = *(const VU *)(sums + r * lds + VL);
        }
    } else {
        UNROLL for (int r = 0; r < mr; r++) {
            for (long jj = 0; jj < NR; jj++) out[r][jj] = jj < width ? sums[r * lds + jj] : 0;
            acc[r][0] = *(VU *)(out[r]);
            acc[r][1] = *(VU *)(out[r] + VL);
        }
    }
    /* a(i, k) lives at A[i*lda + k], or at A[k*lda + i] when A is stored transposed. */
    long rowStride = transposeA ? 1 : lda, kStride = transposeA ? lda : 1;
    const T *a = A + i0 * rowStride;
    for (long k = 0; k < K; k++) {
        V b0 = *(const VU *)(panel + k * panelStride);
        V b1 = *(const VU *)(panel + k * panelStride + VL);
        const T *ak = a + k * kStride;
        UNROLL for (int r = 0; r < mr; r++) {
            T s = ak[r * rowStride];
            acc[r][0] += s * b0;
            acc[r][1] += s * b1;
        }
    }
    if (!finish) {
        UNROLL for (int r = 0; r < mr; r++) {
            if (width == NR) {
                *(VU *)(sums + r * lds) = acc[r][0];
                *(VU *)(sums + r * lds + VL) = acc[r][1];
            } else {
                *(VU *)(out[r]) = acc[r][0];
                *(VU *)(out[r] + VL) = acc[r][1];
                for (long jj = 0; jj < width; jj++) sums[r * lds + jj] = out[r][jj];
            }
        }
        return;
    }
    if (width == NR) {
        UNROLL for (int r = 0; r < mr; r++) {
            VU *c0 = (VU *)(C + r * ldc), *c1 = (VU *)(C + r * ldc + VL);
            if (accumulate) { *c0 += alpha * acc[r][0]; *c1 += alpha * acc[r][1]; }
            else { *c0 = alpha * acc[r][0]; *c1 = alpha * acc[r][1]; }
        }
        return;
    }
    UNROLL for (int r = 0; r < mr; r++) {
        *(VU *)(out[r]) = acc[r][0];
        *(VU *)(out[r] + VL) = acc[r][1];
        T *c = C + r * ldc;
        if (accumulate) for (long jj = 0; jj < width; jj++) c[jj] += alpha * out[r][jj];
        else for (long jj = 0; jj < width; jj++) c[jj] = alpha * out[r][jj];
    }
}

/* C = A·Bᵀ as dot products (gemm.c says when): each C element is a dot product of two rows, both
 * contiguous along K, so nothing is packed. A 3×4 block of C keeps its sums in 12 runs of RUN
 * lanes (32 bytes): in 12 vectors, or, with AVX-512's vectors of two runs, in 6, each holding two
 * columns' runs side by side against A's run loaded into both halves. Either way each lane sums
 * the same products in the same order, and each element adds up its lanes in the same order. */
#define RUN (VL / RUNS_PER_VECTOR)
#define COLUMN_VECTORS (4 / RUNS_PER_VECTOR)
ATTR static inline __attribute__((always_inline)) void NAME(dotTile)(
    const int mr, const int nr, long K, T alpha, const T *A, long lda, const T *B, long ldb,
    T *C, long ldc, int accumulate) {
    V acc[3][COLUMN_VECTORS];
    UNROLL for (int r = 0; r < 3; r++) UNROLL for (int v = 0; v < COLUMN_VECTORS; v++) acc[r][v] = (V){0};
    long k = 0;
    for (; k + RUN <= K; k += RUN) {
        V a[3];
        UNROLL for (int r = 0; r < mr; r++) a[r] = LOAD_RUNS(A + r * lda + k, A + r * lda + k);
        UNROLL for (int v = 0; v < COLUMN_VECTORS; v++) {
            /* A column past a last block's nr reads the block's first column, in bounds, into
             * lanes that are never summed. */
            int first = v * RUNS_PER_VECTOR, last = first + RUNS_PER_VECTOR - 1;
            if (first < nr) {
                V b = LOAD_RUNS(B + first * ldb + k, B + (last < nr ? last : 0) * ldb + k);
                UNROLL for (int r = 0; r < mr; r++) acc[r][v] += a[r] * b;
            }
        }
    }
    UNROLL for (int r = 0; r < mr; r++) {
        UNROLL for (int c = 0; c < nr; c++) {
            T lanes[VL];
            *(VU *)lanes = acc[r][c / RUNS_PER_VECTOR];
            const T *run = lanes + c % RUNS_PER_VECTOR * RUN;
            T sum = 0;
            for (int l = 0; l < RUN; l++) sum += run[l];
            for (long kk = k; kk < K; kk++) sum += A[r * lda + kk] * B[c * ldb + kk];
            if (accumulate) C[r * ldc + c] += alpha * sum; else C[r * ldc + c] = alpha * sum;
        }
    }
}
#undef RUN
#undef COLUMN_VECTORS

ATTR static void NAME(gemmNT)(long M, long N, long K, T alpha, const T *A, long lda, const T *B, long ldb,
                              T *C, long ldc, int accumulate) {
    for (long i0 = 0; i0 < M; i0 += 3) {
        int mr = M - i0 < 3 ? (int)(M - i0) : 3;
        for (long j0 = 0; j0 < N; j0 += 4) {
            int nr = N - j0 < 4 ? (int)(N - j0) : 4;
            const T *a = A + i0 * lda, *b = B + j0 * ldb;
            T *c = C + i0 * ldc + j0;
            /* Every (mr, nr) a constant, so edge tiles are unrolled and kept in registers too. */
#define DOT(R, C_) case R * 8 + C_: NAME(dotTile)(R, C_, K, alpha, a, lda, b, ldb, c, ldc, accumulate); break;
            switch (mr * 8 + nr) {
            DOT(3, 4) DOT(3, 3) DOT(3, 2) DOT(3, 1)
            DOT(2, 4) DOT(2, 3) DOT(2, 2) DOT(2, 1)
            DOT(1, 4) DOT(1, 3) DOT(1, 2) DOT(1, 1)
            }
#undef DOT
        }
    }
}

/* One mr×NR tile for each constant mr, so that each is fully unrolled. */
#define TILE_CASES(MR_, ...)                                     \
    switch (MR_) {                                                \
    case 6: NAME(tile)(6, __VA_ARGS__); break;                    \
    case 5: NAME(tile)(5, __VA_ARGS__); break;                    \
    case 4: NAME(tile)(4, __VA_ARGS__); break;                    \
    case 3: NAME(tile)(3, __VA_ARGS__); break;                    \
    case 2: NAME(tile)(2, __VA_ARGS__); break;                    \
    default: NAME(tile)(1, __VA_ARGS__); break;                   \
    }

/* The product in cache-sized blocks (gemm.c decides when, and the sizes): blocks of mc rows of
 * A that stay in the second-level cache while every panel of B passes over them, taken in depth
 * slices of kc, so that a tile's kc×NR panel of B stays in the first level while every tile of
 * the block passes over it. B is packed whole: read in place, its rows a power of two apart
 * would fall in the same few cache sets and evict one another. A is read in place (packing it
 * cost more than it saved at the transformer's shapes). Between slices each tile's sums wait
 * unscaled in C, or, when the product adds onto C, in a buffer of the block's rows, and carry
 * on where they stopped: the bits are the unblocked product's (KernelTests checks it). */
ATTR static void NAME(gemmBlocked)(int transposeA, int transposeB, long kc, long mc, long M, long N, long K,
                                   T alpha, const T *A, long lda, const T *B, long ldb, const T *packedB,
                                   T *C, long ldc, int accumulate) {
    long panels = (N + NR - 1) / NR;
    if (!packedB) {
        T *packed = NAME(scratchBuffer)(0, (size_t)(panels * K * NR));
        NAME(packB)(transposeB, N, K, B, packed, ldb);
        packedB = packed;
    }
    /* Sums wait in C itself unless C's values are to be added to. */
    int ownSums = accumulate && K > kc;
    long lds = ownSums ? N : ldc;
    T *sums = ownSums ? NAME(scratchBuffer)(1, (size_t)((mc < M ? mc : M) * N)) : NULL;
    long kStride = transposeA ? lda : 1;
    for (long i0 = 0; i0 < M; i0 += mc) {
        long rows = M - i0 < mc ? M - i0 : mc;
        T *blockSums = ownSums ? sums : C + i0 * ldc;
        for (long k0 = 0; k0 < K; k0 += kc) {
            long depth = K - k0 < kc ? K - k0 : kc;
            int finish = k0 + depth == K;
            for (long p = 0; p < panels; p++) {
                const T *panel = packedB + p * K * NR + k0 * NR;
                long j0 = p * NR, width = N - j0 < NR ? N - j0 : NR;
                for (long r0 = 0; r0 < rows; r0 += MR) {
                    int mr = rows - r0 < MR ? (int)(rows - r0) : MR;
                    TILE_CASES(mr, transposeA, lda, depth, i0 + r0, alpha, A + k0 * kStride, panel, NR,
                               C + (i0 + r0) * ldc + j0, ldc, width, accumulate,
                               blockSums + r0 * lds + j0, lds, k0 > 0, finish)
                }
            }
        }
    }
}

/* C (M×N, row length ldc) = alpha·op(A)·op(B), or C += that when accumulating; A and B have row
 * lengths lda and ldb as stored. gemm.c chooses the method once per product: tiles over whole
 * panels, dot products of contiguous rows (only for A·Bᵀ, and not packing B), or cache-sized
 * blocks of kc × mc. `packedB`, when not NULL, is all of op(B) already in panels (packBShare's
 * work, shared by the shares of a product split by rows); otherwise B is packed here as needed. */
ATTR static void NAME(gemm)(int transposeA, int transposeB, enum GemmMethod method, long kc, long mc,
                            long M, long N, long K, T alpha, const T *A, long lda, const T *B, long ldb,
                            const T *packedB, T *C, long ldc, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) for (long i = 0; i < M; i++) for (long j = 0; j < N; j++) C[i * ldc + j] = 0;
        return;
    }
    if (method == GEMM_DOT_PRODUCTS) {
        NAME(gemmNT)(M, N, K, alpha, A, lda, B, ldb, C, ldc, accumulate);
        return;
    }
    if (method == GEMM_BLOCKED) {
        NAME(gemmBlocked)(transposeA, transposeB, kc, mc, M, N, K, alpha, A, lda, B, ldb, packedB, C, ldc, accumulate);
        return;
    }
    long panels = (N + NR - 1) / NR;
    /* A transposed B is packed whole. Otherwise B's rows already hold each panel's columns
     * contiguously, so full panels are read in place and only the ragged last one is packed. */
    long firstPacked = transposeB || packedB ? 0 : N / NR;
    const T *packed = packedB;
    if (!packed && firstPacked < panels) {
        T *scratch = NAME(scratchBuffer)(0, (size_t)((panels - firstPacked) * K * NR));
        NAME(packB)(transposeB, N - firstPacked * NR, K,
                    transposeB ? B : B + firstPacked * NR, scratch, ldb);
        packed = scratch;
    }

    /* Panels outside, rows inside: one K×NR panel of B stays in cache while every row block of
     * A passes over it (A is the smaller operand at the shapes that matter). */
    for (long p = 0; p < panels; p++) {
        const T *panel = p < firstPacked ? B + p * NR : packed + (p - firstPacked) * K * NR;
        long stride = p < firstPacked ? ldb : NR;
        long j0 = p * NR, width = N - j0 < NR ? N - j0 : NR;
        for (long i0 = 0; i0 < M; i0 += MR) {
            int mr = M - i0 < MR ? (int)(M - i0) : MR;
            T *c = C + i0 * ldc + j0;
            TILE_CASES(mr, transposeA, lda, K, i0, alpha, A, panel, stride, c, ldc, width, accumulate, NULL, 0, 0, 1)
        }
    }
}

/* One share of a parallel product (see gemm.c), run by the worker pool. Each pool thread keeps
 * its own packing scratch for next time. */
static void NAME(runJob)(void *context, long share) {
    struct GemmJob *job = (struct GemmJob *)context + share;
    NAME(gemm)(job->transposeA, job->transposeB, job->method, job->kc, job->mc, job->M, job->N, job->K, (T)job->alpha,
               (const T *)job->A, job->lda, (const T *)job->B, job->ldb, (const T *)job->packedB,
               (T *)job->C, job->ldc, job->accumulate);
}

/* One share of packing all of op(B) for a product split by rows: its run of panels. */
static void NAME(packBShare)(void *context, long share) {
    const struct GemmPacking *packing = context;
    long p0 = share * packing->panelsPerShare, p1 = p0 + packing->panelsPerShare;
    long panels = (packing->N + NR - 1) / NR;
    if (p1 > panels) p1 = panels;
    if (p0 >= p1) return;
    long j0 = p0 * NR, width = (p1 * NR < packing->N ? p1 * NR : packing->N) - j0;
    const T *B = (const T *)packing->B + (packing->transposeB ? j0 * packing->ldb : j0);
    NAME(packB)(packing->transposeB, width, packing->K, B, (T *)packing->packed + p0 * packing->K * NR, packing->ldb);
}

/* Room for all of op(B) packed, K rows by N columns: the calling thread's scratch, which its own
 * shares then leave alone (they are handed the packed panels). */
static void *NAME(packedBScratch)(long N, long K) {
    return NAME(scratchBuffer)(0, (size_t)((N + NR - 1) / NR * K * NR));
}

static const struct GemmPath NAME(path) = { NAME(runJob), NAME(packBShare), NAME(packedBScratch) };

#undef TILE_CASES
#undef NR
#undef UNROLL
