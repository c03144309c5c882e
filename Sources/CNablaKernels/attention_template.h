/*
 * Self-attention of every head at once, instantiated per scalar type by attention.c.
 *
 * Expects T, NAME(x), GEMM (the strided product for T), SOFTMAX_ROWS(x, y, rows, columns, scale,
 * causal, kept) (the rows' softmax for T, x and y apart, keeping two numbers a row) and
 * SOFTMAX_ROWS_AGAIN (the same weights from what it kept, to the bit).
 *
 * One share is one head of one sequence. Its scores and weights live in the share's thread's
 * scratch (two time × time matrices), never in a [batch, heads, time, time] tensor; queries, keys
 * and values are read where the projection left them, and results written where they belong. The
 * forward pass keeps two numbers a query (its scores' maximum and the softmax's normaliser), so
 * that the backward pass recomputes the weights in one pass over the scores.
 */

/* Two time × time matrices for each thread, grown but never shrunk, so that steady-state
 * training allocates nothing here. */
static _Thread_local T *NAME(scratch) = NULL;
static _Thread_local size_t NAME(scratchCount) = 0;

static T *NAME(scratchFor)(long time) {
    size_t count = 2 * (size_t)time * (size_t)time;
    if (count > NAME(scratchCount)) {
        free(NAME(scratch));
        NAME(scratch) = aligned_alloc(64, (count * sizeof(T) + 63) & ~(size_t)63);
        NAME(scratchCount) = NAME(scratch) ? count : 0;
    }
    if (!NAME(scratch)) abort();
    return NAME(scratch);
}

struct NAME(Job) {
    const T *qkv;      /* [batch, time, 3, heads, size]: queries, keys and values side by side */
    const T *upstream; /* the output's gradient, [batch, time, heads, size] (backward only) */
    T *result;         /* the output (forward) or the gradient of qkv (backward) */
    T *kept;           /* two numbers a query of each head: [batch, heads, time, 2] */
    long time, heads, size;
    T scale;
    int causal;
};

/* The attention weights of one head: softmax(scale · q·kᵀ), causal or not, into `weights`, with
 * `scores` as room for q·kᵀ. q and k are rows `ld` apart. The forward pass keeps two numbers a
 * query at `kept`; the backward pass (`again`) reads them back. */
static void NAME(weights)(const struct NAME(Job) *job, const T *q, const T *k, long ld, T *scores, T *weights,
                          T *kept, int again) {
    long time = job->time, causal = job->causal ? time : 0;
    GEMM(0, 1, time, time, job->size, 1, q, ld, k, ld, scores, time, 0);
    if (again) SOFTMAX_ROWS_AGAIN(scores, weights, time, time, job->scale, causal, kept);
    else SOFTMAX_ROWS(scores, weights, time, time, job->scale, causal, kept);
}

/* y = weights · v for head `pair` % heads of sequence `pair` / heads. */
static void NAME(forwardShare)(void *context, long pair) {
    const struct NAME(Job) *job = context;
    long time = job->time, width = job->heads * job->size, b = pair / job->heads, h = pair % job->heads;
    const T *q = job->qkv + b * time * 3 * width + h * job->size, *k = q + width, *v = q + 2 * width;
    T *scores = NAME(scratchFor)(time), *weights = scores + time * time;
    NAME(weights)(job, q, k, 3 * width, scores, weights, job->kept + pair * time * 2, 0);
    GEMM(0, 0, time, job->size, time, 1, weights, time, v, 3 * width,
         job->result + b * time * width + h * job->size, width, 0);
}

/* The gradients of one head's query, key and value, from the output's gradient dy. With P the
 * weights (recomputed from what the forward pass kept: the same bits) and dP = dy·vᵀ:
 *   dv = Pᵀ·dy,   dS = P ⊙ (dP − rowsum(P ⊙ dP)),   dq = scale · dS·k,   dk = scale · dSᵀ·q,
 * the softmax's gradient folded between the products. Positions a causal query does not see
 * have weight 0 and get gradient 0. */
static void NAME(backwardShare)(void *context, long pair) {
    const struct NAME(Job) *job = context;
    long time = job->time, size = job->size, width = job->heads * size, b = pair / job->heads, h = pair % job->heads;
    long ld = 3 * width;
    const T *q = job->qkv + b * time * ld + h * size, *k = q + width, *v = q + 2 * width;
    const T *dy = job->upstream + b * time * width + h * size;
    T *dq = job->result + b * time * ld + h * size, *dk = dq + width, *dv = dq + 2 * width;
    T *scores = NAME(scratchFor)(time), *weights = scores + time * time;
    NAME(weights)(job, q, k, ld, scores, weights, job->kept + pair * time * 2, 1);
    GEMM(1, 0, time, size, time, 1, weights, time, dy, width, dv, ld, 0);
    T *d = scores;  /* dP, then dS, in place of the scores */
    GEMM(0, 1, time, time, size, 1, dy, width, v, ld, d, time, 0);
    for (long i = 0; i < time; i++) {
        T *row = d + i * time;
        const T *p = weights + i * time;
        long seen = job->causal ? i + 1 : time;
        T total = 0;
        {
            _Pragma("clang fp reassociate(on)")
            for (long j = 0; j < seen; j++) total += p[j] * row[j];
        }
        for (long j = 0; j < seen; j++) row[j] = p[j] * (row[j] - total);
        for (long j = seen; j < time; j++) row[j] = 0;
    }
    GEMM(0, 0, time, size, time, job->scale, d, time, k, ld, dq, ld, 0);
    GEMM(1, 0, time, size, time, job->scale, d, time, q, ld, dk, ld, 0);
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
