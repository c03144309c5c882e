/* e^t as a loop the compiler vectorises, for the kernels whose exponents are never positive
 * (GELU's tails, softmax's x − max): Cephes' expf method — t = n·ln2 + r with |r| ≤ ln2/2, a
 * degree-6 polynomial for e^r, 2^n assembled in the exponent bits — the sigmoid kernel's method,
 * whose results KernelTests holds within 3e-7 relative; GELU's and softmax's tests bound what
 * reaches theirs. */
#ifndef NABLA_VECTOR_EXP_H
#define NABLA_VECTOR_EXP_H

#include <math.h>

/* e^(big + small) for a non-positive sum, where big is exact and small is |small| ≲ 2: the
 * exponent of a tail is large, and one rounding of it into a single float (4e-6 at −73) would be
 * that relative error in the result. So the reduction t − n·ln2 takes big first — Cody and
 * Waite's two-part ln2 makes n·ln2High exact, and big − n·ln2High loses nothing, the two being
 * within a factor of two — and small after. 0 below e^−87, where the result is no longer a
 * normal float. */
static inline float expOfSum(float big, float small) {
    const float t = big + small;
    const float n = __builtin_rintf(fmaxf(t, -87.0f) * 1.44269504088896341f);
    const float r = ((big - n * 0.693359375f) + small) - n * -2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * (r * r) + (r + 1.0f);
    const float scale = __builtin_bit_cast(float, ((int)n + 127) << 23);
    return t < -87.0f || big < -87.0f ? 0.0f : p * scale;
}

#endif
