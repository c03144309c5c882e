/* Softmax along the rows of a float matrix, e^(x − max) / Σ e^(x − max), in three vectorised
 * passes over each row (the maximum, the exponentials and their sum, the scaling) where the
 * composite form makes six over the whole tensor. The exponents are never positive, so
 * vector_exp.h's e^t serves. A NaN in a row, or a row of −∞ (a query that may see no key), gives
 * a row of NaN, as the composite form and PyTorch do; sums are reassociated into vector lanes, so
 * the last bit may differ between instruction-set paths. */
#include "CNablaKernels.h"

#include <math.h>

#include "kernel_paths.h"
#include "vector_exp.h"

/* Rows are short (attention's: a causal query's row holds as many scores as its position), so
 * their loops run a vector at a time with the ragged end masked, not unrolled to several vectors
 * with a scalar tail that would take most of a short row. */
#define SHORT_ROW _Pragma("clang loop vectorize(enable) vectorize_predicate(enable) interleave_count(1)")

/* Row r of a causal softmax is query position r mod `causal` of a [causal × causal] block of
 * scores: it sees columns 0…r mod causal, and the rest are 0. With `causal` 0 every column counts.
 * Each row r of `rows` × `columns`: `in` and `out` are its rows of INPUT and OUTPUT, `seen` the
 * columns it sees; after the body the rest of `out` is set to 0. */
#define FOR_EACH_ROW(INPUT, OUTPUT, ...)                                                       \
    for (long r = 0; r < rows; r++) {                                                          \
        _Pragma("clang fp reassociate(on)")                                                    \
        const float *in = (INPUT) + r * columns;                                               \
        float *out = (OUTPUT) + r * columns;                                                   \
        const long seen = causal ? r % causal + 1 : columns;                                   \
        __VA_ARGS__                                                                            \
        for (long j = seen; j < columns; j++) out[j] = 0;                                      \
    }

/* `scale` multiplies the scores first (attention's 1/√d), folded in rather than a pass of its own.
 * With `kept`, each row's maximum and the reciprocal of its sum are kept there, two a row. */
#define SOFTMAX_ROWS FOR_EACH_ROW(x, y,                                                        \
        float largest = -INFINITY, total = 0;                                                  \
        SHORT_ROW for (long j = 0; j < seen; j++) largest = fmaxf(largest, in[j] * scale);     \
        SHORT_ROW for (long j = 0; j < seen; j++) {                                            \
            out[j] = expOfSum(in[j] * scale - largest, 0.0f);                                  \
            total += out[j];                                                                   \
        }                                                                                      \
        const float inverse = 1.0f / total;                                                    \
        SHORT_ROW for (long j = 0; j < seen; j++) out[j] *= inverse;                           \
        if (kept) { kept[2 * r] = largest; kept[2 * r + 1] = inverse; })
LOOP_KERNEL(nabla_softmax_rows_keeping_f32,
            (const float *restrict x, float *restrict y, long rows, long columns, float scale, long causal,
             float *restrict kept),
            (x, y, rows, columns, scale, causal, kept), SOFTMAX_ROWS)

void nabla_softmax_rows_f32(const float *x, float *y, long rows, long columns, float scale, long causal) {
    nabla_softmax_rows_keeping_f32(x, y, rows, columns, scale, causal, NULL);
}

/* The same weights from what the softmax kept, in one pass: the same operations on each element,
 * so the same bits. */
#define SOFTMAX_ROWS_AGAIN FOR_EACH_ROW(x, y,                                                  \
        const float largest = kept[2 * r], inverse = kept[2 * r + 1];                          \
        SHORT_ROW for (long j = 0; j < seen; j++) out[j] = expOfSum(in[j] * scale - largest, 0.0f) * inverse;)
LOOP_KERNEL(nabla_softmax_rows_again_f32,
            (const float *restrict x, float *restrict y, long rows, long columns, float scale, long causal,
             const float *restrict kept),
            (x, y, rows, columns, scale, causal, kept), SOFTMAX_ROWS_AGAIN)

/* The softmax's vector–Jacobian product along each row, in place: g ← y ⊙ (g − Σ y ⊙ g), from the
 * weights y (`in`) and the weights' gradient g (`out`); a causal row's unseen columns get 0. */
#define SOFTMAX_GRADIENT_ROWS FOR_EACH_ROW(y, g,                                               \
        float total = 0;                                                                       \
        SHORT_ROW for (long j = 0; j < seen; j++) total += in[j] * out[j];                     \
        SHORT_ROW for (long j = 0; j < seen; j++) out[j] = in[j] * (out[j] - total);)
LOOP_KERNEL(nabla_softmax_gradient_rows_f32,
            (const float *restrict y, float *restrict g, long rows, long columns, long causal),
            (y, g, rows, columns, causal), SOFTMAX_GRADIENT_ROWS)
