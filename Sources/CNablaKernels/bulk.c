/* Bulk element loops that would otherwise dominate a training step, or a debug build, in Swift. */
#include "CNablaKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
#endif

/* Byte-to-float conversion: a plain loop that the compiler vectorises, compiled once more for
 * AVX2 (8 bytes widened and converted per instruction) and picked like the products. */
#define CONVERT(NAME, T, ATTRIBUTES)                                                           \
    ATTRIBUTES static void NAME(const unsigned char *src, T *dst, long count, T scale) {       \
        for (long i = 0; i < count; i++) dst[i] = (T)src[i] * scale;                          \
    }
CONVERT(bytesToFloatPortable, float, )
CONVERT(bytesToDoublePortable, double, )
#if HAVE_AVX2_PATH
CONVERT(bytesToFloatAVX2, float, __attribute__((target("avx2,fma"))))
CONVERT(bytesToDoubleAVX2, double, __attribute__((target("avx2,fma"))))
#endif

static void convertFloats(const unsigned char *src, float *dst, long count, float scale) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) { bytesToFloatAVX2(src, dst, count, scale); return; }
#endif
    bytesToFloatPortable(src, dst, count, scale);
}

/* A large conversion (a big mini-batch, an evaluation set) is split over the worker pool. */
struct Conversion { const unsigned char *src; float *dst; long count, shares; float scale; };

static void convertShare(void *context, long share) {
    struct Conversion *job = context;
    long begin = job->count * share / job->shares, end = job->count * (share + 1) / job->shares;
    convertFloats(job->src + begin, job->dst + begin, end - begin, job->scale);
}

void nabla_bytes_to_float(const unsigned char *src, float *dst, long count, float scale) {
    long threads = nabla_thread_count();
    if (threads < 2 || count < 256 * 1024) {
        convertFloats(src, dst, count, scale);
        return;
    }
    struct Conversion job = { src, dst, count, threads, scale };
    nabla_parallel_for(threads, convertShare, &job);
}

void nabla_bytes_to_double(const unsigned char *src, double *dst, long count, double scale) {
#if HAVE_AVX2_PATH
    if (nabla_kernel_isa() == 1) { bytesToDoubleAVX2(src, dst, count, scale); return; }
#endif
    bytesToDoublePortable(src, dst, count, scale);
}

/* Plain SGD's update, in C so that it is vectorised and stays fast in debug builds, where a
 * Swift element loop over every weight would dominate a training step. */
void nabla_sgd_step_f32(float *w, const float *g, long count, float rate, float decay) {
    for (long i = 0; i < count; i++) w[i] -= rate * (g[i] + decay * w[i]);
}

void nabla_sgd_step_f64(double *w, const double *g, long count, double rate, double decay) {
    for (long i = 0; i < count; i++) w[i] -= rate * (g[i] + decay * w[i]);
}
