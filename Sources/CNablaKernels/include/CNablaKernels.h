#ifndef CNABLA_KERNELS_H
#define CNABLA_KERNELS_H

#include <stddef.h>
#include "parallel.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Row-major matrix product C = alpha·op(A)·op(B), or C += alpha·op(A)·op(B) when `accumulate`
/// is non-zero.
///
/// op(A) is M×K: A is stored M×K, or K×M when `transposeA` is non-zero (read transposed in
/// place, never materialised). op(B) is K×N: B is stored K×N, or N×K when `transposeB` is set.
/// C is M×N and must not alias A or B. With alpha = 1 no rounding is added: the scaling is exact.
/// Split over threads or not, every element is computed by the same operations, so the result
/// does not depend on the number of threads.
void nabla_sgemm(int transposeA, int transposeB, long M, long N, long K, float alpha,
                 const float *A, const float *B, float *C, int accumulate);

/// Double-precision twin of `nabla_sgemm`.
void nabla_dgemm(int transposeA, int transposeB, long M, long N, long K, double alpha,
                 const double *A, const double *B, double *C, int accumulate);

/// `nabla_sgemm` on matrices inside larger ones: A's, B's and C's stored rows are `lda`, `ldb`
/// and `ldc` elements apart (at least as long as their stored rows). The same operations as on
/// the matrices copied out, so the same bits.
void nabla_sgemm_strided(int transposeA, int transposeB, long M, long N, long K, float alpha,
                         const float *A, long lda, const float *B, long ldb, float *C, long ldc, int accumulate);

/// Double-precision twin of `nabla_sgemm_strided`.
void nabla_dgemm_strided(int transposeA, int transposeB, long M, long N, long K, double alpha,
                         const double *A, long lda, const double *B, long ldb, double *C, long ldc, int accumulate);

/// The blocks large products are computed in, and the caches they were sized from: the depth
/// slice (columns of op(A), rows of op(B)), the rows of a block of A in single precision, and
/// the first-level data and second-level cache sizes in bytes, as the processor reports them.
void nabla_gemm_blocking(long *depthSlice, long *floatBlockRows, long *l1Bytes, long *l2Bytes);

/// Whether products called on this thread may run in cache-sized blocks (non-zero, the default)
/// or must not (zero). Blocks change only the speed, never a bit of the result; tests turn them
/// off to check that.
void nabla_allow_gemm_blocking(int allowed);

/// Row r of dst (`rowLength` values) = row rows[r] of the byte matrix at `base` · scale, for
/// `rowCount` rows: a batch of images gathered to floating point.
void nabla_gather_bytes_to_float(const unsigned char *base, const long *rows, long rowCount, long rowLength,
                                 float scale, float *dst);

/// Double-precision twin of `nabla_gather_bytes_to_float`.
void nabla_gather_bytes_to_double(const unsigned char *base, const long *rows, long rowCount, long rowLength,
                                  double scale, double *dst);

/// w[i] -= rate · (g[i] + decay · w[i]) for `count` elements: plain SGD's step.
void nabla_sgd_step_f32(float *w, const float *g, long count, float rate, float decay);

/// Double-precision twin of `nabla_sgd_step_f32`.
void nabla_sgd_step_f64(double *w, const double *g, long count, double rate, double decay);

/// SGD with momentum over `count` elements, in place on w and the velocity v: d = g + decay·w;
/// v = d if `first`, else momentum·v + keep·d; w −= rate·(d + momentum·v) if `nesterov`, else rate·v.
/// Subnormal numbers are flushed to zero (on x86 by the processor's modes, inputs and every result;
/// elsewhere the stored velocity). The arrays must not overlap.
void nabla_momentum_step_f32(float *w, float *v, const float *g, long count, float rate, float momentum,
                             float keep, float decay, int nesterov, int first);

/// Double-precision twin of `nabla_momentum_step_f32`.
void nabla_momentum_step_f64(double *w, double *v, const double *g, long count, double rate, double momentum,
                             double keep, double decay, int nesterov, int first);

