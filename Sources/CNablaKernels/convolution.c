/* Direct convolution: a convolution's forward product and weight gradient read straight from the image. */
#include "CNablaKernels.h"

/* Rows in a tile, as in the products. */
#define MR 6

#define TEMPLATE "convolution_template.h"
#include "instantiate_paths.h"
#include "instantiate_avx512_path.h"
#undef TEMPLATE

DISPATCH_BY_ISA_WITH_AVX512(nabla_convolve_f32, convolve_f32,
                (const nabla_window *w, long outChannels, const float *weight, const float *image, const float *bias,
                 float *y),
                (w, outChannels, weight, image, bias, y))
DISPATCH_BY_ISA_WITH_AVX512(nabla_convolve_f64, convolve_f64,
                (const nabla_window *w, long outChannels, const double *weight, const double *image, const double *bias,
                 double *y),
                (w, outChannels, weight, image, bias, y))
DISPATCH_BY_ISA_WITH_AVX512(nabla_convolution_weight_gradient_f32, convolutionWeightGradient_f32,
                (const nabla_window *w, long outChannels, const float *image, const float *g, float *packed, float *wT,
                 int accumulate),
                (w, outChannels, image, g, packed, wT, accumulate))
DISPATCH_BY_ISA_WITH_AVX512(nabla_convolution_weight_gradient_f64, convolutionWeightGradient_f64,
                (const nabla_window *w, long outChannels, const double *image, const double *g, double *packed,
                 double *wT, int accumulate),
                (w, outChannels, image, g, packed, wT, accumulate))
