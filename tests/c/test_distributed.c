/* test_distributed.c: the group registry, the collective ops and their primitives. With no
 * transport, init gives the singleton group and the collectives return their input. Then a
 * transport is registered (a stand-in "ring" of two processes in one: rank 0 here, and a
 * peer whose float32 arrays are always 10x ours, so every collective has a known answer)
 * and the AllReduce/AllGather/ReduceScatter/Send/Recv kernels, vjp, jvp and vmap rules run
 * through it. */
#include <math.h>
#include <string.h>

#include "../../src/core/distributed.h"
#include "../../src/core/error.h"
#include "../../src/core/eval.h"
#include "../../src/ops/ops.h"
#include "../../src/transforms/transforms.h"
#include "check.h"

#define CPU mx_default_stream((mx_device){MX_CPU, 0})
#define PEER 10.0f

static mx_array *vec(const float *v, int n) {
  int32_t shape[1] = {n};
  return mx_array_from_data(v, MX_FLOAT32, 1, shape);
}

/* Evaluates a and compares it with want (n values); releases a. */
static bool equals(mx_array *a, const float *want, int64_t n) {
  bool ok = a && mx_eval(&a, 1) == 0 && a->size == n;
  if (ok) {
    mx_array *c = mx_contiguous(a, false, CPU);
    ok = c && mx_eval(&c, 1) == 0;
    const float *p = ok ? mx_array_host_data(c) : NULL;
    for (int64_t i = 0; ok && i < n; i++) ok = fabsf(p[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i]));
    mx_array_release(c);
  }
  if (!ok) fprintf(stderr, "  mismatch (%s)\n", mx_error_message());
  mx_array_release(a);
  return ok;
}

static void test_singleton(void) {
  CHECK(mx_dist_is_available("any") == 0);
  CHECK(mx_dist_is_available("bogus") == -1 && mx_error_kind_get() == MX_EINVAL);
  mx_group *g = mx_dist_init(false, "any");
  CHECK(g && g->rank == 0 && g->size == 1);
  CHECK(mx_dist_init(true, "any") == NULL && mx_error_kind_get() == MX_ERUNTIME);
  CHECK(mx_group_split(g, 0, -1) == NULL && mx_error_kind_get() == MX_ERUNTIME);
  mx_array *x = vec((float[]){1, 2, 3}, 3);
  mx_array *r = mx_dist_all_sum(x, g, CPU);
  CHECK(r == x); /* the identity: MLX returns the input itself */
  mx_array_release(r);
  r = mx_dist_all_gather(x, NULL, CPU);
  CHECK(r == x);
  mx_array_release(r);
  CHECK(mx_dist_send(x, 0, g, CPU) == NULL && mx_error_kind_get() == MX_EINVAL);
  CHECK(mx_dist_recv_like(x, 0, NULL, CPU) == NULL && mx_error_kind_get() == MX_EINVAL);
  mx_array_release(x);
  mx_group_release(g);
}

/* ---- the stand-in transport ---- */
static float mailbox[64];
static int64_t mailbox_bytes = -1;
static int freed;

static int fake_all_reduce(mx_group *g, const void *in, void *out, int64_t n, mx_dtype t, int kind) {
  (void)g;
  if (t != MX_FLOAT32) return mx_fail_int(MX_EINVAL, "fake transport: float32 only");
  const float *a = in;
  float *o = out;
  for (int64_t i = 0; i < n; i++) {
    float peer = PEER * a[i];
    o[i] = kind == MX_DIST_SUM ? a[i] + peer : kind == MX_DIST_MAX ? fmaxf(a[i], peer) : fminf(a[i], peer);
  }
  return 0;
}

static int fake_all_gather(mx_group *g, const void *in, void *out, int64_t nbytes) {
  (void)g;
  const float *a = in;
  float *o = out;
  int64_t n = nbytes / 4;
  for (int64_t i = 0; i < n; i++) {
    o[i] = a[i];         /* rank 0: ours */
    o[n + i] = PEER * a[i]; /* rank 1: the peer's */
  }
  return 0;
}

