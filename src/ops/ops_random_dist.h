/* ops_random_dist.h: op constructors of random samplers beyond uniform/normal/randint and the distributed collectives
 * (declarations only; included by ops.h, whose ownership and error rules apply). */
#ifndef MX_OPS_RANDOM_DIST_H
#define MX_OPS_RANDOM_DIST_H

/* ---- samplers (src/ops/random_dist.c); key is a (2,) uint32 key ---- */
/* bool: bits < p * nextafter(2^32) (p floating); ndim < 0 samples p's shape. */
mx_array *mx_random_bernoulli(mx_array *p, const int32_t *shape, int ndim, mx_array *key,
                              mx_stream s);
/* Normal restricted to [lower, upper] by inverse CDF; ndim < 0: broadcast of the bounds. */
mx_array *mx_random_truncated_normal(mx_array *lower, mx_array *upper, const int32_t *shape,
                                     int ndim, mx_dtype t, mx_array *key, mx_stream s);
mx_array *mx_random_gumbel(const int32_t *shape, int ndim, mx_dtype t, mx_array *key, mx_stream s);
/* uint32 category indices along axis of logits. ndim >= 0: samples of that shape; else
 * num_samples (non-NULL) per distribution in a trailing axis; else one per distribution. */
mx_array *mx_random_categorical(mx_array *logits, int axis, const int32_t *shape, int ndim,
                                const int *num_samples, mx_array *key, mx_stream s);
mx_array *mx_random_laplace(const int32_t *shape, int ndim, mx_dtype t, double loc, double scale,
                            mx_array *key, mx_stream s);
/* uint32 permutation of 0..n-1 (argsort of random bits). */
mx_array *mx_random_permutation_arange(int n, mx_array *key, mx_stream s);
/* x shuffled along axis. */
mx_array *mx_random_permutation(mx_array *x, int axis, mx_array *key, mx_stream s);
/* mean + normal(batch + (n,)) @ sqrt(cov) (from linalg.svd of cov: needs a CPU stream);
 * float32 only; batch = broadcast of cov's, mean's batch shapes and shape. */
mx_array *mx_random_multivariate_normal(mx_array *mean, mx_array *cov, const int32_t *shape,
                                        int ndim, mx_dtype t, mx_array *key, mx_stream s);

/* ---- collectives (src/ops/distributed.c); g NULL is the global group (core/distributed.h).
 * On a group of size 1 all_* and sum_scatter return x itself and send/recv raise; larger
 * groups make AllReduce/AllGather/ReduceScatter/Send/Recv records run by the transport. ---- */
struct mx_group;
mx_array *mx_dist_all_sum(mx_array *x, struct mx_group *g, mx_stream s);
mx_array *mx_dist_all_max(mx_array *x, struct mx_group *g, mx_stream s);
mx_array *mx_dist_all_min(mx_array *x, struct mx_group *g, mx_stream s);
mx_array *mx_dist_all_gather(mx_array *x, struct mx_group *g, mx_stream s);
mx_array *mx_dist_sum_scatter(mx_array *x, struct mx_group *g, mx_stream s);
/* A dependency array that performs the send when evaluated. */
mx_array *mx_dist_send(mx_array *x, int dst, struct mx_group *g, mx_stream s);
mx_array *mx_dist_recv(const int32_t *shape, int ndim, mx_dtype t, int src, struct mx_group *g,
                       mx_stream s);
mx_array *mx_dist_recv_like(mx_array *x, int src, struct mx_group *g, mx_stream s);

#endif