/// Adam over `count` elements, in place on w and the moments m and v: d = g + decay·w;
/// m = β1·m + (1 − β1)·d; v = β2·v + (1 − β2)·d²; w −= stepSize·m / (√v·inverseRoot2 + ε), where
/// stepSize = η/(1 − β1ᵗ) and inverseRoot2 = 1/√(1 − β2ᵗ). Subnormal numbers are flushed to zero as
/// in `nabla_momentum_step_f32`. The arrays must not overlap.
void nabla_adam_step_f32(float *w, float *m, float *v, const float *g, long count, float stepSize, float beta1,
                         float beta2, float inverseRoot2, float epsilon, float decay);

/// Double-precision twin of `nabla_adam_step_f32`.
void nabla_adam_step_f64(double *w, double *m, double *v, const double *g, long count, double stepSize,
                         double beta1, double beta2, double inverseRoot2, double epsilon, double decay);

/// The ReLU's vector–Jacobian product from its output: dx = g where y > 0, NaN where y is NaN,
/// 0 elsewhere.
void nabla_relu_gradient_f32(const float *y, const float *g, float *dx, long count);

/// Double-precision twin of `nabla_relu_gradient_f32`.
void nabla_relu_gradient_f64(const double *y, const double *g, double *dx, long count);

/// y[i] = √x[i] for `count` floats, correctly rounded (NaN for x < 0, −0 for −0), vectorised.
void nabla_sqrt_f32(const float *x, float *y, long count);

/// Double-precision twin of `nabla_sqrt_f32`.
void nabla_sqrt_f64(const double *x, double *y, long count);

/// y[i] = 1 / (1 + e^−x[i]) for `count` floats: the logistic function, vectorised.
void nabla_sigmoid_f32(const float *x, float *y, long count);

/// GELU, y = x·Φ(x), over floats (gelu.c: within 6e-7 relative of the exact value, far into its tail too).
void nabla_gelu_f32(const float *x, float *y, long count);
/// GELU's vector–Jacobian product, dx = g·(Φ(x) + x·φ(x)), over floats.
void nabla_gelu_gradient_f32(const float *x, const float *g, float *dx, long count);

/// Softmax along each of `rows` rows of `columns` floats of `scale`·x (softmax.c):
/// y = e^(s − max) / Σ e^(s − max); with `causal` > 0, row r sees only columns 0…r mod causal.
void nabla_softmax_rows_f32(const float *x, float *y, long rows, long columns, float scale, long causal);

/// `nabla_softmax_rows_f32`, keeping each row's maximum and the reciprocal of its sum in `kept`
/// (two floats a row), from which `nabla_softmax_rows_again_f32` recomputes the same weights.
void nabla_softmax_rows_keeping_f32(const float *x, float *y, long rows, long columns, float scale, long causal,
                                    float *kept);

/// The weights `nabla_softmax_rows_keeping_f32` computed from the same x, to the bit, in one pass
/// over each row, from what it kept.
void nabla_softmax_rows_again_f32(const float *x, float *y, long rows, long columns, float scale, long causal,
                                  const float *kept);

/// The softmax's vector–Jacobian product along rows, in place: g ← y ⊙ (g − Σ y ⊙ g), from the
/// weights y and their gradient g (`rows` rows of `columns`); with `causal` > 0, row r's columns
/// past r mod causal get 0.
void nabla_softmax_gradient_rows_f32(const float *y, float *g, long rows, long columns, long causal);

/// A dropout mask's draw: element e is kept, as `scale`, when the top 32 bits of SplitMix64(key + e)
/// fall below `threshold` (keep · 2³²), and dropped, as 0, otherwise. Nabla's `DropoutMask` derives
/// the key from the layer's seed and the number of masks it has drawn.
typedef struct {
    unsigned long long key, threshold;
    double scale;
} nabla_dropout;

/// The first `count` elements of the mask `dropout` draws, as floats.
void nabla_dropout_mask_f32(float *mask, long count, const nabla_dropout *dropout);

