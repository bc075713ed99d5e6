/*
 * nn.h - a small hand-written neural-network toolkit for the deep
 * recommenders (NeuMF now; GRU4Rec and SASRec later), on OpenBLAS.
 *
 * Conventions (karpathy/llm.c's train_gpt2.c): a layer is a pair of
 * functions, outputs first, then inputs and weights, then dimensions.
 * Activations are row-major (B, C): B rows (samples), C columns. A dense
 * weight is (OUT, IN), so out = in W^T + b. Backward passes ACCUMULATE into
 * their gradient outputs (+=); zeroing is the caller's (nn_block_zero_grad,
 * memset). An input gradient pointer may be NULL where it is not wanted.
 * Everything here is pure (no globals) and thread-safe on distinct buffers;
 * none of the layer functions allocates.
 *
 * Parameters live in an NnBlock: one contiguous float array for the
 * parameters and arrays of the same layout for the gradients and for Adam's
 * two moments, so zeroing, snapshotting, saving and a later copy to the GPU
 * are one operation each. A model lays its tensors out with an X-macro list
 * X(name, number of floats) and binds typed views with NN_VIEW_FIELD /
 * NN_VIEW_BIND (see engine/neumf.c).
 *
 * Embedding tables take sparse gradients (NnSparseGrad: only the rows a
 * batch touched, duplicates summed) and a lazy Adam step on those rows only
 * (nn_adam_sparse), as TensorFlow's LazyAdam and PyTorch's SparseAdam do.
 */
#ifndef RS_NN_H
#define RS_NN_H

#include <stddef.h>
#include <stdint.h>

#include "blob.h"
#include "common.h"
#include "rng.h"

/* ---- the parameter block ------------------------------------------------------ */

typedef struct NnBlock {
    size_t n;       /* floats in each array */
    float *w;       /* (n) parameters */
    float *g;       /* (n) gradients, same layout */
    float *m, *v;   /* (n) Adam's first and second moments, same layout */
} NnBlock;

/* Allocates the four arrays of n floats, all zero. RS_ENOMEM. */
int nn_block_init(NnBlock *b, size_t n, RsErr *err);
void nn_block_done(NnBlock *b);
void nn_block_zero_grad(NnBlock *b);
/* Writes n (u64) and the parameters (not gradients nor moments). */
void nn_block_save(const NnBlock *b, RsBlob *out);
/* Reads what nn_block_save wrote into b (already sized): RS_EPARSE when the
 * count differs, the data is truncated or a number is not finite. */
int nn_block_load(NnBlock *b, RsBlobReader *r, RsErr *err);

/* Cosine of a and b (D floats), summed in double; NAN when either is 0. */
float nn_cosine(const float *a, const float *b, size_t D);
/* scores[j] = the cosine of row `row` and row j of the table W (R rows of
 * D floats), -INFINITY for the row itself and where undefined: the
 * "similar items" of an embedding table. */
void nn_similar_rows(const float *W, size_t R, size_t D, uint32_t row, float *scores);
/* nn_similar_rows for a model's similar hook: the item embedding table W
 * (I rows of D floats); RS_ENOTFOUND when item >= I. Thread-safe. */
int nn_similar_items(const float *W, size_t I, size_t D, uint32_t item, float *scores,
                     RsErr *err);

/* Early stopping on a validation metric (higher is better): the parameters
 * of the best epoch so far, kept as a copy of the block's w. */
typedef struct NnBest {
    float *w;           /* NULL until an epoch was offered */
    double value;       /* the best epoch's metric */
    int epoch;          /* 1-based, 0 before one */
} NnBest;

/* Offers the parameters after epoch (1-based) with its metric value (NaN
 * values are ignored): copied when better than the best so far. Returns 1
 * when `patience` epochs have passed without a better one (stop), 0 to go
 * on, RS_ENOMEM (negative, err filled) when the copy cannot be made. */
int nn_best_offer(NnBest *best, const NnBlock *b, int epoch, double value, int patience,
                  RsErr *err);
/* Puts the best epoch's parameters back into b (when one was kept) and
 * frees the copy. */
