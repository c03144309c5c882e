/* GELU over floats, x·Φ(x), and its vector–Jacobian product g·(Φ(x) + x·φ(x)), as loops the
 * compiler vectorises: libm's erff and expf are calls, one element at a time, and were most of a
 * transformer step's element-wise time.
 *
 * Φ(x) = ½·erfc(−x/√2), with erfc from the Chebyshev fit of Numerical Recipes (§6.2, relative
 * error below 1.2e-7 everywhere), so that Φ keeps its relative accuracy far into the left tail
 * where 1 + erf would cancel; e^t from vector_exp.h. A NaN input gives NaN (the final product
 * with x carries it); x = ±∞ gives what the exact formula gives: ∞ for +∞, and ∞·0 = NaN for −∞. */
#include "CNablaKernels.h"

#include <math.h>

#include "kernel_paths.h"
#include "vector_exp.h"

/* The rounding error of x·x, which a fused multiply-add recovers: −x²/2 is then
 * −½·x·x − ½·error, both halvings exact. */
static inline float squareError(float x) { return fmaf(x, x, -(x * x)); }

/* Φ(x), the standard normal distribution function. */
static inline float normalCDF(float x) {
    const float z = fabsf(x) * 0.70710678118654752f;
    const float t = 1.0f / (1.0f + 0.5f * z);
    float p = 0.17087277f;
    p = p * t - 0.82215223f;
    p = p * t + 1.48851587f;
    p = p * t - 1.13520398f;
    p = p * t + 0.27886807f;
    p = p * t - 0.18628806f;
    p = p * t + 0.09678418f;
    p = p * t + 0.37409196f;
    p = p * t + 1.00002368f;
    p = p * t - 1.26551223f;
    const float halfErfc = 0.5f * t * expOfSum(-0.5f * (x * x), p - 0.5f * squareError(x));
    return x < 0 ? halfErfc : 1.0f - halfErfc;
}

LOOP_KERNEL(nabla_gelu_f32, (const float *restrict x, float *restrict y, long count), (x, y, count),
            for (long i = 0; i < count; i++) y[i] = x[i] * normalCDF(x[i]);)

LOOP_KERNEL(nabla_gelu_gradient_f32, (const float *restrict x, const float *restrict g, float *restrict dx, long count),
            (x, g, dx, count),
            for (long i = 0; i < count; i++) {
                const float density = expOfSum(-0.5f * (x[i] * x[i]), -0.5f * squareError(x[i])) * 0.398942280401432678f;
                dx[i] = g[i] * (normalCDF(x[i]) + x[i] * density);
            })
