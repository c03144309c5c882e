/* Bulk element loops that would otherwise dominate a training step, or a debug build, in Swift. */
#include "CNablaKernels.h"

#include <float.h>
#include <math.h>

#include "dropout.h"
#include "kernel_paths.h"

/* Byte-to-float conversion of whole rows picked by index (a mini-batch of images); AVX2 widens
 * and converts 8 bytes per instruction.
 *
 * Shuffled rows come from all over a large array, so converting them one after another would
 * wait for memory once per row. Each row's cache lines (every 64 bytes, and its last byte, which
 * may start one more) are requested PREFETCH_ROWS rows before it is converted, so that those
 * waits overlap: a mini-batch of 10 is requested whole up front.
 *
 * The requests bring lines into L2 (locality 2: prefetcht1), not L1. A batch asks for far more
 * lines (13 an image, 16 images ahead) than L1 can have in flight, and on this machine's AMD
 * cores, prefetches into L1 that find its miss buffers full hold up the loads behind them; into
 * L2, the loads find their lines a few nanoseconds away (Docs/Performance.md has the figures). */
#define PREFETCH_ROWS 16
#define PREFETCH_ROW(r)                                                                        \
    do {                                                                                       \
        const unsigned char *row = base + rows[r] * rowLength;                                 \
        for (long o = 0; o < rowLength; o += 64) __builtin_prefetch(row + o, 0, 2);            \
        __builtin_prefetch(row + rowLength - 1, 0, 2);                                         \
    } while (0)
#define GATHER(T)                                                                              \
    for (long r = 0; r < rowCount && r < PREFETCH_ROWS; r++) PREFETCH_ROW(r);                  \
    for (long r = 0; r < rowCount; r++) {                                                      \
        if (r + PREFETCH_ROWS < rowCount) PREFETCH_ROW(r + PREFETCH_ROWS);                     \
        const unsigned char *src = base + rows[r] * rowLength;                                 \
        T *out = dst + r * rowLength;                                                          \
        for (long i = 0; i < rowLength; i++) out[i] = (T)src[i] * scale;                      \
    }
LOOP_KERNEL(nabla_gather_bytes_to_float,
          (const unsigned char *base, const long *rows, long rowCount, long rowLength, float scale, float *dst),
          (base, rows, rowCount, rowLength, scale, dst), GATHER(float))
LOOP_KERNEL(nabla_gather_bytes_to_double,
          (const unsigned char *base, const long *rows, long rowCount, long rowLength, double scale, double *dst),
          (base, rows, rowCount, rowLength, scale, dst), GATHER(double))

/* Plain SGD's update, in C so that it is vectorised and stays fast in debug builds, where a
 * Swift element loop over every weight would dominate a training step. Eight floats per AVX2
 * instruction against four for the baseline build: it reads and writes every weight each step. */
/* The decayed gradient d = g + decay·w, with no decay term at all when decay is 0: 0·w would
 * turn an infinite weight into NaN, where no weight decay must leave it as it is. The test is
 * loop-invariant, so the compiler unswitches it out of each loop. */
#define DECAYED(i) (decay != 0 ? g[i] + decay * w[i] : g[i])

/* A moment estimate (or velocity) below the smallest normal number is stored as zero. Where a
 * parameter's gradient stays zero (MNIST's border pixels never light up), its moments decay
 * geometrically into the subnormal range, where each operation on them takes the processor's slow
 * path — a third of them subnormal triples the whole update's time — to keep values far below
 * anything that still moves a weight. NaN fails both comparisons and is kept. On x86 the kernels
 * that keep such state run with every subnormal result flushed (FLUSHING_LOOP_KERNEL), these
 * included, so there is nothing left for FLUSHED to do. */
#if HAVE_AVX2_PATH
#define FLUSHED(x) (x)
#else
static inline float flushedFloat(float x) { return x > -FLT_MIN && x < FLT_MIN ? 0.0f : x; }
static inline double flushedDouble(double x) { return x > -DBL_MIN && x < DBL_MIN ? 0.0 : x; }
#define FLUSHED(x) _Generic((x), float: flushedFloat, double: flushedDouble)(x)
#endif

#define SGD_STEP for (long i = 0; i < count; i++) w[i] -= rate * DECAYED(i);
LOOP_KERNEL(nabla_sgd_step_f32, (float *w, const float *g, long count, float rate, float decay),
          (w, g, count, rate, decay), SGD_STEP)
