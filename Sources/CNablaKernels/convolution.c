/* Direct convolution: a convolution's forward product read straight from the image. */
#include "CNablaKernels.h"

#include "kernel_paths.h"

typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));

/* Rows in a tile, as in the products. */
#define MR 6

#define ATTR
#define T float
#define V v8f
#define VU v8fu
#define VL 8
#define NAME(x) x##_f32_portable
#include "convolution_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#define T double
#define V v4d
#define VU v4du
#define VL 4
#define NAME(x) x##_f64_portable
#include "convolution_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#undef ATTR

#if HAVE_AVX2_PATH
#define ATTR __attribute__((target("avx2,fma")))
#define T float
#define V v8f
#define VU v8fu
#define VL 8
#define NAME(x) x##_f32_avx2
#include "convolution_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#define T double
#define V v4d
#define VU v4du
#define VL 4
#define NAME(x) x##_f64_avx2
#include "convolution_template.h"
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#undef ATTR
#endif

DISPATCH_BY_ISA(nabla_convolve_f32, convolve_f32,
                (const nabla_window *w, long outChannels, const float *weight, const float *image, float *y, int accumulate),
                (w, outChannels, weight, image, y, accumulate))
DISPATCH_BY_ISA(nabla_convolve_f64, convolve_f64,
                (const nabla_window *w, long outChannels, const double *weight, const double *image, double *y, int accumulate),
                (w, outChannels, weight, image, y, accumulate))
