/* Part of instantiate_avx512_path.h: includes TEMPLATE for the scalar type defined, then
 * undefines that type's macros. */
#include TEMPLATE
#undef T
#undef V
#undef VU
#undef VL
#undef NAME
#undef LOAD_RUNS
