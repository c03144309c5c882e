/* Instantiates the kernel template named by TEMPLATE four times: for float and double, each
 * compiled for the baseline instruction set and, on x86-64, with AVX2+FMA through a per-function
 * target attribute (kernel_paths.h dispatches between them at run time).
 *
 * Each instantiation sees: T (the scalar), BITS (an unsigned integer of its size), V and VU (a
 * 32-byte vector of VL scalars, aligned and not), RUNS_PER_VECTOR (1) and LOAD_RUNS(first, second)
 * (the vector at `first`), VI (VL BITS, for masks), EVEN_LANES and
 * ODD_LANES (the even and odd lanes of two vectors, as one), LOW_INTERLEAVED and
 * HIGH_INTERLEAVED (two vectors' lanes alternated: the first and second halves of the result),
 * NAME(x) (x suffixed _f32_portable, _f32_avx2, _f64_portable or _f64_avx2) and ATTR (the
 * functions' attributes). The vector types are plain vector extensions, which the compiler
 * lowers to SSE2 on baseline x86-64, to AVX2 under the attribute, and to NEON on arm64. */
#include <stdint.h>

#include "kernel_paths.h"

#ifndef NABLA_VECTOR_TYPES
#define NABLA_VECTOR_TYPES
typedef float v8f __attribute__((vector_size(32)));
typedef float v8fu __attribute__((vector_size(32), aligned(4)));
typedef uint32_t v8i __attribute__((vector_size(32)));
typedef double v4d __attribute__((vector_size(32)));
typedef double v4du __attribute__((vector_size(32), aligned(8)));
typedef uint64_t v4i __attribute__((vector_size(32)));
#endif

/* A vector is one run of 32 bytes (instantiate_avx512_path.h's are two). */
#define RUNS_PER_VECTOR 1
#define LOAD_RUNS(first, second) (*(const VU *)(first))

/* NAME(x): x_SUFFIX_PATH, the arguments expanded before they are pasted. */
#define NABLA_PASTE(x, suffix, path) x##_##suffix##_##path
#define NABLA_NAME(x, suffix, path) NABLA_PASTE(x, suffix, path)

#define T float
#define SUFFIX f32
#define BITS uint32_t
#define V v8f
#define VU v8fu
#define VI v8i
#define VL 8
#define EVEN_LANES(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14)
#define ODD_LANES(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7, 9, 11, 13, 15)
#define LOW_INTERLEAVED(a, b) __builtin_shufflevector(a, b, 0, 8, 1, 9, 2, 10, 3, 11)
#define HIGH_INTERLEAVED(a, b) __builtin_shufflevector(a, b, 4, 12, 5, 13, 6, 14, 7, 15)
#include "instantiate_both_paths.h"

#define T double
#define SUFFIX f64
#define BITS uint64_t
#define V v4d
#define VU v4du
#define VI v4i
#define VL 4
#define EVEN_LANES(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#define ODD_LANES(a, b) __builtin_shufflevector(a, b, 1, 3, 5, 7)
#define LOW_INTERLEAVED(a, b) __builtin_shufflevector(a, b, 0, 4, 1, 5)
#define HIGH_INTERLEAVED(a, b) __builtin_shufflevector(a, b, 2, 6, 3, 7)
#include "instantiate_both_paths.h"

#undef NABLA_PASTE
#undef NABLA_NAME
#undef RUNS_PER_VECTOR
#undef LOAD_RUNS