/// Double-precision twin of `nabla_dropout_mask_f32`.
void nabla_dropout_mask_f64(double *mask, long count, const nabla_dropout *dropout);

/// Self-attention of every head of every sequence at once (attention.c), from one projection's
/// queries, keys and values `qkv`, [batch, time, 3, heads, size] (nanoGPT's `c_attn` output
/// viewed so): y[b, t, h, :] = Σ_s softmax_s(scale · q[b, t, h]·k[b, s, h]) · v[b, s, h], with
/// `causal` non-zero each position seeing only positions s ≤ t. y is [batch, time, heads, size].
/// The scores and weights of a head live in per-thread scratch, never all at once; `kept`
/// receives two numbers a query, [batch, heads, time, 2], from which the gradient recomputes the
/// weights. With `dropout` (or NULL), the weights are multiplied by its mask, numbered as the
/// [batch, heads, time, time] weights would be. A query whose scores hold a NaN gets NaN, as in
/// PyTorch.
void nabla_attention_f32(const float *qkv, float *y, float *kept, long batch, long time, long heads, long size,
                         float scale, int causal, const nabla_dropout *dropout);

/// The vector–Jacobian product of `nabla_attention_f32`: the gradient of qkv (same layout) from
/// dy, the gradient of y, what the forward pass kept, and the same dropout.
void nabla_attention_gradient_f32(const float *qkv, const float *kept, const float *dy, float *dqkv, long batch,
                                  long time, long heads, long size, float scale, int causal,
                                  const nabla_dropout *dropout);

/// Double-precision twin of `nabla_attention_f32`.
void nabla_attention_f64(const double *qkv, double *y, double *kept, long batch, long time, long heads, long size,
                         double scale, int causal, const nabla_dropout *dropout);

/// Double-precision twin of `nabla_attention_gradient_f32`.
void nabla_attention_gradient_f64(const double *qkv, const double *kept, const double *dy, double *dqkv, long batch,
                                  long time, long heads, long size, double scale, int causal,
                                  const nabla_dropout *dropout);

/// A window sliding over NCHW images — a convolution's kernel or a pooling window — as Nabla's
/// `SlidingWindow` describes it: output row oy, column ox and kernel tap (ky, kx) read input row
/// oy·stride − padding + ky and column ox·stride − padding + kx, zero outside the image.
typedef struct {
    long channels, height, width;
    long kernelHeight, kernelWidth, stride, padding;
    long outputHeight, outputWidth;
} nabla_window;

/// The output columns [*low, *high) whose input column ox·stride − padding + kx lies inside the
/// image.
void nabla_window_valid_columns(const nabla_window *window, long kx, long *low, long *high);

/// One image's patch matrix, written to `columns` (channels·kernelHeight·kernelWidth rows of
/// outputHeight·outputWidth): row (c, ky, kx) holds, for every output position, the input
/// element that kernel tap meets, zero in the padding ("im2col").
void nabla_gather_patches_f32(const nabla_window *window, const float *image, float *columns);

/// Double-precision twin of `nabla_gather_patches_f32`.
void nabla_gather_patches_f64(const nabla_window *window, const double *image, double *columns);

/// The reverse of `nabla_gather_patches_f32` for the whole patch matrix: adds each element of
/// `columns` onto the image element it came from; padding positions are dropped ("col2im").
void nabla_scatter_patches_f32(const nabla_window *window, const float *columns, float *image);

/// Double-precision twin of `nabla_scatter_patches_f32`.
void nabla_scatter_patches_f64(const nabla_window *window, const double *columns, double *image);

/// One image's convolution computed straight from the image, with no patch matrix: y
/// ([outChannels, outputHeight·outputWidth]) = weight ([outChannels, channels·kh·kw]) · the
/// image's patch matrix, plus `bias[o]` on output channel o's plane unless `bias` is NULL. For
/// stride 1, no padding, and an output width that is a multiple of 8; the same bits as the patch
/// matrix times the weight with `nabla_sgemm`, accumulated onto planes filled with the bias.
void nabla_convolve_f32(const nabla_window *window, long outChannels, const float *weight, const float *image,
                        const float *bias, float *y);

