/*
 * The sliding-window kernels — a convolution's patch gathering and scattering (im2col, col2im)
 * and max pooling — instantiated per scalar type and instruction set by sliding_window.c.
 *
 * Expects what instantiate_paths.h defines: T, BITS, V, VU, VI, VL, the lane shuffles, NAME(x)
 * and ATTR. Branch-free where the data decides: a max-pool comparison that branched would
 * mispredict half the time.
 */

/* out[i] = in[i] for i < n, whole vectors at a time: an image row is often shorter than the 32
 * elements a compiler-vectorised loop wants before its vector body runs. The last vector may
 * overlap the one before (rewriting the same values). */
ATTR static inline __attribute__((always_inline)) void NAME(copy)(T *out, const T *in, long n) {
    if (n < VL) {
        for (long i = 0; i < n; i++) out[i] = in[i];
        return;
    }
    long i = 0;
    for (; i + VL <= n; i += VL) *(VU *)(out + i) = *(const VU *)(in + i);
    if (i < n) *(VU *)(out + n - VL) = *(const VU *)(in + n - VL);
}

/* out[i] += in[i] for i < n, whole vectors, then the rest one by one. */
ATTR static inline __attribute__((always_inline)) void NAME(add)(T *out, const T *in, long n) {
    long i = 0;
    for (; i + VL <= n; i += VL) *(VU *)(out + i) += *(const VU *)(in + i);
    for (; i < n; i++) out[i] += in[i];
}

/* Visits the rows of one image's patch matrix ([channels·kernelHeight·kernelWidth,
 * outputPlane], one row per kernel tap (c, ky, kx)) one output row oy at a time: BODY runs with
 * `column` pointing at that stretch of outputWidth elements, `in` at the input element output
 * column 0 would read (output column ox reads in[ox·stride]), `inside` saying whether input row
 * oy·stride − padding + ky lies in the image, and [lo, hi) the output columns whose input column
 * does. Without padding every window lies inside the image, and the bounds are not worked out. */
#define FOR_EACH_PATCH_ROW(COLUMNS, BODY)                                                        \
    long ow = w->outputWidth, s = w->stride, p = w->padding;                                    \
    T *column = (T *)(COLUMNS);                                                                  \
    for (long c = 0; c < w->channels; c++)                                                       \
        for (long ky = 0; ky < w->kernelHeight; ky++)                                            \
            for (long kx = 0; kx < w->kernelWidth; kx++) {                                       \
                long lo = 0, hi = ow;                                                            \
                if (p > 0) nabla_window_valid_columns(w, kx, &lo, &hi);                          \
                for (long oy = 0; oy < w->outputHeight; oy++, column += ow) {                    \
                    long iy = oy * s - p + ky;                                                   \
                    int inside = p == 0 || (iy >= 0 && iy < w->height);                          \
                    T *in = (T *)image + (c * w->height + iy) * w->width - p + kx;               \
                    BODY                                                                         \
                }                                                                                \
            }

ATTR static void NAME(gatherPatches)(const nabla_window *w, const T *image, T *columns) {
    FOR_EACH_PATCH_ROW(columns, {
        if (!inside) {
            for (long ox = 0; ox < ow; ox++) column[ox] = 0;
            continue;
        }
        for (long ox = 0; ox < lo; ox++) column[ox] = 0;
        if (s == 1) NAME(copy)(column + lo, in + lo, hi - lo);
        else for (long ox = lo; ox < hi; ox++) column[ox] = in[ox * s];
        for (long ox = hi; ox < ow; ox++) column[ox] = 0;
    })
}

ATTR static void NAME(scatterPatches)(const nabla_window *w, const T *columns, T *image) {
    FOR_EACH_PATCH_ROW(columns, {
        if (!inside) continue;
        if (s == 1) NAME(add)(in + lo, column + lo, hi - lo);
        else for (long ox = lo; ox < hi; ox++) in[ox * s] += column[ox];
    })
}

#undef FOR_EACH_PATCH_ROW

/* Whether v takes over from best: a NaN wins, so that it propagates; otherwise the first
 * largest element. Bitwise operators, not logical ones: they leave no branch to mispredict. */
#define BETTER(v, best) (((v) > (best)) | (((v) != (v)) & ((best) == (best))))

/* Lanes of `b` where `mask` is set, of `a` elsewhere. */
#define SELECT(mask, b, a) ((V)(((VI)(b) & (mask)) | ((VI)(a) & ~(mask))))

/* Whether a 2×2, stride-2 pooling takes two output rows a vector at a time: rows of VL/2 outputs
 * (the book's second pooling, 8 columns in and 4 out, in floats). The even and odd columns of
 * input rows 2·oy and 2·oy + 2 then fill one vector, those of rows 2·oy + 1 and 2·oy + 3
 * another, and the two rows' outputs lie next to each other. */
#define ROW_PAIRS(w) (2 * (w)->outputWidth == VL && (w)->width >= VL)

/* The four elements of VL windows, one vector each (top left, top right, bottom left, bottom
 * right), from two output rows whose windows start at `row` and `row + 2·width`. */
