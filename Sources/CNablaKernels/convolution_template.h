/*
 * Direct convolution: a convolution's forward product, and its weight gradient, computed
 * straight from the image, with no patch matrix (an "implicit GEMM"). Instantiated per scalar
 * type and instruction set by convolution.c.
 *
 * Expects what instantiate_paths.h defines (T, V, VU, VL, RUNS_PER_VECTOR, LOAD_RUNS, NAME(x),
 * ATTR) and MR, the rows in a tile, as gemm_template.h does. The micro-kernel is gemm_template.h's:
 * an MR×2·VL tile of the result in registers for the whole inner loop, one operand broadcast a
 * scalar at a time and the other read as two vectors. They differ only in where the vectors
 * come from: kernel tap (c, ky, kx) of output position (oy, ox) is image element
 * (c, oy + ky, ox + kx), so a run of positions along an output row reads as many consecutive
 * elements of an image row. The sums run in the same order as the patch-matrix product, so both
 * give the same bits.
 */

#define NR (2 * VL)
#define UNROLL _Pragma("clang loop unroll(full)")

/* Output positions are read in runs of RUN, 32 bytes of them: since outputWidth is a multiple of
 * RUN, a run lies within one output row, where its patches are consecutive image elements. A
 * vector holds RUNS_PER_VECTOR runs: one on AVX2, two on AVX-512, whose 64-byte vectors are put
 * together from two 32-byte loads (LOAD_RUNS; instantiate_avx512_path.h). */
#define RUN (VL / RUNS_PER_VECTOR)

/* An mr×NR tile of y = weight·patches at output positions p0 ..< p0 + width (NR, or whole runs
 * fewer at a last panel), for output channels i0 ..< i0 + mr. Stride 1, no padding: position p's
 * patch starts at p's row and column in the image. */
ATTR static inline __attribute__((always_inline)) void NAME(convolveTile)(
    const int mr, const nabla_window *w, long K, const T *weight, long i0, const T *image, long p0, long width,
    const T *bias, T *y, long plane) {
    V acc[MR][2];
    UNROLL for (int r = 0; r < MR; r++) { acc[r][0] = (V){0}; acc[r][1] = (V){0}; }
    long ow = w->outputWidth, inputPlane = w->height * w->width;
    /* Where each run's patches begin. A run past a last panel's width reads the first run's
     * (in bounds) into lanes that are never stored. */
    const T *base[2 * RUNS_PER_VECTOR];
    UNROLL for (int j = 0; j < 2 * RUNS_PER_VECTOR; j++) {
        long q = j * RUN < width ? p0 + j * RUN : p0;
        base[j] = image + q / ow * w->width + q % ow;
    }
    const T *a = weight + i0 * K;
    long k = 0;
    for (long c = 0; c < w->channels; c++) {
        for (long ky = 0; ky < w->kernelHeight; ky++) {
            long row = c * inputPlane + ky * w->width;
            for (long kx = 0; kx < w->kernelWidth; kx++, k++) {
                long o = row + kx;
                V b0 = LOAD_RUNS(base[0] + o, base[RUNS_PER_VECTOR - 1] + o);
                V b1 = LOAD_RUNS(base[RUNS_PER_VECTOR] + o, base[2 * RUNS_PER_VECTOR - 1] + o);
                UNROLL for (int r = 0; r < mr; r++) {
                    T s = a[r * K + k];
                    acc[r][0] += s * b0;
                    acc[r][1] += s * b1;
                }
            }
        }
    }
    /* The bias added to the finished sum, as a product accumulating onto a bias-filled output
     * would add it: the same bits, without that pass over the output. */
    UNROLL for (int r = 0; r < mr; r++) {
        if (bias) { acc[r][0] = bias[i0 + r] + acc[r][0]; acc[r][1] = bias[i0 + r] + acc[r][1]; }
        T *out = y + (i0 + r) * plane + p0;
        if (width == NR) {
            *(VU *)out = acc[r][0];
            *(VU *)(out + VL) = acc[r][1];
        } else {  /* a last panel: its whole runs only */
            T lanes[NR];
            *(VU *)lanes = acc[r][0];
            *(VU *)(lanes + VL) = acc[r][1];
            for (long j = 0; j < width; j++) out[j] = lanes[j];
        }
    }
}

