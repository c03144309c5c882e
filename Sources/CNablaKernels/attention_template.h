/*
 * Self-attention of every head at once, instantiated per scalar type by attention.c.
 *
 * Defines NAME(nabla_attention) and NAME(nabla_attention_gradient), the header's entry points.
 * Expects T, NAME(x), GEMM (the strided product for T), SOFTMAX_ROWS(x, y, rows, columns, scale,
 * causal, kept) (the rows' softmax for T, x and y apart, keeping two numbers a row) and
 * SOFTMAX_ROWS_AGAIN (the same weights from what it kept, to the bit) and SOFTMAX_GRADIENT_ROWS
 * (the softmax's vector–Jacobian product along rows, in place), and undefines them.
 *
 * One share is one head of one sequence. Its scores and weights live in the share's thread's
 * scratch (two time × time matrices), never in a [batch, heads, time, time] tensor; queries, keys
 * and values are read where the projection left them, and results written where they belong. The
 * forward pass keeps two numbers a query (its scores' maximum and the softmax's normaliser), so
 * that the backward pass recomputes the weights in one pass over the scores.
 */

/* For each thread: two time × time matrices (scores, weights) and a size × time one (keys or
 * values transposed), grown but never shrunk (scratch.h). */
static _Thread_local struct NablaScratch NAME(scratch);

static T *NAME(scratchFor)(long time, long size) {
    return nablaScratch(&NAME(scratch), (2 * (size_t)time + (size_t)size) * (size_t)time * sizeof(T));
}

struct NAME(Job) {
    const T *qkv;      /* [batch, time, 3, heads, size]: queries, keys and values side by side */
    const T *upstream; /* the output's gradient, [batch, time, heads, size] (backward only) */
    T *result;         /* the output (forward) or the gradient of qkv (backward) */
    T *kept;           /* two numbers a query of each head: [batch, heads, time, 2] */
    long time, heads, size;
    T scale;
    int causal;
    const nabla_dropout *dropout;  /* on the weights, or NULL */
};

/* Queries are taken in blocks of this many, so that a causal head computes only the blocks on and
 * below the diagonal of its scores: block [r0, r1) sees keys 0..<r1, no further. (With 64
 * positions, 3/4 of the products; with 256, 9/16.) A multiple of every path's panel width, so that
 * the keys a block sees fill whole panels. */
#ifndef QUERY_BLOCK
#define QUERY_BLOCK 32
#endif

/* xᵀ: x's `rows` rows of `columns`, `ld` apart, into `t` (columns × rows), written in order. Keys and values
 * transposed are the products' right operands read in place, with no packing. */
static void NAME(transpose)(const T *x, long ld, long rows, long columns, T *t) {
    for (long j = 0; j < columns; j++)
        for (long i = 0; i < rows; i++) t[j * rows + i] = x[i * ld + j];
}

/* The attention weights of one head into `weights`: the scores q·kᵀ into `scores` (`keys` is kᵀ),
 * a causal head's block by block, then softmax(scale · scores) row by row. The forward pass keeps
 * two numbers a query at `kept`; the backward pass (`again`) recomputes the same weights from them.
 * q's rows are `ld` apart. */
static void NAME(weights)(const struct NAME(Job) *job, const T *q, long ld, const T *keys, T *scores, T *weights,
                          T *kept, int again) {
    long time = job->time, block = job->causal ? QUERY_BLOCK : time;
    for (long r0 = 0; r0 < time; r0 += block) {
        long r1 = r0 + block < time ? r0 + block : time, seen = job->causal ? r1 : time;
        GEMM(0, 0, r1 - r0, seen, job->size, 1, q + r0 * ld, ld, keys, time, scores + r0 * time, time, 0);
    }
    long causal = job->causal ? time : 0;
    if (again) SOFTMAX_ROWS_AGAIN(scores, weights, time, time, job->scale, causal, kept);
    else SOFTMAX_ROWS(scores, weights, time, time, job->scale, causal, kept);
}

/* Each weight a query sees (`w`, one head's time × time) times its element of the dropout mask,
 * numbered as in the [batch, heads, time, time] weights that the composite would hold: the mask
 * a Dropout layer would draw on them. */
static void NAME(drop)(const struct NAME(Job) *job, long pair, T *w) {
    long time = job->time;
    T scale = (T)job->dropout->scale;
    for (long i = 0; i < time; i++) {
        uint64_t first = ((uint64_t)pair * (uint64_t)time + (uint64_t)i) * (uint64_t)time;
        long seen = job->causal ? i + 1 : time;
        for (long j = 0; j < seen; j++) w[i * time + j] *= nablaDropoutKeeps(job->dropout, first + (uint64_t)j) ? scale : 0;
    }
}

