/* slice_update.cu: the SliceUpdate primitive on CUDA, the twin of cpu/slice_update.c: out =
 * src with the strided region [start:stop:strides] replaced by update (broadcast to the
 * region). When out took over src's buffer (donation) only the region is written; else src
 * is copied first. Both steps are strided copies of copy.cu. */
#include "elementwise.cuh"

static int64_t slice_count(int64_t start, int64_t stop, int64_t step) {
  if (step > 0) return stop > start ? (stop - start + step - 1) / step : 0;
  return start > stop ? (start - stop - step - 1) / -step : 0;
}

extern "C" int mx_cuda_slice_update(const mx_kernel_ctx *ctx, const mx_tensor *in, int n_in,
                                    mx_tensor *out, int n_out) {
  const mx_p_slice_update *p = (const mx_p_slice_update *)ctx->params;
  if (n_in != 2 || n_out != 1 || !p)
    return mx_fail_int(MX_EINVAL, "[slice_update] Expected 2 inputs, 1 output and parameters.");
  const mx_tensor *src = &in[0], *upd = &in[1];
  cudaStream_t q = (cudaStream_t)ctx->queue;
  int dev = ctx->device_index;
  int nd = out->ndim;
  if (src->ndim != nd || src->size != out->size || p->start.n != nd || p->stop.n != nd ||
      p->strides.n != nd)
    return mx_fail_int(MX_EINVAL, "[slice_update] Parameters do not match the dimensions.");
  /* Donation may have handed out the update's buffer (input 0 was not donatable): keep a
   * private copy of the update before src is copied over it. */
  mxc_scratch_guard upd_mem(q);
  mx_tensor upd_copy;
  int64_t upd_inl[16], *upd_str = upd_inl;
  if (upd->data == out->data && src->data != out->data && upd->size > 0) {
    if (upd->ndim > 16 && !(upd_str = (int64_t *)malloc(sizeof(int64_t) * (size_t)upd->ndim)))
      return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.",
                         sizeof(int64_t) * (size_t)upd->ndim);
    int64_t acc = 1;
    for (int d = upd->ndim - 1; d >= 0; d--) {
      upd_str[d] = acc;
      acc *= upd->shape[d];
    }
    upd_copy = *upd;
    upd_copy.strides = upd_str;
    upd_copy.data = upd_mem.alloc((size_t)upd->size * (size_t)mx_dtype_size(upd->dtype));
    int rc = upd_copy.data ? mx_cuda_copy_strided(upd, &upd_copy, q, dev) : -1;
    if (rc < 0) {
      if (upd_str != upd_inl) free(upd_str);
      return -1;
    }
    upd = &upd_copy;
  }
  if (out->data != src->data || out->dtype != src->dtype) {
    if (mx_cuda_copy_strided(src, out, q, dev) < 0) {
      if (upd_str != upd_inl) free(upd_str);
      return -1;
    }
  }

  /* the region as a view of out, and update's strides broadcast to it */
  int cap = nd > 0 ? nd : 1;
  size_t bytes = (size_t)cap * (sizeof(int32_t) + 2 * sizeof(int64_t));
  char *mem = (char *)malloc(bytes);
  if (!mem) {
    if (upd_str != upd_inl) free(upd_str);
    return mx_fail_int(MX_ENOMEM, "[malloc] Unable to allocate %zu bytes.", bytes);
  }
  int64_t *rstr = (int64_t *)mem, *ustr = rstr + cap;
  int32_t *rshape = (int32_t *)(ustr + cap);
  int64_t off = 0, rsize = 1;
  int rc = 0;
  for (int d = 0; d < nd && rc == 0; d++) {
    int64_t st = p->start.v[d], step = p->strides.v[d];
    if (step == 0) {
      rc = mx_fail_int(MX_EINVAL, "[slice_update] Slice step cannot be zero.");
      break;
    }
    int64_t n = slice_count(st, p->stop.v[d], step);
    if (n > 0 && (st < 0 || st >= out->shape[d] || st + (n - 1) * step < 0 ||
                  st + (n - 1) * step >= out->shape[d]))
      rc = mx_fail_int(MX_EINDEX, "[slice_update] Slice of dim %d is out of bounds.", d);
    rshape[d] = (int32_t)n;
    rstr[d] = out->strides[d] * step;
    off += n > 0 ? st * out->strides[d] : 0;
    rsize *= n;
  }
  if (rc == 0 && rsize > 0) {
    mx_tensor region = *out;
    region.data = (char *)out->data + off * (int64_t)mx_dtype_size(out->dtype);
    region.shape = rshape;
    region.strides = rstr;
    region.size = rsize;
    region.flags = 0;
    if (ew_bstrides("slice_update", upd, &region, ustr) < 0) {
      rc = -1;
    } else {
      mx_tensor u = region;
      u.data = upd->data;
      u.dtype = upd->dtype;
      u.strides = ustr;
      rc = mx_cuda_copy_strided(&u, &region, q, dev);
    }
  }
  free(mem);
  if (upd_str != upd_inl) free(upd_str);
  return rc;
}
