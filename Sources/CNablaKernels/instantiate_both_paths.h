/* Part of instantiate_paths.h: includes TEMPLATE for the scalar type defined, compiled portably
 * and, where there is one, for AVX2+FMA, then undefines that type's macros. */
#define ATTR
#define NAME(x) NABLA_NAME(x, SUFFIX, portable)
#include TEMPLATE
#undef ATTR
#undef NAME
#if HAVE_AVX2_PATH
#define ATTR __attribute__((target("avx2,fma")))
#define NAME(x) NABLA_NAME(x, SUFFIX, avx2)
#include TEMPLATE
#undef ATTR
#undef NAME
#endif
#undef T
#undef SUFFIX
#undef BITS
#undef V
#undef VU
#undef VI
#undef VL
#undef EVEN_LANES
#undef ODD_LANES
#undef LOW_INTERLEAVED
#undef HIGH_INTERLEAVED