static int fake_reduce_scatter(mx_group *g, const void *in, void *out, int64_t n, mx_dtype t, int kind) {
  (void)g, (void)t, (void)kind;
  const float *a = in;
  float *o = out;
  for (int64_t i = 0; i < n; i++) o[i] = a[i] * (1 + PEER); /* block 0 of the sum */
  return 0;
}

static int fake_send(mx_group *g, const void *in, int64_t nbytes, int dst) {
  (void)g;
  if (dst != 1 || nbytes > (int64_t)sizeof mailbox) return mx_fail_int(MX_EINVAL, "fake send");
  memcpy(mailbox, in, (size_t)nbytes);
  mailbox_bytes = nbytes;
  return 0;
}

static int fake_recv(mx_group *g, void *out, int64_t nbytes, int src) {
  (void)g;
  if (src != 1 || nbytes != mailbox_bytes) return mx_fail_int(MX_EINVAL, "fake recv");
  memcpy(out, mailbox, (size_t)nbytes);
  return 0;
}

static void fake_free(void *ctx) { freed += ctx == &freed; }
static mx_group *fake_init(bool strict);
static const mx_dist_backend fake = {
    .name = "ring", .init = fake_init, .all_reduce = fake_all_reduce,
    .all_gather = fake_all_gather, .reduce_scatter = fake_reduce_scatter, .send = fake_send,
    .recv = fake_recv, .free_ctx = fake_free};
static mx_group *fake_init(bool strict) {
  (void)strict;
  return mx_group_new(0, 2, &fake, &freed);
}

/* closures for the transforms: out = f(in[0]) */
static int call_all_sum(void *p, mx_array *const *in, int n, mx_array **out, int max, int *n_out) {
  (void)p, (void)n, (void)max;
  *n_out = 1;
  return (out[0] = mx_dist_all_sum(in[0], NULL, CPU)) ? 0 : -1;
}
static int call_all_gather(void *p, mx_array *const *in, int n, mx_array **out, int max, int *n_out) {
  (void)p, (void)n, (void)max;
  *n_out = 1;
  return (out[0] = mx_dist_all_gather(in[0], NULL, CPU)) ? 0 : -1;
}
static int call_sum_scatter(void *p, mx_array *const *in, int n, mx_array **out, int max, int *n_out) {
  (void)p, (void)n, (void)max;
  *n_out = 1;
  return (out[0] = mx_dist_sum_scatter(in[0], NULL, CPU)) ? 0 : -1;
}