/* y = weights · v for head `pair` % heads of sequence `pair` / heads. */
static void NAME(forwardShare)(void *context, long pair) {
    const struct NAME(Job) *job = context;
    long time = job->time, size = job->size, width = job->heads * size, b = pair / job->heads, h = pair % job->heads;
    long ld = 3 * width, block = job->causal ? QUERY_BLOCK : time;
    const T *q = job->qkv + b * time * ld + h * size, *k = q + width, *v = q + 2 * width;
    T *y = job->result + b * time * width + h * size;
    T *scores = NAME(scratchFor)(time, size), *weights = scores + time * time, *transposed = weights + time * time;
    NAME(transpose)(k, ld, time, size, transposed);
    NAME(weights)(job, q, ld, transposed, scores, weights, job->kept + pair * time * 2, 0);
    if (job->dropout) NAME(drop)(job, pair, weights);
    for (long r0 = 0; r0 < time; r0 += block) {
        long r1 = r0 + block < time ? r0 + block : time, seen = job->causal ? r1 : time;
        GEMM(0, 0, r1 - r0, size, seen, 1, weights + r0 * time, time, v, ld, y + r0 * width, width, 0);
    }
}

/* The gradients of one head's query, key and value, from the output's gradient dy. With P the
 * weights (recomputed from what the forward pass kept: the same bits), M the dropout mask (all
 * ones without dropout) and dP = (dy·vᵀ) ⊙ M:
 *   dv = (P ⊙ M)ᵀ·dy,   dS = P ⊙ (dP − rowsum(P ⊙ dP)),   dq = scale · dS·k,   dk = scale · dSᵀ·q,
 * the softmax's gradient folded between the products. Positions a causal query does not see
 * have weight 0 and get gradient 0, and the products skip the blocks above the diagonal: keys
 * [c0, c1) are seen by queries c0.. only. */
static void NAME(backwardShare)(void *context, long pair) {
    const struct NAME(Job) *job = context;
    long time = job->time, size = job->size, width = job->heads * size, b = pair / job->heads, h = pair % job->heads;
    long ld = 3 * width, block = job->causal ? QUERY_BLOCK : time;
    const T *q = job->qkv + b * time * ld + h * size, *k = q + width, *v = q + 2 * width;
    const T *dy = job->upstream + b * time * width + h * size;
    T *dq = job->result + b * time * ld + h * size, *dk = dq + width, *dv = dq + 2 * width;
    T *scores = NAME(scratchFor)(time, size), *weights = scores + time * time, *transposed = weights + time * time;
    NAME(transpose)(k, ld, time, size, transposed);
    NAME(weights)(job, q, ld, transposed, scores, weights, job->kept + pair * time * 2, 1);
    NAME(transpose)(v, ld, time, size, transposed);
    T *d = scores;  /* dP, then dS, in place of the scores */
    for (long r0 = 0; r0 < time; r0 += block) {
        long r1 = r0 + block < time ? r0 + block : time, seen = job->causal ? r1 : time;
        GEMM(0, 0, r1 - r0, seen, size, 1, dy + r0 * width, width, transposed, time, d + r0 * time, time, 0);
    }
    if (job->dropout) NAME(drop)(job, pair, d);
    SOFTMAX_GRADIENT_ROWS(weights, d, time, time, job->causal ? time : 0);
    if (job->dropout) NAME(drop)(job, pair, weights);
    for (long r0 = 0; r0 < time; r0 += block) {
        long r1 = r0 + block < time ? r0 + block : time, seen = job->causal ? r1 : time;
        long first = job->causal ? r0 : 0;  /* the first query that sees keys r0..<r1 */
        GEMM(1, 0, r1 - r0, size, time - first, 1, weights + first * time + r0, time, dy + first * width, width,
             dv + r0 * ld, ld, 0);
        GEMM(0, 0, r1 - r0, size, seen, job->scale, d + r0 * time, time, k, ld, dq + r0 * ld, ld, 0);
        GEMM(1, 0, r1 - r0, size, time - first, job->scale, d + first * time + r0, time, q + first * ld, ld,
             dk + r0 * ld, ld, 0);
    }
}

/* Every head of every sequence, on the pool's threads when there is enough work to share. */
static void NAME(run)(nabla_task share, struct NAME(Job) *job, long batch) {
    long pairs = batch * job->heads;
    if (job->time <= 0 || job->size <= 0 || pairs <= 0) return;
    if (nabla_thread_count() < 2 || pairs * job->time * job->time * job->size < ATTENTION_PARALLEL_MIN_MACS) {
        for (long pair = 0; pair < pairs; pair++) share(job, pair);
    } else {
        nabla_parallel_for(pairs, share, job);
    }
}

void NAME(nabla_attention)(const T *qkv, T *y, T *kept, long batch, long time, long heads, long size, T scale,
                           int causal, const nabla_dropout *dropout) {
    struct NAME(Job) job = { qkv, NULL, y, kept, time, heads, size, scale, causal, dropout };
    NAME(run)(NAME(forwardShare), &job, batch);
}

void NAME(nabla_attention_gradient)(const T *qkv, const T *kept, const T *dy, T *dqkv, long batch, long time,
                                    long heads, long size, T scale, int causal, const nabla_dropout *dropout) {
    struct NAME(Job) job = { qkv, dy, dqkv, (T *)kept, time, heads, size, scale, causal, dropout };
    NAME(run)(NAME(backwardShare), &job, batch);
}

/* The parameters, for the next instantiation. */
#undef T
#undef NAME
#undef GEMM
#undef SOFTMAX_ROWS
#undef SOFTMAX_ROWS_AGAIN
#undef SOFTMAX_GRADIENT_ROWS