LOOP_KERNEL(nabla_sgd_step_f64, (double *w, const double *g, long count, double rate, double decay),
          (w, g, count, rate, decay), SGD_STEP)

/* SGD with momentum, PyTorch's rule: d = g + decay·w; b = d on the first step, else
 * momentum·b + keep·d (keep = 1 − dampening); w −= rate·(d + momentum·b) with Nesterov, else
 * rate·b. The flags are loop-invariant, so the compiler unswitches them out of the loop. */
#define MOMENTUM_STEP(T)                                                                       \
    for (long i = 0; i < count; i++) {                                                         \
        T d = DECAYED(i);                                                                      \
        T b = FLUSHED(first ? d : momentum * v[i] + keep * d);                                 \
        v[i] = b;                                                                              \
        w[i] -= rate * (nesterov ? d + momentum * b : b);                                      \
    }
FLUSHING_LOOP_KERNEL(nabla_momentum_step_f32,
          (float *restrict w, float *restrict v, const float *restrict g, long count, float rate, float momentum,
           float keep, float decay, int nesterov, int first),
          (w, v, g, count, rate, momentum, keep, decay, nesterov, first), MOMENTUM_STEP(float))
FLUSHING_LOOP_KERNEL(nabla_momentum_step_f64,
          (double *restrict w, double *restrict v, const double *restrict g, long count, double rate,
           double momentum, double keep, double decay, int nesterov, int first),
          (w, v, g, count, rate, momentum, keep, decay, nesterov, first), MOMENTUM_STEP(double))

/* Adam's update with PyTorch's semantics, given the step size η/(1 − β1ᵗ) and 1/√(1 − β2ᵗ):
 * d = g + decay·w; m = β1·m + (1 − β1)·d; v = β2·v + (1 − β2)·d²; w −= stepSize·m / (√v/√(1 − β2ᵗ) + ε),
 * the correction multiplied in so that each element costs one square root and one division.
 * The elementwise square root carries no errno, so the loop vectorises. */
#define ADAM_STEP(T)                                                                           \
    for (long i = 0; i < count; i++) {                                                         \
        T d = DECAYED(i);                                                                      \
        T mean = FLUSHED(beta1 * m[i] + (1 - beta1) * d);                                      \
        T square = FLUSHED(beta2 * v[i] + (1 - beta2) * d * d);                                \
        m[i] = mean;                                                                           \
        v[i] = square;                                                                         \
        w[i] -= stepSize * mean / (__builtin_elementwise_sqrt(square) * inverseRoot2 + epsilon); \
    }
FLUSHING_LOOP_KERNEL(nabla_adam_step_f32,
          (float *restrict w, float *restrict m, float *restrict v, const float *restrict g, long count,
           float stepSize, float beta1, float beta2, float inverseRoot2, float epsilon, float decay),
          (w, m, v, g, count, stepSize, beta1, beta2, inverseRoot2, epsilon, decay), ADAM_STEP(float))
FLUSHING_LOOP_KERNEL(nabla_adam_step_f64,
          (double *restrict w, double *restrict m, double *restrict v, const double *restrict g, long count,
           double stepSize, double beta1, double beta2, double inverseRoot2, double epsilon, double decay),
          (w, m, v, g, count, stepSize, beta1, beta2, inverseRoot2, epsilon, decay), ADAM_STEP(double))

/* y = √x, correctly rounded as IEEE requires (so the bits are scalar sqrt's on every path):
 * Swift's element loop takes one square root per instruction, the vector paths 8 or 16 — the
 * root in every Adam-style update written as tensor math (AdamW's √v). */
#define SQUARE_ROOT for (long i = 0; i < count; i++) y[i] = __builtin_elementwise_sqrt(x[i]);
LOOP_KERNEL(nabla_sqrt_f32, (const float *restrict x, float *restrict y, long count), (x, y, count), SQUARE_ROOT)
LOOP_KERNEL(nabla_sqrt_f64, (const double *restrict x, double *restrict y, long count), (x, y, count), SQUARE_ROOT)

/* The ReLU's vector–Jacobian product from its output y: g where y > 0, NaN where y is NaN (so that
 * it propagates), 0 elsewhere. As selects, not branches: whether a unit is active is a coin toss
 * a branch predictor loses half the time. */
