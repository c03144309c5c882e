/*
 * One register-blocked GEMM, instantiated per scalar type and instruction set by gemm.c.
 *
 * Expects: T (scalar), V (vector of VL scalars, 32 bytes), VU (same, unaligned), VL,
 * NAME(x) (suffixes symbols), ATTR (function attributes for the instruction set).
 *
 * B is packed into zero-padded panels of NR = 2·VL columns, so that every column block (the
 * ragged last one too) runs the same fully vectorised micro-kernel; the M×NR tile of C stays in
 * registers for the whole K loop. A is read in place (rows or, transposed, columns) and
 * broadcast one scalar at a time, which needs no packing.
 */

#define NR (2 * VL)
#define MR 6

/* Scratch for the packed B panels: one buffer per thread, grown but never shrunk, so steady-state
 * training performs no allocation here. */
static _Thread_local T *NAME(scratch) = NULL;
static _Thread_local size_t NAME(scratchCount) = 0;

static T *NAME(scratchBuffer)(size_t count) {
    if (count > NAME(scratchCount)) {
        free(NAME(scratch));
        size_t bytes = (count * sizeof(T) + 63) & ~(size_t)63;
        NAME(scratch) = aligned_alloc(64, bytes);
        NAME(scratchCount) = NAME(scratch) ? count : 0;
    }
    return NAME(scratch);
}

ATTR static void NAME(packB)(int transposeB, long N, long K, const T *B, T *packed) {
    long panels = (N + NR - 1) / NR;
    for (long p = 0; p < panels; p++) {
        T *dst = packed + p * K * NR;
        long j0 = p * NR, width = N - j0 < NR ? N - j0 : NR;
        for (long k = 0; k < K; k++) {
            long jj = 0;
            if (transposeB) {
                for (; jj < width; jj++) dst[k * NR + jj] = B[(j0 + jj) * K + k];
            } else {
                for (; jj < width; jj++) dst[k * NR + jj] = B[k * N + j0 + jj];
            }
            for (; jj < NR; jj++) dst[k * NR + jj] = 0;
        }
    }
}

/* The micro-kernel: an mr×NR tile of C (mr ≤ MR, a compile-time constant after inlining). */
ATTR static inline __attribute__((always_inline)) void NAME(tile)(
    const int mr, int transposeA, long M, long K, long i0,
    const T *A, const T *panel, T out[MR][NR]) {
    V acc[MR][2];
    for (int r = 0; r < MR; r++) { acc[r][0] = (V){0}; acc[r][1] = (V){0}; }
    /* a(i, k) lives at A[i*K + k], or at A[k*M + i] when A is stored transposed. */
    long rowStride = transposeA ? 1 : K, kStride = transposeA ? M : 1;
    const T *a = A + i0 * rowStride;
    for (long k = 0; k < K; k++) {
        V b0 = *(const VU *)(panel + k * NR);
        V b1 = *(const VU *)(panel + k * NR + VL);
        const T *ak = a + k * kStride;
        for (int r = 0; r < mr; r++) {
            T s = ak[r * rowStride];
            acc[r][0] += s * b0;
            acc[r][1] += s * b1;
        }
    }
    for (int r = 0; r < mr; r++) {
        *(VU *)(out[r]) = acc[r][0];
        *(VU *)(out[r] + VL) = acc[r][1];
    }
}

ATTR static void NAME(gemm)(int transposeA, int transposeB, long M, long N, long K,
                            const T *A, const T *B, T *C, int accumulate) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (!accumulate) for (long i = 0; i < M * N; i++) C[i] = 0;
        return;
    }
    long panels = (N + NR - 1) / NR;
    T *packed = NAME(scratchBuffer)((size_t)(panels * K * NR));
    if (!packed) abort();
    NAME(packB)(transposeB, N, K, B, packed);

    T tile[MR][NR];
    for (long i0 = 0; i0 < M; i0 += MR) {
        int mr = M - i0 < MR ? (int)(M - i0) : MR;
        for (long p = 0; p < panels; p++) {
            const T *panel = packed + p * K * NR;
            switch (mr) {  /* constant mr, so each case is fully unrolled */
            case 6: NAME(tile)(6, transposeA, M, K, i0, A, panel, tile); break;
            case 5: NAME(tile)(5, transposeA, M, K, i0, A, panel, tile); break;
            case 4: NAME(tile)(4, transposeA, M, K, i0, A, panel, tile); break;
            case 3: NAME(tile)(3, transposeA, M, K, i0, A, panel, tile); break;
            case 2: NAME(tile)(2, transposeA, M, K, i0, A, panel, tile); break;
            default: NAME(tile)(1, transposeA, M, K, i0, A, panel, tile); break;
            }
            long j0 = p * NR, width = N - j0 < NR ? N - j0 : NR;
            for (int r = 0; r < mr; r++) {
                T *c = C + (i0 + r) * N + j0;
                if (accumulate) for (long jj = 0; jj < width; jj++) c[jj] += tile[r][jj];
                else for (long jj = 0; jj < width; jj++) c[jj] = tile[r][jj];
            }
        }
    }
}

#undef NR
#undef MR
