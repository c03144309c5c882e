/* How a kernel carries its instruction-set paths: its source compiled for the baseline and, with
 * target attributes, for AVX2+FMA (and AVX-512F), behind a public function that picks one at run time
 * (`nabla_kernel_isa`), like the products. No unsafeFlags: per-function attributes let one
 * binary carry them all and Nabla stay usable as a dependency. */
#ifndef NABLA_KERNEL_PATHS_H
#define NABLA_KERNEL_PATHS_H

#include "CNablaKernels.h"

#if defined(__x86_64__) || defined(__i386__)
#define HAVE_AVX2_PATH 1
#endif

/* The public entry point PUBLIC for a kernel instantiated from a template as NAME_portable and,
 * where there is one, NAME_avx2. */
#if HAVE_AVX2_PATH
#define DISPATCH_BY_ISA(PUBLIC, NAME, PARAMS, ARGS)                                             \
    void PUBLIC PARAMS {                                                                        \
        if (nabla_kernel_isa() >= NABLA_ISA_AVX2) NAME##_avx2 ARGS;                             \
        else NAME##_portable ARGS;                                                              \
    }
#else
#define DISPATCH_BY_ISA(PUBLIC, NAME, PARAMS, ARGS) void PUBLIC PARAMS { NAME##_portable ARGS; }
#endif

/* The same, for a kernel also instantiated as NAME_avx512 (instantiate_avx512_path.h). */
#if HAVE_AVX2_PATH
#define DISPATCH_BY_ISA_WITH_AVX512(PUBLIC, NAME, PARAMS, ARGS)                                 \
    void PUBLIC PARAMS {                                                                        \
        int isa = nabla_kernel_isa();                                                           \
        if (isa == NABLA_ISA_AVX512) NAME##_avx512 ARGS;                                        \
        else if (isa == NABLA_ISA_AVX2) NAME##_avx2 ARGS;                                       \
        else NAME##_portable ARGS;                                                              \
    }
#else
#define DISPATCH_BY_ISA_WITH_AVX512(PUBLIC, NAME, PARAMS, ARGS) DISPATCH_BY_ISA(PUBLIC, NAME, PARAMS, ARGS)
#endif

/* A kernel written once as a plain loop that the compiler vectorises, compiled three times: for
 * the baseline, for AVX2+FMA and for AVX-512F. PARAMS and ARGS are the parenthesised parameter and
 * argument lists; the rest is the body. The loops are elementwise, so the AVX-512 build computes
 * each element as the AVX2 one does (the same multiply-adds fused), only 16 floats at a time. */
#if HAVE_AVX2_PATH
#define LOOP_KERNEL_PATHS(NAME, PARAMS, ...)                                                    \
    __attribute__((noinline)) static void NAME##_portable PARAMS { __VA_ARGS__ }                \
    __attribute__((noinline, target("avx2,fma"))) static void NAME##_avx2 PARAMS { __VA_ARGS__ } \
    __attribute__((noinline, target("avx512f"))) static void NAME##_avx512 PARAMS { __VA_ARGS__ }
#define LOOP_KERNEL(PUBLIC, PARAMS, ARGS, ...)                                                  \
    LOOP_KERNEL_PATHS(PUBLIC, PARAMS, __VA_ARGS__)                                              \
    DISPATCH_BY_ISA_WITH_AVX512(PUBLIC, PUBLIC, PARAMS, ARGS)
#else
#define LOOP_KERNEL(PUBLIC, PARAMS, ARGS, ...) void PUBLIC PARAMS { __VA_ARGS__ }
#endif

/* A LOOP_KERNEL run with subnormal numbers flushed to zero, as inputs and as results: x86's
 * flush-to-zero and denormals-are-zero modes (what PyTorch's torch.set_flush_denormal(True)
 * sets), switched on for the call and restored after it. For the optimizers' updates: where a
 * weight's gradient stays zero, its state decays geometrically and, on its way down, products
 * such as η·m fall below the smallest normal number, each taking the processor's slow path —
 * a hundred such elements out of 23,520 nearly doubled Adam's loop (Docs/Performance.md). NaN
 * and infinities are untouched. The paths are separate functions (noinline above), so that
 * every operation of the loop runs between the two writes of the mode register. Elsewhere the
 * loop runs as it is. */
#if HAVE_AVX2_PATH
#include <pmmintrin.h>  /* _mm_getcsr, _mm_setcsr and the two modes' bits */
#define FLUSHING_LOOP_KERNEL(PUBLIC, PARAMS, ARGS, ...)                                         \
    LOOP_KERNEL_PATHS(PUBLIC, PARAMS, __VA_ARGS__)                                              \
    static DISPATCH_BY_ISA_WITH_AVX512(PUBLIC##_unflushed, PUBLIC, PARAMS, ARGS)                \
    void PUBLIC PARAMS {                                                                        \
        unsigned mode = _mm_getcsr();                                                           \
        _mm_setcsr(mode | _MM_FLUSH_ZERO_ON | _MM_DENORMALS_ZERO_ON);                          \
        PUBLIC##_unflushed ARGS;                                                                \
        _mm_setcsr(mode);                                                                       \
    }
#else
#define FLUSHING_LOOP_KERNEL(PUBLIC, PARAMS, ARGS, ...) LOOP_KERNEL(PUBLIC, PARAMS, ARGS, __VA_ARGS__)
#endif

#endif
