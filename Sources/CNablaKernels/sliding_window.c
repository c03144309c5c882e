/* Kernels for windows sliding over NCHW images: convolution's patches, max pooling. */
#include "CNablaKernels.h"

#include "kernel_paths.h"

void nabla_window_valid_columns(const nabla_window *w, long kx, long *low, long *high) {
    /* ix = ox·s − p + kx ≥ 0  ⇔  ox ≥ ⌈(p − kx)/s⌉;   ix < width  ⇔  ox ≤ ⌊(width − 1 + p − kx)/s⌋.
     * Both numerators may be negative; C's division truncates toward zero, so floor by hand. */
    long s = w->stride, a = w->padding - kx, b = w->width - 1 + w->padding - kx;
    long ceilA = a > 0 ? (a + s - 1) / s : -((-a) / s);
    long floorB = b >= 0 ? b / s : -((-b + s - 1) / s);
    long lo = ceilA > 0 ? ceilA : 0, hi = floorB + 1 < w->outputWidth ? floorB + 1 : w->outputWidth;
    *low = lo;
    *high = hi > lo ? hi : lo;
}

#include <stdint.h>

typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef uint32_t v8i __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));
typedef uint64_t v4i __attribute__((vector_size(32)));

#define EVEN8(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD8(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define LOW8(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define HIGH8(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#define EVEN4(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define ODD4(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#define LOW4(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define HIGH4(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)

#define ATTR
#define T float
#define BITS uint32_t
#define VF v8f
#define VI v8i
#define VU v8fu
#define VL 8
#define EVEN_LANES EVEN8
#define ODD_LANES ODD8
#define LOW_INTERLEAVED LOW8
#define HIGH_INTERLEAVED HIGH8
#define NAME(x) x##_f32_portable
#include "sliding_window_template.h"
#undef T
#undef BITS
#undef VF
#undef VI
#undef VU
#undef VL
#undef EVEN_LANES
#undef ODD_LANES
#undef LOW_INTERLEAVED
#undef HIGH_INTERLEAVED
#undef NAME
#define T double
#define BITS uint64_t
#define VF v4d
#define VI v4i
#define VU v4du
#define VL 4
#define EVEN_LANES EVEN4
#define ODD_LANES ODD4
#define LOW_INTERLEAVED LOW4
#define HIGH_INTERLEAVED HIGH4
#define NAME(x) x##_f64_portable
#include "sliding_window_template.h"
#undef T
#undef BITS
#undef VF
#undef VI
#undef VU
#undef VL
#undef EVEN_LANES
#undef ODD_LANES
#undef LOW_INTERLEAVED
#undef HIGH_INTERLEAVED
#undef NAME
#undef ATTR

#if HAVE_AVX2_PATH
#define ATTR __attribute__((target("avx2,fma")))
#define T float
#define BITS uint32_t
#define VF v8f
#define VI v8i
#define VU v8fu
#define VL 8
#define EVEN_LANES EVEN8
#define ODD_LANES ODD8
#define LOW_INTERLEAVED LOW8
#define HIGH_INTERLEAVED HIGH8
#define NAME(x) x##_f32_avx2
#include "sliding_window_template.h"
#undef T
#undef BITS
#undef VF
#undef VI
#undef VU
#undef VL
#undef EVEN_LANES
#undef ODD_LANES
#undef LOW_INTERLEAVED
#undef HIGH_INTERLEAVED
#undef NAME
#define T double
#define BITS uint64_t
#define VF v4d
#define VI v4i
#define VU v4du
#define VL 4
#define EVEN_LANES EVEN4
#define ODD_LANES ODD4
#define LOW_INTERLEAVED LOW4
#define HIGH_INTERLEAVED HIGH4
#define NAME(x) x##_f64_avx2
#include "sliding_window_template.h"
#undef T
#undef BITS
#undef VF
#undef VI
#undef VU
#undef VL
#undef EVEN_LANES
#undef ODD_LANES
#undef LOW_INTERLEAVED
#undef HIGH_INTERLEAVED
#undef NAME
#undef ATTR
#endif

DISPATCH_BY_ISA(nabla_gather_patches_f32, gatherPatches_f32, (const nabla_window *w, const float *image, float *columns),
                (w, image, columns))
DISPATCH_BY_ISA(nabla_gather_patches_f64, gatherPatches_f64, (const nabla_window *w, const double *image, double *columns),
                (w, image, columns))
DISPATCH_BY_ISA(nabla_scatter_patches_f32, scatterPatches_f32, (const nabla_window *w, const float *columns, float *image),
                (w, columns, image))
DISPATCH_BY_ISA(nabla_scatter_patches_f64, scatterPatches_f64, (const nabla_window *w, const double *columns, double *image),
                (w, columns, image))
DISPATCH_BY_ISA(nabla_max_pool_f32, maxPool_f32, (const nabla_window *w, long planes, const float *x, float *y),
                (w, planes, x, y))
DISPATCH_BY_ISA(nabla_max_pool_f64, maxPool_f64, (const nabla_window *w, long planes, const double *x, double *y),
                (w, planes, x, y))
DISPATCH_BY_ISA(nabla_max_pool_gradient_f32, maxPoolGradient_f32,
                (const nabla_window *w, long planes, const float *x, const float *y, const float *g, float *dx),
                (w, planes, x, y, g, dx))
DISPATCH_BY_ISA(nabla_max_pool_gradient_f64, maxPoolGradient_f64,
                (const nabla_window *w, long planes, const double *x, const double *y, const double *g, double *dx),
                (w, planes, x, y, g, dx))