ATTR static void NAME(convolve)(const nabla_window *w, long outChannels, const T *weight, const T *image,
                                const T *bias, T *y) {
    long K = w->channels * w->kernelHeight * w->kernelWidth, plane = w->outputHeight * w->outputWidth;
    for (long p0 = 0; p0 < plane; p0 += NR) {
        long width = plane - p0 < NR ? plane - p0 : NR;
        for (long i0 = 0; i0 < outChannels; i0 += MR) {
            int mr = outChannels - i0 < MR ? (int)(outChannels - i0) : MR;
            switch (mr) {  /* a constant mr in each case, so that each is unrolled in full */
            case 6: NAME(convolveTile)(6, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            case 5: NAME(convolveTile)(5, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            case 4: NAME(convolveTile)(4, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            case 3: NAME(convolveTile)(3, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            case 2: NAME(convolveTile)(2, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            default: NAME(convolveTile)(1, w, K, weight, i0, image, p0, width, bias, y, plane); break;
            }
        }
    }
}

/* An mr×NR tile of one image's weight gradient, transposed: wT = P·gᵀ for kernel taps
 * r0 ..< r0 + mr and the output channels of `panel` (g's columns packed NR wide, one row of NR
 * per output position). Tap (c, ky, kx) at output position (oy, ox) is image element
 * (c, oy·stride + ky, ox·stride + kx): each tap reads the image through a pointer of its own, so
 * no patch matrix is gathered. No padding (the caller pads the image). The sums run over the
 * positions in order, as the product with the gathered patch matrix does. */
ATTR static inline __attribute__((always_inline)) void NAME(weightGradientTile)(
    const int mr, const nabla_window *w, const T *image, long r0, const T *panel, T *wT, long ldc, long width,
    int accumulate) {
    V acc[MR][2];
    UNROLL for (int r = 0; r < MR; r++) { acc[r][0] = (V){0}; acc[r][1] = (V){0}; }
    long kernelPlane = w->kernelHeight * w->kernelWidth, stride = w->stride;
    const T *tap[MR];
    UNROLL for (int r = 0; r < mr; r++) {
        long t = r0 + r;
        tap[r] = image + (t / kernelPlane * w->height + t % kernelPlane / w->kernelWidth) * w->width + t % w->kernelWidth;
    }
    const T *b = panel;
    for (long oy = 0; oy < w->outputHeight; oy++) {
        long rowOffset = oy * stride * w->width;
        for (long ox = 0; ox < w->outputWidth; ox++, b += NR) {
            V b0 = *(const VU *)b, b1 = *(const VU *)(b + VL);
            long offset = rowOffset + ox * stride;
            UNROLL for (int r = 0; r < mr; r++) {
                T s = tap[r][offset];
                acc[r][0] += s * b0;
                acc[r][1] += s * b1;
            }
        }
    }
    if (width == NR) {
        UNROLL for (int r = 0; r < mr; r++) {
            VU *c0 = (VU *)(wT + r * ldc), *c1 = (VU *)(wT + r * ldc + VL);
            if (accumulate) { *c0 += acc[r][0]; *c1 += acc[r][1]; }
            else { *c0 = acc[r][0]; *c1 = acc[r][1]; }
        }
        return;
    }
    T out[MR][NR];  /* a ragged last panel: its valid columns only */
    UNROLL for (int r = 0; r < mr; r++) {
        *(VU *)(out[r]) = acc[r][0];
        *(VU *)(out[r] + VL) = acc[r][1];
        T *c = wT + r * ldc;
        if (accumulate) for (long j = 0; j < width; j++) c[j] += out[r][j];
        else for (long j = 0; j < width; j++) c[j] = out[r][j];
    }
}

/* One image's weight gradient, transposed: wT ([channels·kh·kw, outChannels]) = P·gᵀ, or
 * wT += that when `accumulate`, with P the image's patch matrix read in place and g
 * ([outChannels, outputPlane]) its output gradient, packed first into `packed`
 * (⌈outChannels / NR⌉·NR·outputPlane scalars). */
ATTR static void NAME(convolutionWeightGradient)(const nabla_window *w, long outChannels, const T *image, const T *g,
                                                 T *packed, T *wT, int accumulate) {
    long K = w->channels * w->kernelHeight * w->kernelWidth, plane = w->outputHeight * w->outputWidth;
    long panels = (outChannels + NR - 1) / NR;
    for (long p = 0; p < panels; p++) {
        T *dst = packed + p * plane * NR;
        for (long j = 0; j < NR; j++) {
            long o = p * NR + j;
            if (o < outChannels) for (long q = 0; q < plane; q++) dst[q * NR + j] = g[o * plane + q];
            else for (long q = 0; q < plane; q++) dst[q * NR + j] = 0;
        }
    }
    /* Panels outside, taps inside: a panel of g stays in cache while every tap passes over it. */
    for (long p = 0; p < panels; p++) {
        const T *panel = packed + p * plane * NR;
        long width = outChannels - p * NR < NR ? outChannels - p * NR : NR;
        for (long r0 = 0; r0 < K; r0 += MR) {
            int mr = K - r0 < MR ? (int)(K - r0) : MR;
            T *c = wT + r0 * outChannels + p * NR;
            switch (mr) {  /* a constant mr in each case, so that each is unrolled in full */
            case 6: NAME(weightGradientTile)(6, w, image, r0, panel, c, outChannels, width, accumulate); break;
            case 5: NAME(weightGradientTile)(5, w, image, r0, panel, c, outChannels, width, accumulate); break;
            case 4: NAME(weightGradientTile)(4, w, image, r0, panel, c, outChannels, width, accumulate); break;
            case 3: NAME(weightGradientTile)(3, w, image, r0, panel, c, outChannels, width, accumulate); break;
            case 2: NAME(weightGradientTile)(2, w, image, r0, panel, c, outChannels, width, accumulate); break;
            default: NAME(weightGradientTile)(1, w, image, r0, panel, c, outChannels, width, accumulate); break;
            }
        }
    }
}

#undef NR
#undef UNROLL
#undef RUN