#define ROW_PAIR_WINDOWS(row, width)                                                          \
    V r0 = *(const VU *)(row), r1 = *(const VU *)((row) + 2 * (width));                       \
    V n0 = *(const VU *)((row) + (width)), n1 = *(const VU *)((row) + 3 * (width));           \
    V a = EVEN_LANES(r0, r1), b = ODD_LANES(r0, r1), c = EVEN_LANES(n0, n1), d = ODD_LANES(n0, n1);

ATTR static void NAME(maxPool)(const nabla_window *w, long planes, const T *x, T *y) {
    long s = w->stride, kh = w->kernelHeight, kw = w->kernelWidth, width = w->width;
    int pairs = kh == 2 && kw == 2 && s == 2 && ROW_PAIRS(w);
    for (long plane = 0; plane < planes; plane++) {
        const T *input = x + plane * w->height * width;
        long oy = 0;
        if (pairs) {
            for (; oy + 2 <= w->outputHeight; oy += 2, y += VL) {
                ROW_PAIR_WINDOWS(input + 2 * oy * width, width)
                V ab = SELECT(BETTER(b, a), b, a), cd = SELECT(BETTER(d, c), d, c);
                *(VU *)y = SELECT(BETTER(cd, ab), cd, ab);
            }
        }
        for (; oy < w->outputHeight; oy++, y += w->outputWidth) {
            const T *row = input + oy * s * width;
            if (kh == 2 && kw == 2 && s == 2) {  /* the common case, in a form that vectorises */
                const T *next = row + width;
                for (long ox = 0; ox < w->outputWidth; ox++) {
                    T a = row[2 * ox], b = row[2 * ox + 1], c = next[2 * ox], d = next[2 * ox + 1];
                    T ab = BETTER(b, a) ? b : a, cd = BETTER(d, c) ? d : c;
                    y[ox] = BETTER(cd, ab) ? cd : ab;
                }
                continue;
            }
            for (long ox = 0; ox < w->outputWidth; ox++) {
                const T *corner = row + ox * s;
                T best = corner[0];
                for (long ky = 0; ky < kh; ky++)
                    for (long kx = 0; kx < kw; kx++) {
                        T v = corner[ky * width + kx];
                        best = BETTER(v, best) ? v : best;
                    }
                y[ox] = best;
            }
        }
    }
}

/* VL 2×2 windows' gradients ga, gb, gc, gd: each output's gradient `up` selected by bit masks
 * onto the first of its window's elements a, b, c, d equal to the output m (the first NaN if m
 * is NaN), zero on the others — no branch, and a NaN gradient reaches only its winner. */
#define WINDOW_GRADIENTS(a, b, c, d, m, up)                                                   \
    VI u = (VI)(up), nan = (m) != (m);                                                        \
    VI ma = ((a) == (m)) | (nan & ((a) != (a)));                                              \
    VI mb = ~ma & (((b) == (m)) | (nan & ((b) != (b))));                                      \
    VI mc = ~(ma | mb) & (((c) == (m)) | (nan & ((c) != (c))));                               \
    VI md = ~(ma | mb | mc);                                                                  \
    V ga = (V)(u & ma), gb = (V)(u & mb), gc = (V)(u & mc), gd = (V)(u & md);

/* One output row of a 2×2, stride-2 max pool's gradient: `row` and the input row after it, the
 * row's outputs `best` and their gradients `up`, written to the same two rows of `to` (the
 * windows do not overlap). A window's four elements are told apart by selecting bits with
 * masks — no branch, and a NaN gradient reaches only its winner. VL outputs at a time: the
 * even and odd columns of two input vectors are split apart, and the four gradients
 * interleaved back. */
ATTR static inline __attribute__((always_inline)) void NAME(maxPoolGradient2x2Row)(
    const T *row, long width, const T *best, const T *up, long count, T *to) {
    const T *next = row + width;
    T *toNext = to + width;
    long ox = 0;
    for (; ox + VL <= count; ox += VL) {
        V r0 = *(const VU *)(row + 2 * ox), r1 = *(const VU *)(row + 2 * ox + VL);
        V n0 = *(const VU *)(next + 2 * ox), n1 = *(const VU *)(next + 2 * ox + VL);
        V a = EVEN_LANES(r0, r1), b = ODD_LANES(r0, r1), c = EVEN_LANES(n0, n1), d = ODD_LANES(n0, n1);
        V m = *(const VU *)(best + ox), gradients = *(const VU *)(up + ox);
        WINDOW_GRADIENTS(a, b, c, d, m, gradients)
        *(VU *)(to + 2 * ox) = LOW_INTERLEAVED(ga, gb);
        *(VU *)(to + 2 * ox + VL) = HIGH_INTERLEAVED(ga, gb);
        *(VU *)(toNext + 2 * ox) = LOW_INTERLEAVED(gc, gd);
        *(VU *)(toNext + 2 * ox + VL) = HIGH_INTERLEAVED(gc, gd);
    }
    for (; ox < count; ox++) {
        T m = best[ox], a = row[2 * ox], b = row[2 * ox + 1], c = next[2 * ox], d = next[2 * ox + 1];
        BITS u, nan = -(BITS)(m != m);
        __builtin_memcpy(&u, up + ox, sizeof u);
        BITS ma = -(BITS)(a == m) | (nan & -(BITS)(a != a));
        BITS mb = ~ma & (-(BITS)(b == m) | (nan & -(BITS)(b != b)));
        BITS mc = ~(ma | mb) & (-(BITS)(c == m) | (nan & -(BITS)(c != c)));
        BITS md = ~(ma | mb | mc), ga = u & ma, gb = u & mb, gc = u & mc, gd = u & md;
        __builtin_memcpy(to + 2 * ox, &ga, sizeof ga);
        __builtin_memcpy(to + 2 * ox + 1, &gb, sizeof gb);
        __builtin_memcpy(toNext + 2 * ox, &gc, sizeof gc);
        __builtin_memcpy(toNext + 2 * ox + 1, &gd, sizeof gd);
    }
}

