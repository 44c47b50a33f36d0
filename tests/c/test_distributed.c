/* test_distributed.c: the group registry and the collective ops' dispatch. With no transport
 * init gives the singleton group and the collectives return their input; a transport
 * registered through mx_dist_register_backend (here a fake two-process "ring" whose all_sum
 * doubles, as if both ranks held the same array) receives the calls for larger groups. */
#include <string.h>

#include "../../src/core/distributed.h"
#include "../../src/core/error.h"
#include "../../src/core/eval.h"
#include "../../src/ops/ops.h"
#include "check.h"

#define CPU mx_default_stream((mx_device){MX_CPU, 0})

static mx_array *vec(void) {
  float v[3] = {1.0f, -2.0f, 3.5f};
  int32_t shape[1] = {3};
  return mx_array_from_data(v, MX_FLOAT32, 1, shape);
}

static void test_singleton(void) {
  CHECK(mx_dist_is_available("any") == 0);
  CHECK(mx_dist_is_available("bogus") == -1 && mx_error_kind_get() == MX_EINVAL);
  mx_group *g = mx_dist_init(false, "any");
  CHECK(g && g->rank == 0 && g->size == 1);
  CHECK(mx_dist_init(true, "any") == NULL && mx_error_kind_get() == MX_ERUNTIME);
  CHECK(mx_group_split(g, 0, -1) == NULL && mx_error_kind_get() == MX_ERUNTIME);
  mx_array *x = vec();
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

static mx_group *fake_init(bool strict);
static mx_array *fake_all_sum(mx_group *g, mx_array *x, mx_stream s) {
  (void)g;
  return mx_add(x, x, s);
}
static int freed;
static void fake_free(void *ctx) { freed += ctx == &freed; }
static const mx_dist_backend fake = {.name = "ring", .init = fake_init, .all_sum = fake_all_sum,
                                     .free_ctx = fake_free};
static mx_group *fake_init(bool strict) {
  (void)strict;
  return mx_group_new(1, 2, &fake, &freed);
}

static void test_plugged_backend(void) {
  CHECK_OK(mx_dist_register_backend(&fake));
  CHECK(mx_dist_is_available("ring") == 1 && mx_dist_is_available("any") == 1);
  CHECK(mx_dist_is_available("mpi") == 0);
  mx_group *g = mx_dist_init(true, "ring");
  CHECK(g && g->rank == 1 && g->size == 2);
  mx_array *x = vec();
  mx_array *r = mx_dist_all_sum(x, NULL, CPU);
  CHECK(r && mx_eval(&r, 1) == 0);
  if (r) {
    const float *p = mx_array_host_data(r);
    CHECK(p[0] == 2.0f && p[1] == -4.0f && p[2] == 7.0f);
    mx_array_release(r);
  }
  /* a transport without the collective raises instead of crashing */
  CHECK(mx_dist_all_max(x, g, CPU) == NULL && mx_error_kind_get() == MX_ERUNTIME);
  CHECK(mx_dist_send(x, 2, g, CPU) == NULL && mx_error_kind_get() == MX_EINVAL);
  mx_array_release(x);
  mx_group *again = mx_dist_init(false, "any");
  CHECK(again == g);
  mx_group_release(again);
  mx_group_release(g);
  CHECK(freed == 0); /* the registry still holds the global group */
}

int main(void) {
  RUN(test_singleton);
  RUN(test_plugged_backend);
  return check_failures;
}