#define RELU_GRADIENT for (long i = 0; i < count; i++) dx[i] = y[i] > 0 ? g[i] : (y[i] != y[i] ? y[i] : 0);
LOOP_KERNEL(nabla_relu_gradient_f32, (const float *restrict y, const float *restrict g, float *restrict dx, long count),
          (y, g, dx, count), RELU_GRADIENT)
LOOP_KERNEL(nabla_relu_gradient_f64, (const double *restrict y, const double *restrict g, double *restrict dx, long count),
          (y, g, dx, count), RELU_GRADIENT)

/* The logistic function σ(x) = 1 / (1 + e^−x) for floats. The AVX2 path computes e^t for eight
 * lanes at once the way Cephes' expf does — t = n·ln2 + r with |r| ≤ ln2/2, a degree-6
 * polynomial for e^r, and 2^n assembled in the exponent bits — accurate to about 1e-7 relative,
 * with t clamped to ±88 where σ is 0 or 1 to float precision anyway. */
#if HAVE_AVX2_PATH
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static void sigmoidAVX2(const float *x, float *y, long count) {
    const __m256 one = _mm256_set1_ps(1.0f), limit = _mm256_set1_ps(88.0f);
    const __m256 log2e = _mm256_set1_ps(1.44269504088896341f);
    const __m256 ln2High = _mm256_set1_ps(0.693359375f), ln2Low = _mm256_set1_ps(-2.12194440e-4f);
    const __m256 p0 = _mm256_set1_ps(1.9875691500e-4f), p1 = _mm256_set1_ps(1.3981999507e-3f);
    const __m256 p2 = _mm256_set1_ps(8.3334519073e-3f), p3 = _mm256_set1_ps(4.1665795894e-2f);
    const __m256 p4 = _mm256_set1_ps(1.6666665459e-1f), p5 = _mm256_set1_ps(5.0000001201e-1f);
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        __m256 t = _mm256_sub_ps(_mm256_setzero_ps(), _mm256_loadu_ps(x + i));  /* e^−x */
        /* Past the clamp, σ is below the smallest normal float: 0, as the scalar loop gives. */
        const __m256 underflows = _mm256_cmp_ps(t, limit, _CMP_GT_OQ);
        /* Clamped with t as the second operand: max and min return their second operand when
           either is NaN, so a NaN goes through, as IEEE arithmetic says it must. */
        t = _mm256_min_ps(limit, _mm256_max_ps(_mm256_sub_ps(_mm256_setzero_ps(), limit), t));
        __m256 n = _mm256_round_ps(_mm256_mul_ps(t, log2e), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256 r = _mm256_fnmadd_ps(n, ln2High, t);
        r = _mm256_fnmadd_ps(n, ln2Low, r);
        __m256 p = _mm256_fmadd_ps(p0, r, p1);
        p = _mm256_fmadd_ps(p, r, p2);
        p = _mm256_fmadd_ps(p, r, p3);
        p = _mm256_fmadd_ps(p, r, p4);
        p = _mm256_fmadd_ps(p, r, p5);
        p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, one));
        __m256i exponent = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
        __m256 e = _mm256_mul_ps(p, _mm256_castsi256_ps(exponent));
        _mm256_storeu_ps(y + i, _mm256_andnot_ps(underflows, _mm256_div_ps(one, _mm256_add_ps(one, e))));
    }
    for (; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}
#endif

void nabla_sigmoid_f32(const float *x, float *y, long count) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() >= NABLA_ISA_AVX2) { sigmoidAVX2(x, y, count); return; }
#endif
    for (long i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

/* Dropout's masks (the draw is dropout.h's, shared with the fused attention). */
void nabla_dropout_mask_f32(float *mask, long count, const nabla_dropout *dropout) {
    const float scale = (float)dropout->scale;
    for (long i = 0; i < count; i++) mask[i] = nablaDropoutKeeps(dropout, (uint64_t)i) ? scale : 0;
}

void nabla_dropout_mask_f64(double *mask, long count, const nabla_dropout *dropout) {
    for (long i = 0; i < count; i++) mask[i] = nablaDropoutKeeps(dropout, (uint64_t)i) ? dropout->scale : 0;
}