/* A plane's output rows two at a time (ROW_PAIRS), returning how many it did. Kept out of line:
 * inlined, it slows the one-row path (the first pooling's) more than it gains (Docs/Performance.md,
 * "Decisions, measured"). */
ATTR static __attribute__((noinline)) long NAME(maxPoolGradient2x2RowPairs)(
    const nabla_window *w, const T *input, const T *best, const T *up, T *gradient) {
    long width = w->width, oy = 0;
    for (; oy + 2 <= w->outputHeight; oy += 2) {
        const T *row = input + 2 * oy * width;
        T *to = gradient + 2 * oy * width;
        ROW_PAIR_WINDOWS(row, width)
        V m = *(const VU *)(best + oy * w->outputWidth), gradients = *(const VU *)(up + oy * w->outputWidth);
        WINDOW_GRADIENTS(a, b, c, d, m, gradients)
        *(VU *)to = LOW_INTERLEAVED(ga, gb);
        *(VU *)(to + 2 * width) = HIGH_INTERLEAVED(ga, gb);
        *(VU *)(to + width) = LOW_INTERLEAVED(gc, gd);
        *(VU *)(to + 3 * width) = HIGH_INTERLEAVED(gc, gd);
    }
    return oy;
}

/* Each output's gradient goes to the first element of its window equal to the output (the
 * forward pass's winner, recovered without storing it), or to its first NaN if the output is
 * NaN. `dx` is written whole: zero, plus every gradient that lands on an element. */
ATTR static void NAME(maxPoolGradient)(const nabla_window *w, long planes, const T *x, const T *y, const T *g, T *dx) {
    long s = w->stride, kh = w->kernelHeight, kw = w->kernelWidth, width = w->width;
    long inputPlane = w->height * width, outputPlane = w->outputHeight * w->outputWidth;
    /* 2×2 windows at stride 2 tile the image and their rows write every element they cover, so
     * only an odd last row or column is zeroed first; any other window adds onto zeros. */
    int tiled = kh == 2 && kw == 2 && s == 2;
    for (long plane = 0; plane < planes; plane++) {
        T *gradient = dx + plane * inputPlane;
        if (!tiled) {
            for (long i = 0; i < inputPlane; i++) gradient[i] = 0;
            continue;
        }
        for (long i = 2 * w->outputHeight * width; i < inputPlane; i++) gradient[i] = 0;
        if (width > 2 * w->outputWidth)
            for (long iy = 0; iy < 2 * w->outputHeight; iy++) gradient[iy * width + width - 1] = 0;
    }
    for (long plane = 0; plane < planes; plane++) {
        const T *input = x + plane * inputPlane;
        T *gradient = dx + plane * inputPlane;
        long oy = tiled && ROW_PAIRS(w) ? NAME(maxPoolGradient2x2RowPairs)(w, input, y + plane * outputPlane,
                                                                          g + plane * outputPlane, gradient) : 0;
        for (; oy < w->outputHeight; oy++) {
            if (tiled) {
                NAME(maxPoolGradient2x2Row)(input + 2 * oy * width, width, y + plane * outputPlane + oy * w->outputWidth,
                                            g + plane * outputPlane + oy * w->outputWidth, w->outputWidth,
                                            gradient + 2 * oy * width);
                continue;
            }
            for (long ox = 0; ox < w->outputWidth; ox++) {
                long o = plane * outputPlane + oy * w->outputWidth + ox, corner = oy * s * width + ox * s;
                T best = y[o], up = g[o];
                int found = 0;
                for (long ky = 0; ky < kh; ky++)
                    for (long kx = 0; kx < kw; kx++) {
                        T v = input[corner + ky * width + kx];
                        int match = (!found) & ((v == best) | ((v != v) & (best != best)));
                        gradient[corner + ky * width + kx] += match ? up : 0;
                        found |= match;
                    }
            }
        }
    }
}

#undef BETTER
#undef SELECT
#undef ROW_PAIRS
#undef ROW_PAIR_WINDOWS
#undef WINDOW_GRADIENTS