void nn_best_finish(NnBest *best, NnBlock *b);
/* Frees the copy (on an error path). */
void nn_best_done(NnBest *best);

/* X-macro helpers: with a list LIST(X) of X(name, size) entries,
 *   struct { LIST(NN_VIEW_FIELD) } v;          declares float *name;
 *   float *at = base; LIST(NN_VIEW_BIND)       points v.name into base
 *   size_t n = 0 LIST(NN_VIEW_COUNT);          sums the sizes
 * (NN_VIEW_BIND expects a pointer `at` and a struct pointer `v` in scope). */
#define NN_VIEW_FIELD(name, size) float *name;
#define NN_VIEW_BIND(name, size)                                                           \
    v->name = at;                                                                          \
    at += (size);
#define NN_VIEW_COUNT(name, size) +(size_t)(size)

/* ---- initialisation --------------------------------------------------------------- */

/* w[0..n) from N(0, std^2). */
void nn_init_normal(float *w, size_t n, float std, RsRng *rng);
/* w (OUT, IN) from U(-a, a), a = sqrt(6 / (IN + OUT)) (Glorot & Bengio 2010). */
void nn_init_glorot(float *w, size_t OUT, size_t IN, RsRng *rng);

/* ---- layers ------------------------------------------------------------------------- */

/* out (B, OUT) = in (B, IN) w^T + b;  w (OUT, IN), b (OUT) or NULL.
 * cblas_sgemm; _naive is the triple loop the tests compare it with. */
void nn_dense_forward(float *out, const float *in, const float *w, const float *b, size_t B,
                      size_t IN, size_t OUT);
void nn_dense_forward_naive(float *out, const float *in, const float *w, const float *b,
                            size_t B, size_t IN, size_t OUT);
/* din (B, IN) += dout w;  dw (OUT, IN) += dout^T in;  db (OUT) += column sums
 * of dout. din and db may be NULL. */
void nn_dense_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                       const float *w, size_t B, size_t IN, size_t OUT);
void nn_dense_backward_naive(float *din, float *dw, float *db, const float *dout,
                             const float *in, const float *w, size_t B, size_t IN, size_t OUT);

/* Element-wise activations over N values. Backward takes the forward's
 * input x (and for sigmoid / tanh its output y) and accumulates into dx. */
void nn_relu_forward(float *y, const float *x, size_t N);
void nn_relu_backward(float *dx, const float *dy, const float *x, size_t N);
void nn_sigmoid_forward(float *y, const float *x, size_t N);
void nn_sigmoid_backward(float *dx, const float *dy, const float *y, size_t N);
void nn_tanh_forward(float *y, const float *x, size_t N);
void nn_tanh_backward(float *dx, const float *dy, const float *y, size_t N);
/* GELU, tanh approximation (Hendrycks & Gimpel 2016, eq. in section 2). */
void nn_gelu_forward(float *y, const float *x, size_t N);
void nn_gelu_backward(float *dx, const float *dy, const float *x, size_t N);

/* y = a * b element-wise (the GMF layer); da += dy * b, db += dy * a. */
void nn_mul_forward(float *y, const float *a, const float *b, size_t N);
void nn_mul_backward(float *da, float *db, const float *dy, const float *a, const float *b,
                     size_t N);

/* Inverted dropout: keeps each value with probability 1 - p and scales it
 * by 1 / (1 - p); mask (N) receives the scale of each value (0 or
 * 1 / (1 - p)), drawn from rng (the same seed gives the same mask). p = 0
 * copies. dx += dy * mask. */
void nn_dropout_forward(float *y, float *mask, const float *x, float p, size_t N, RsRng *rng);
void nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t N);

/* Layer norm over the C columns of each row (Ba, Kiros & Hinton 2016):
 * y = (x - mean) * rstd * w + b with rstd = 1 / sqrt(var + 1e-5); mean,
 * rstd (B) are saved for the backward pass. w, b (C). */
void nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                          const float *b, size_t B, size_t C);
void nn_layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                           const float *w, const float *mean, const float *rstd, size_t B,
                           size_t C);

