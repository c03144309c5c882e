/* Dropout's mask, element by element: a counter-based draw (SplitMix64 of the mask's key plus the
 * element's number), so that any element can be drawn again, in any order, by any kernel — Nabla's
 * DropoutMask, and the fused attention's weights, forward and backward. */
#ifndef NABLA_DROPOUT_H
#define NABLA_DROPOUT_H

#include <stdint.h>

#include "CNablaKernels.h"

static inline uint64_t nablaSplitMix64(uint64_t z) {
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Whether element `index` of the mask is kept: the top 32 bits of its hash, uniform on 0..<2³²,
 * fall below keep · 2³². */
static inline int nablaDropoutKeeps(const nabla_dropout *dropout, uint64_t index) {
    return (nablaSplitMix64(dropout->key + index) >> 32) < dropout->threshold;
}

#endif
