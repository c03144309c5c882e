/* Fused self-attention (attention_template.h), in single and double precision. */
#include "CNablaKernels.h"

#include <math.h>
#include <stdlib.h>

#include "dropout.h"
#include "scratch.h"

/* Below this many multiply-adds in all (every head's four or six products) the heads run on the
 * calling thread: the book-sized attentions of the tests would spend more waking the pool. */
#define ATTENTION_PARALLEL_MIN_MACS (1000L * 1000)

/* Double's softmax rows, as Nabla's Swift softmax computes them (float's are softmax.c's), keeping
 * each row's maximum and sum at `kept`. */
static void softmaxRowsDouble(const double *x, double *y, long rows, long columns, double scale, long causal,
                              double *kept) {
    for (long r = 0; r < rows; r++) {
        const double *in = x + r * columns;
        double *out = y + r * columns;
        long seen = causal ? r % causal + 1 : columns;
        double largest = -INFINITY, total = 0;
        for (long j = 0; j < seen; j++) {
            /* A NaN is the maximum: it makes every x − max NaN, and the row NaN. */
            if (!(in[j] * scale <= largest)) largest = in[j] * scale;
            if (isnan(largest)) break;
        }
        for (long j = 0; j < seen; j++) {
            out[j] = exp(in[j] * scale - largest);
            total += out[j];
        }
        for (long j = 0; j < seen; j++) out[j] /= total;
        for (long j = seen; j < columns; j++) out[j] = 0;
        kept[2 * r] = largest;
        kept[2 * r + 1] = total;
    }
}

/* The same weights again from what softmaxRowsDouble kept. */
static void softmaxRowsAgainDouble(const double *x, double *y, long rows, long columns, double scale, long causal,
                                   const double *kept) {
    for (long r = 0; r < rows; r++) {
        const double *in = x + r * columns;
        double *out = y + r * columns;
        long seen = causal ? r % causal + 1 : columns;
        for (long j = 0; j < seen; j++) out[j] = exp(in[j] * scale - kept[2 * r]) / kept[2 * r + 1];
        for (long j = seen; j < columns; j++) out[j] = 0;
    }
}

/* Double's softmax gradient along rows, in place (float's is softmax.c's). */
static void softmaxGradientRowsDouble(const double *y, double *g, long rows, long columns, long causal) {
    for (long r = 0; r < rows; r++) {
        const double *weights = y + r * columns;
        double *gradient = g + r * columns;
        long seen = causal ? r % causal + 1 : columns;
        double total = 0;
        for (long j = 0; j < seen; j++) total += weights[j] * gradient[j];
        for (long j = 0; j < seen; j++) gradient[j] = weights[j] * (gradient[j] - total);
        for (long j = seen; j < columns; j++) gradient[j] = 0;
    }
}

#define T float
#define NAME(x) x##_f32
#define GEMM nabla_sgemm_strided
#define SOFTMAX_ROWS nabla_softmax_rows_keeping_f32
#define SOFTMAX_ROWS_AGAIN nabla_softmax_rows_again_f32
#define SOFTMAX_GRADIENT_ROWS nabla_softmax_gradient_rows_f32
#include "attention_template.h"

#define T double
#define NAME(x) x##_f64
#define GEMM nabla_dgemm_strided
#define SOFTMAX_ROWS softmaxRowsDouble
#define SOFTMAX_ROWS_AGAIN softmaxRowsAgainDouble
#define SOFTMAX_GRADIENT_ROWS softmaxGradientRowsDouble
#include "attention_template.h"