/* ---- embeddings and sparse gradients -------------------------------------------------- */

/* out (B, D) = rows idx[0..B) of W (R, D). */
void nn_embedding_forward(float *out, const uint32_t *idx, const float *W, size_t B, size_t D);
/* dW (R, D) += the rows of dout scattered to idx: the dense reference. */
void nn_embedding_backward_dense(float *dW, const float *dout, const uint32_t *idx, size_t B,
                                 size_t D);

/* The gradient of an embedding table of R rows of D floats restricted to
 * the rows touched since the last clear: rows[0..n) in first-touch order,
 * g (n, D) their summed gradients. */
typedef struct NnSparseGrad {
    size_t R, D, n, cap;
    uint32_t *rows;     /* (cap) */
    float *g;           /* (cap, D) */
    int32_t *slot;      /* (R) position in rows, -1 when untouched */
} NnSparseGrad;

/* For at most cap distinct rows between clears. RS_ENOMEM, RS_EUSAGE when
 * R > INT32_MAX. */
int nn_sparse_init(NnSparseGrad *s, size_t R, size_t D, size_t cap, RsErr *err);
void nn_sparse_done(NnSparseGrad *s);
/* Forgets the touched rows (O(n), not O(R)). */
void nn_sparse_clear(NnSparseGrad *s);
/* The row's gradient (D floats), added (zeroed) when untouched; NULL when
 * cap rows are already touched. */
float *nn_sparse_row(NnSparseGrad *s, uint32_t row);
/* s += the rows of dout (B, D) at idx; returns -1 when cap overflows. */
int nn_embedding_backward(NnSparseGrad *s, const float *dout, const uint32_t *idx, size_t B);

/* ---- losses ----------------------------------------------------------------------------- */

/* Binary cross-entropy on logits z (N) with labels y (N, 0 or 1), the
 * negatives being sampled by the caller (NCF, He et al. 2017, eq. 7):
 *   L = (1/N) sum_k softplus(z_k) - y_k z_k,
 * computed without overflow. Returns L; backward: dz += scale * (sigma(z) - y) / N. */
double nn_bce_logits_forward(const float *z, const float *y, size_t N);
void nn_bce_logits_backward(float *dz, const float *z, const float *y, size_t N, float scale);

/* Sampled softmax (Jean et al. 2015): each of B rows of logits (B, C) has
 * its positive in column 0 and C - 1 sampled negatives;
 *   L = (1/B) sum_b -log softmax(z_b)[0]  (max-shifted).
 * Backward: dz += scale * (softmax(z_b) - e_0) / B. */
double nn_sampled_softmax_forward(const float *z, size_t B, size_t C);
void nn_sampled_softmax_backward(float *dz, const float *z, size_t B, size_t C, float scale);

/* BPR (Rendle et al. 2009, section 4): L = (1/N) sum softplus(-(pos - neg)).
 * Backward: dpos += -scale sigma(neg - pos) / N, dneg -= the same. */
double nn_bpr_forward(const float *pos, const float *neg, size_t N);
void nn_bpr_backward(float *dpos, float *dneg, const float *pos, const float *neg, size_t N,
                     float scale);

/* ---- optimisers ------------------------------------------------------------------------------ */

/* Adam (Kingma & Ba 2015, algorithm 1) and, with weight_decay > 0, AdamW
 * (Loshchilov & Hutter 2019: decoupled decay, w -= lr * wd * w). */
typedef struct NnAdam {
    float lr, beta1, beta2, eps, weight_decay;
} NnAdam;

/* lr 1e-3, betas 0.9 / 0.999, eps 1e-8, no decay. */
void nn_adam_default(NnAdam *o);
/* One step at step number t (1-based) over n parameters. */
void nn_adam_step(float *w, const float *g, float *m, float *v, size_t n, const NnAdam *o,
                  long t);
/* The same on the touched rows of an embedding table W (R, D) with moments
 * M, V (R, D): rows never touched keep their moments (lazy Adam). */
void nn_adam_sparse(float *W, float *M, float *V, const NnSparseGrad *s, const NnAdam *o,
                    long t);

#endif
