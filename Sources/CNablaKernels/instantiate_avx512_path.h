/* Instantiates the kernel template named by TEMPLATE for float and double with 64-byte vectors,
 * compiled for AVX-512F through a per-function target attribute, as NAME_f32_avx512 and
 * NAME_f64_avx512 (x86-64 only). Each instantiation sees T, V, VU, VL, NAME(x) and ATTR, and
 * RUNS_PER_VECTOR (2) and LOAD_RUNS(first, second), a vector made of the 32 bytes at each of two
 * addresses — not the lane shuffles or masks of instantiate_paths.h, so only a template that needs
 * none of them (the products', the direct convolution's) can be instantiated here. */
#if HAVE_AVX2_PATH
typedef float v16f __attribute__((vector_size(64)));
typedef float v16fu __attribute__((vector_size(64), aligned(4)));
typedef double v8d __attribute__((vector_size(64)));
typedef double v8du __attribute__((vector_size(64), aligned(8)));
typedef float v8fh __attribute__((vector_size(32), aligned(4)));
typedef double v4dh __attribute__((vector_size(32), aligned(8)));
#define ATTR __attribute__((target("avx512f")))
#define RUNS_PER_VECTOR 2

#define T float
#define V v16f
#define VU v16fu
#define VL 16
#define NAME(x) x##_f32_avx512
#define LOAD_RUNS(first, second) \
    __builtin_shufflevector(*(const v8fh *)(first), *(const v8fh *)(second), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
#include "instantiate_avx512_type.h"

#define T double
#define V v8d
#define VU v8du
#define VL 8
#define NAME(x) x##_f64_avx512
#define LOAD_RUNS(first, second) __builtin_shufflevector(*(const v4dh *)(first), *(const v4dh *)(second), 0, 1, 2, 3, 4, 5, 6, 7)
#include "instantiate_avx512_type.h"

#undef ATTR
#undef RUNS_PER_VECTOR
#endif
