/* Kernels for windows sliding over NCHW images: convolution's patches, max pooling. */
#include "CNablaKernels.h"

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

#define TEMPLATE "sliding_window_template.h"
#include "instantiate_paths.h"
#undef TEMPLATE

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