/// Double-precision twin of `nabla_convolve_f32`.
void nabla_convolve_f64(const nabla_window *window, long outChannels, const double *weight, const double *image,
                        const double *bias, double *y);

/// One image's weight gradient, transposed, computed straight from the image: `wT`
/// ([channels·kernelHeight·kernelWidth, outChannels]) = P·gᵀ, or `wT` += that when `accumulate`,
/// where P is the image's patch matrix and `g` ([outChannels, outputHeight·outputWidth]) the
/// gradient of the image's output. Any stride; no padding (pad the image first). `packed` is
/// scratch for ⌈outChannels / 32⌉·32·outputHeight·outputWidth floats.
void nabla_convolution_weight_gradient_f32(const nabla_window *window, long outChannels, const float *image,
                                           const float *g, float *packed, float *wT, int accumulate);

/// Double-precision twin of `nabla_convolution_weight_gradient_f32` (`packed`: ⌈outChannels / 16⌉·16·outputHeight·outputWidth).
void nabla_convolution_weight_gradient_f64(const nabla_window *window, long outChannels, const double *image,
                                           const double *g, double *packed, double *wT, int accumulate);

/// Max pooling of `planes` consecutive image planes (the window's padding must be 0): each output
/// the largest element of its window, or NaN if the window holds one.
void nabla_max_pool_f32(const nabla_window *window, long planes, const float *x, float *y);

/// Double-precision twin of `nabla_max_pool_f32`.
void nabla_max_pool_f64(const nabla_window *window, long planes, const double *x, double *y);

/// Max pooling's gradient: dx (written whole) is zero except that each output's gradient g is
/// added onto the first element of its window equal to the output y (the first NaN, if y is NaN).
void nabla_max_pool_gradient_f32(const nabla_window *window, long planes, const float *x, const float *y,
                                 const float *g, float *dx);

/// Double-precision twin of `nabla_max_pool_gradient_f32`.
void nabla_max_pool_gradient_f64(const nabla_window *window, long planes, const double *x, const double *y,
                                 const double *g, double *dx);

/// Products of at least this many multiply-adds are split across the cores (default 4,000,000;
/// 0 restores it), and products of 256 rows or more from a
/// sixteenth of it. The number of threads is the number of online cores, at most 8, or
/// NABLA_THREADS. For tests and benchmarks.
void nabla_set_parallel_threshold(long multiplyAdds);

/// Sets how many threads large products may use (1 to 8; 0 restores the default). For benchmarks.
void nabla_set_threads(long count);

/// The kernels' instruction sets, from the most portable.
#define NABLA_ISA_PORTABLE 0
/// AVX2 with fused multiply-adds: every kernel has a path for it.
#define NABLA_ISA_AVX2 1
/// AVX-512F: the products, the direct convolution and the plain loops run 16 floats wide, with
/// the AVX2 path's results to the bit; the sliding-window kernels and the sigmoid keep AVX2's.
#define NABLA_ISA_AVX512 2

/// The instruction set the calling thread's kernels run on (a NABLA_ISA_* level): the best the
/// processor has, at most NABLA_KERNELS (`portable` or `avx2`) and the thread's limit.
int nabla_kernel_isa(void);

/// Limits the calling thread's kernels to instruction set `isa` (a NABLA_ISA_* level; negative
/// lifts the limit). Work a call hands to the worker pool follows the caller's choice only where
/// the caller picks the kernel (products do). For tests and benchmarks.
void nabla_limit_kernels(int isa);

/// The calling thread's context pointer number `slot` (0 to 3; initially NULL). Nabla keeps
/// there what every op or layer the thread runs, however deep, must see: the program the thread
/// is recording, the values standing in for parameters being differentiated, the layers' mode.
void *nabla_thread_context(int slot);

/// Sets the calling thread's context pointer number `slot`.
void nabla_set_thread_context(int slot, void *context);

#ifdef __cplusplus
}
#endif

#endif