static void test_transport(void) {
  CHECK_OK(mx_dist_register_backend(&fake));
  CHECK(mx_dist_is_available("ring") == 1 && mx_dist_is_available("any") == 1);
  CHECK(mx_dist_is_available("mpi") == 0);
  mx_group *g = mx_dist_init(true, "ring");
  CHECK(g && g->rank == 0 && g->size == 2);
  const float xv[4] = {1, -2, 3.5f, -4};
  mx_array *x = vec(xv, 4);

  CHECK(equals(mx_dist_all_sum(x, NULL, CPU), (float[]){11, -22, 38.5f, -44}, 4));
  CHECK(equals(mx_dist_all_max(x, g, CPU), (float[]){10, -2, 35, -4}, 4));
  CHECK(equals(mx_dist_all_min(x, g, CPU), (float[]){1, -20, 3.5f, -40}, 4));
  CHECK(equals(mx_dist_all_gather(x, g, CPU), (float[]){1, -2, 3.5f, -4, 10, -20, 35, -40}, 8));
  CHECK(equals(mx_dist_sum_scatter(x, g, CPU), (float[]){11, -22}, 2));
  /* a strided input reaches the transport row-major */
  int32_t shape22[2] = {2, 2};
  mx_array *m = mx_reshape(x, shape22, 2, CPU);
  mx_array *mt = mx_transpose(m, NULL, -1, CPU);
  CHECK(equals(mx_dist_all_gather(mt, g, CPU), (float[]){1, 3.5f, -2, -4, 10, 35, -20, -40}, 8));
  mx_array *key = mx_random_key(0);
  mx_array *bad = mx_dist_all_sum(key, g, CPU); /* uint32: the fake transport refuses */
  CHECK(bad && mx_eval(&bad, 1) != 0);          /* a transport error surfaces at eval */
  mx_array_release(bad);
  mx_array_release(key);
  /* shapes: 0-d gathers into (size,), sum_scatter needs axis 0 divisible by the size */
  mx_array *s0 = mx_array_scalar_f64(2.0, MX_FLOAT32);
  mx_array *g0 = mx_dist_all_gather(s0, g, CPU);
  CHECK(g0 && g0->ndim == 1 && g0->shape[0] == 2);
  CHECK(equals(g0, (float[]){2, 20}, 2));
  CHECK(mx_dist_sum_scatter(s0, g, CPU) == NULL && mx_error_kind_get() == MX_EINVAL);
  mx_array *x3 = vec(xv, 3);
  CHECK(mx_dist_sum_scatter(x3, g, CPU) == NULL &&
        strstr(mx_error_message(), "[sum_scatter] Invalid shape=(3) for a group of size 2") != NULL);
  /* send / recv */
  CHECK(mx_dist_send(x, 2, g, CPU) == NULL &&
        strcmp(mx_error_message(), "Invalid destination=2 for a group of size 2") == 0);
  CHECK(mx_dist_recv_like(x, -1, g, CPU) == NULL &&
        strcmp(mx_error_message(), "Invalid source=-1 for a group of size 2") == 0);
  CHECK(equals(mx_dist_send(x, 1, g, CPU), xv, 4));
  CHECK(mailbox_bytes == 16 && mailbox[2] == 3.5f);
  CHECK(equals(mx_dist_recv_like(x, 1, g, CPU), xv, 4));

  /* vjp / jvp: all_sum's are all_sum; all_gather's is our block; sum_scatter's a gather */
  const float wv[8] = {0.5f, 2, -1, 3, 7, -6, 1.5f, 4};
  mx_array *w4 = vec(wv, 4), *w8 = vec(wv, 8), *w2 = vec(wv, 2);
  mx_array *outs[1], *grads[1];
  int n_out;
  CHECK_OK(mx_vjp((mx_closure){call_all_sum, NULL}, &x, 1, &w4, 1, outs, 1, &n_out, grads));
  CHECK(equals(grads[0], (float[]){5.5f, 22, -11, 33}, 4));
  mx_array_release(outs[0]);
  CHECK_OK(mx_jvp((mx_closure){call_all_sum, NULL}, &x, 1, &w4, outs, 1, &n_out, grads));
  CHECK(equals(grads[0], (float[]){5.5f, 22, -11, 33}, 4));
  mx_array_release(outs[0]);
  CHECK_OK(mx_vjp((mx_closure){call_all_gather, NULL}, &x, 1, &w8, 1, outs, 1, &n_out, grads));
  CHECK(equals(grads[0], wv, 4));
  mx_array_release(outs[0]);
  CHECK_OK(mx_vjp((mx_closure){call_sum_scatter, NULL}, &x, 1, &w2, 1, outs, 1, &n_out, grads));
  CHECK(equals(grads[0], (float[]){0.5f, 2, 5, 20}, 4));
  mx_array_release(outs[0]);
  /* vmap of all_gather over axis 0 gathers each sample */
  int in_axes[1] = {0}, out_axes[1] = {0};
  CHECK_OK(mx_vmap((mx_closure){call_all_gather, NULL}, &m, 1, in_axes, out_axes, outs, 1, &n_out));
  CHECK(equals(outs[0], (float[]){1, -2, 10, -20, 3.5f, -4, 35, -40}, 8));
  CHECK_OK(mx_vmap((mx_closure){call_all_sum, NULL}, &m, 1, in_axes, out_axes, outs, 1, &n_out));
  CHECK(equals(outs[0], (float[]){11, -22, 38.5f, -44}, 4));

  mx_group *again = mx_dist_init(false, "any");
  CHECK(again == g);
  mx_group_release(again);
  mx_array *rel[] = {x, m, mt, s0, x3, w4, w8, w2};
  for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) mx_array_release(rel[i]);
  mx_group_release(g);
  CHECK(freed == 0); /* the registry still holds the global group */
}

int main(void) {
  RUN(test_singleton);
  RUN(test_transport);
  return check_failures;
}
