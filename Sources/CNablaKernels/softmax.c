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

#define SOFTMAX_ROWS                                                                           \
    for (long r = 0; r < rows; r++) {                                                          \
        _Pragma("clang fp reassociate(on)")                                                    \
        const float *in = x + r * columns;                                                     \
        float *out = y + r * columns;                                                          \
        float largest = -INFINITY, total = 0;                                                  \
        for (long j = 0; j < columns; j++) largest = fmaxf(largest, in[j]);                    \
        for (long j = 0; j < columns; j++) {                                                   \
            out[j] = expOfSum(in[j] - largest, 0.0f);                                          \
            total += out[j];                                                                   \
        }                                                                                      \
        const float scale = 1.0f / total;                                                      \
        for (long j = 0; j < columns; j++) out[j] *= scale;                                    \
    }
LOOP_KERNEL(nabla_softmax_rows_f32, (const float *restrict x, float *restrict y, long rows, long columns),
            (x, y, rows, columns), SOFTMAX_ROWS)
