/*
 * Direct convolution: a convolution's forward product computed straight from the image, with
 * no patch matrix (an "implicit GEMM"). Instantiated per scalar type and instruction set by
 * convolution.c.
 *
 * Expects what instantiate_paths.h defines (T, V, VU, VL, NAME(x), ATTR) and MR, the rows in a
 * tile, as gemm_template.h does. The micro-kernel is gemm_template.h's: an
 * MR×2·VL tile of the result in registers for the whole inner loop, one operand broadcast a
 * scalar at a time and the other read as two vectors. They differ only in where the vectors
 * come from: kernel tap (c, ky, kx) of output position (oy, ox) is image element
 * (c, oy + ky, ox + kx), so a run of VL positions along an output row reads VL consecutive
 * elements of an image row. The sums run in the same order as the patch-matrix product, so both
 * give the same bits.
 */

#define NR (2 * VL)
#define UNROLL _Pragma("clang loop unroll(full)")

/* An mr×NR tile of y = weight·patches at output positions p0 ..< p0 + width (width NR, or VL for a
 * last half panel; whole VL-wide runs of a row each, since outputWidth is a multiple of VL), for
 * output channels i0 ..< i0 + mr. Stride 1, no padding: position p's patch starts at p's row and
 * column in the image. */
ATTR static inline __attribute__((always_inline)) void NAME(convolveTile)(
    const int mr, const nabla_window *w, long K, const T *weight, long i0, const T *image, long p0, long width,
    T *y, long plane, int accumulate) {
    V acc[MR][2];
    UNROLL for (int r = 0; r < MR; r++) { acc[r][0] = (V){0}; acc[r][1] = (V){0}; }
    long ow = w->outputWidth, inputPlane = w->height * w->width;
    /* The two VL-wide runs of output positions, and where each one's patch begins. */
    long q0 = p0, q1 = p0 + VL;
    const T *base0 = image + q0 / ow * w->width + q0 % ow;
    const T *base1 = image + q1 / ow * w->width + q1 % ow;
    const T *a = weight + i0 * K;
    long k = 0;
    for (long c = 0; c < w->channels; c++) {
        for (long ky = 0; ky < w->kernelHeight; ky++) {
            const T *row0 = base0 + c * inputPlane + ky * w->width, *row1 = base1 + c * inputPlane + ky * w->width;
            for (long kx = 0; kx < w->kernelWidth; kx++, k++) {
                V b0 = *(const VU *)(row0 + kx);
                V b1 = width == NR ? *(const VU *)(row1 + kx) : (V){0};
                UNROLL for (int r = 0; r < mr; r++) {
                    T s = a[r * K + k];
                    acc[r][0] += s * b0;
                    acc[r][1] += s * b1;
                }
            }
        }
    }
    UNROLL for (int r = 0; r < mr; r++) {
        VU *c0 = (VU *)(y + (i0 + r) * plane + p0), *c1 = (VU *)(y + (i0 + r) * plane + p0 + VL);
        if (accumulate) *c0 += acc[r][0]; else *c0 = acc[r][0];
        if (width == NR) { if (accumulate) *c1 += acc[r][1]; else *c1 = acc[r][1]; }
    }
}

ATTR static void NAME(convolve)(const nabla_window *w, long outChannels, const T *weight, const T *image, T *y,
                                int accumulate) {
    long K = w->channels * w->kernelHeight * w->kernelWidth, plane = w->outputHeight * w->outputWidth;
    for (long p0 = 0; p0 < plane; p0 += NR) {
        long width = plane - p0 < NR ? plane - p0 : NR;
        for (long i0 = 0; i0 < outChannels; i0 += MR) {
            int mr = outChannels - i0 < MR ? (int)(outChannels - i0) : MR;
            switch (mr) {  /* a constant mr in each case, so that each is unrolled in full */
            case 6: NAME(convolveTile)(6, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            case 5: NAME(convolveTile)(5, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            case 4: NAME(convolveTile)(4, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            case 3: NAME(convolveTile)(3, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            case 2: NAME(convolveTile)(2, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            default: NAME(convolveTile)(1, w, K, weight, i0, image, p0, width, y, plane, accumulate); break;
            }
        }
    }
}

#undef NR
#undef UNROLL
