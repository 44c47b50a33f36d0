"""mx.fast.cuda_kernel and precompiled_cuda_kernel (run on the CUDA back-end; skipped with a
reason elsewhere), what builds without CUDA do with them, and the mx.metal / mx.cuda modules."""
import numpy as np
import pytest

import mlx.core as mx


def _cuda_build():
    try:
        mx.fast.cuda_kernel("probe", ["a"], ["b"], "b[0] = a[0];")
        return True
    except RuntimeError:
        return False


CUDA_BUILD = _cuda_build()
needs_gpu = pytest.mark.skipif(not (CUDA_BUILD and mx.cuda.is_available()),
                               reason="needs the CUDA back-end and an NVIDIA GPU")
GPU = mx.gpu

EXP_SOURCE = """
    auto elem = cooperative_groups::this_grid().thread_rank();
    T tmp = inp[elem];
    out[elem] = exp(tmp);
"""

# PTX of `extern "C" __global__ void add_scalar(const float* a, float* out, float s, int n)`
# (out[i] = a[i] + s for i < n), made with `nvcc -ptx -arch=compute_90`.
ADD_SCALAR_PTX = """.version 9.0
.target sm_90
.address_size 64
	// .globl	add_scalar
.visible .entry add_scalar(
	.param .u64 add_scalar_param_0,
	.param .u64 add_scalar_param_1,
	.param .f32 add_scalar_param_2,
	.param .u32 add_scalar_param_3
)
{
	.reg .pred 	%p<2>;
	.reg .f32 	%f<4>;
	.reg .b32 	%r<6>;
	.reg .b64 	%rd<8>;
	ld.param.u64 	%rd1, [add_scalar_param_0];
	ld.param.u64 	%rd2, [add_scalar_param_1];
	ld.param.f32 	%f1, [add_scalar_param_2];
	ld.param.u32 	%r2, [add_scalar_param_3];
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mov.u32 	%r5, %tid.x;
	mad.lo.s32 	%r1, %r3, %r4, %r5;
	setp.ge.s32 	%p1, %r1, %r2;
	@%p1 bra 	$L__BB0_2;
	cvta.to.global.u64 	%rd3, %rd1;
	mul.wide.s32 	%rd4, %r1, 4;
	add.s64 	%rd5, %rd3, %rd4;
	ld.global.f32 	%f2, [%rd5];
	add.f32 	%f3, %f2, %f1;
	cvta.to.global.u64 	%rd6, %rd2;
	add.s64 	%rd7, %rd6, %rd4;
	st.global.f32 	[%rd7], %f3;
$L__BB0_2:
	ret;
}
"""


def test_backend_modules():
    assert mx.metal.is_available() is False
    assert isinstance(mx.cuda.is_available(), bool)
    assert mx.metal.start_capture("trace.gputrace") is None
    assert mx.metal.stop_capture() is None
    assert mx.metal.device_info() == {}
    assert mx.metal.get_active_memory() == mx.get_active_memory()
    import mlx.core.metal  # noqa: F401  (importable as modules, as MLX's)
    import mlx.core.cuda  # noqa: F401


@pytest.mark.skipif(CUDA_BUILD, reason="CUDA build: the builders work")
def test_builders_raise_without_cuda():
    with pytest.raises(RuntimeError, match=r"\[cuda_kernel\] No CUDA back-end"):
        mx.fast.cuda_kernel("k", ["a"], ["b"], "b[0] = a[0];", header="", shared_memory=0)
    with pytest.raises(RuntimeError, match=r"\[cuda_kernel\]"):
        mx.fast.precompiled_cuda_kernel(name="k", compiled_source=b"", inputs=[mx.ones(3)],
                                        output_shapes=[(3,)], output_dtypes=[mx.float32],
                                        scalars=[], grid=(1, 1, 1), threadgroup=(1, 1, 1))


def test_builder_argument_types():
    with pytest.raises(TypeError):
        mx.fast.cuda_kernel(1, ["a"], ["b"], "x")
    with pytest.raises(TypeError):
        mx.fast.cuda_kernel("k", ["a"], ["b"])


@needs_gpu
@pytest.mark.parametrize("dt", [mx.float32, mx.float16, mx.bfloat16, mx.float64])
def test_exp_elementwise(dt):
    a = mx.random.normal(shape=(4, 16), stream=mx.cpu).astype(dt)
    half = dt in (mx.float16, mx.bfloat16)
    src = EXP_SOURCE.replace("exp(tmp)", "T(exp(float(tmp)))") if half else EXP_SOURCE
    kernel = mx.fast.cuda_kernel(name="myexp", input_names=["inp"], output_names=["out"],
                                 source=src)
    # 64 elements in blocks of 32: no thread past the end (the body has no bounds check)
    out = kernel(inputs=[a], template=[("T", dt)], grid=(a.size, 1, 1), threadgroup=(32, 1, 1),
                 output_shapes=[a.shape], output_dtypes=[dt], stream=GPU)
    assert isinstance(out, list) and len(out) == 1
    assert out[0].shape == a.shape and out[0].dtype == dt
    ref = np.exp(np.array(a.astype(mx.float32)).astype(np.float64))
    tol = {mx.float32: 1e-6, mx.float64: 1e-12, mx.float16: 1e-3, mx.bfloat16: 1e-2}[dt]
    got = np.array(out[0].astype(mx.float32) if half else out[0]).astype(np.float64)
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)
    # called again (cached module), and composed with other ops
    again = kernel(inputs=[a], template=[("T", dt)], grid=(a.size, 1, 1),
                   threadgroup=(32, 1, 1), output_shapes=[a.shape], output_dtypes=[dt],
                   stream=GPU)[0]
    assert mx.array_equal(again, out[0]).item()
    assert mx.allclose((again * 2).astype(mx.float32), (out[0] * 2).astype(mx.float32)).item()


@needs_gpu
@pytest.mark.parametrize("row_contiguous", [False, True])
def test_strided_inputs(row_contiguous):
    source = """
        uint32_t elem = blockIdx.x * blockDim.x + threadIdx.x;
        if (elem < out_size) {
          int64_t loc = elem_to_loc(int64_t(elem), inp_shape.data(), inp_strides.data(), inp_ndim);
          out[elem] = inp[loc] * 2.0f;
        }
    """
    kernel = mx.fast.cuda_kernel("twice", ["inp"], ["out"], source,
                                 ensure_row_contiguous=row_contiguous)
    rng = np.random.default_rng(7)
    base = rng.standard_normal((5, 6, 7)).astype(np.float32)
    for view in (lambda x: x.transpose(2, 0, 1), lambda x: x[:, ::2, 1:], lambda x: x):
        a = view(mx.array(base))
        out = kernel(inputs=[a], template=[("out_size", a.size)], grid=(a.size, 1, 1),
                     threadgroup=(128, 1, 1), output_shapes=[a.shape],
                     output_dtypes=[mx.float32], stream=GPU)[0]
        np.testing.assert_array_equal(np.array(out), view(base) * 2)


@needs_gpu
def test_templates_outputs_init_value_and_atomics():
    source = """
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < n) {
          atomicAdd(&hist[int(vals[i]) % BINS], 1);
          scaled[i] = doubled ? U(vals[i]) * U(2) : U(vals[i]);
        }
    """
    kernel = mx.fast.cuda_kernel("hist", ["vals"], ["hist", "scaled"], source)
    v = mx.array(np.arange(1000) % 13, dtype=mx.int32)
    hist, scaled = kernel(inputs=[v], template=[("BINS", 8), ("doubled", True), ("U", mx.float32),
                                                ("n", 1000)],
                          grid=(1000, 1, 1), threadgroup=(256, 1, 1),
                          output_shapes=[(8,), (1000,)], output_dtypes=[mx.int32, mx.float32],
                          init_value=0, stream=GPU)
    np.testing.assert_array_equal(np.array(hist), np.bincount(np.arange(1000) % 13 % 8,
                                                              minlength=8))
    np.testing.assert_array_equal(np.array(scaled), (np.arange(1000) % 13) * 2.0)
    # a non-zero initial value fills every output element first
    k2 = mx.fast.cuda_kernel("noop", ["x"], ["y"], "if (threadIdx.x == 0) y[0] = x[0];")
    y = k2(inputs=[mx.array([5.0], dtype=mx.float16)], grid=(1, 1, 1), threadgroup=(1, 1, 1),
           output_shapes=[(3, 4)], output_dtypes=[mx.float16], init_value=1.5, stream=GPU)[0]
    ref = np.full((3, 4), 1.5, np.float16)
    ref.flat[0] = 5.0
    np.testing.assert_array_equal(np.array(y), ref)


@needs_gpu
def test_shared_memory_block_sum():
    source = """
        extern __shared__ float part[];
        int t = threadIdx.x;
        part[t] = x[blockIdx.x * blockDim.x + t];
        __syncthreads();
        for (int s = blockDim.x / 2; s > 0; s >>= 1) {
          if (t < s) part[t] += part[t + s];
          __syncthreads();
        }
        if (t == 0) sums[blockIdx.x] = part[0];
    """
    kernel = mx.fast.cuda_kernel("block_sum", ["x"], ["sums"], source, shared_memory=256 * 4)
    x = np.random.default_rng(3).standard_normal(256 * 16).astype(np.float32)
    sums = kernel(inputs=[mx.array(x)], grid=(x.size, 1, 1), threadgroup=(256, 1, 1),
                  output_shapes=[(16,)], output_dtypes=[mx.float32], stream=GPU)[0]
    np.testing.assert_allclose(np.array(sums), x.reshape(16, 256).sum(1), rtol=1e-5, atol=1e-5)


@needs_gpu
def test_verbose_prints_source(capfd):
    kernel = mx.fast.cuda_kernel("shown", ["inp"], ["out"], "out[threadIdx.x] = inp[threadIdx.x];")
    out = kernel(inputs=[mx.arange(4, dtype=mx.float32)], grid=(4, 1, 1), threadgroup=(4, 1, 1),
                 output_shapes=[(4,)], output_dtypes=[mx.float32], verbose=True, stream=GPU)[0]
    mx.eval(out)
    text = capfd.readouterr().out
    assert "__global__ void custom_kernel_shown" in text and "const float* inp" in text
    np.testing.assert_array_equal(np.array(out), np.arange(4, dtype=np.float32))


@needs_gpu
def test_errors():
    kernel = mx.fast.cuda_kernel("err", ["a"], ["b"], "b[0] = a[0];")
    call = dict(output_shapes=[(1,)], output_dtypes=[mx.float32], grid=(1, 1, 1),
                threadgroup=(1, 1, 1))
    with pytest.raises(ValueError, match=r"\[cuda_kernel\] Only supports the GPU"):
        kernel(inputs=[mx.ones(1)], stream=mx.cpu, **call)
    with pytest.raises(ValueError, match=r"Expected `inputs` to have size 1 but got size 2"):
        kernel(inputs=[mx.ones(1), mx.ones(1)], stream=GPU, **call)
    with pytest.raises(ValueError, match=r"threadgroup"):
        kernel(inputs=[mx.ones(1)], stream=GPU, output_shapes=[(1,)],
               output_dtypes=[mx.float32], grid=(1, 1, 1), threadgroup=(2048, 1, 1))
    with pytest.raises(ValueError, match=r"at least one output"):
        mx.fast.cuda_kernel("none", ["a"], [], "")
    with pytest.raises(TypeError):
        kernel(inputs=[mx.ones(1)], template=[("T", "float")], stream=GPU, **call)
    broken = mx.fast.cuda_kernel("broken", ["a"], ["b"], "b[0] = a[0] +;")
    with pytest.raises(RuntimeError, match=r"Failed to compile"):
        mx.eval(broken(inputs=[mx.ones(1)], stream=GPU, **call)[0])
    # the stream is still usable after the failure
    ok = kernel(inputs=[mx.array([3.0])], stream=GPU, **call)[0]
    assert ok.item() == 3.0


@needs_gpu
def test_precompiled_ptx():
    a = mx.arange(100, dtype=mx.float32)
    out = mx.fast.precompiled_cuda_kernel(
        name="add_scalar", compiled_source=ADD_SCALAR_PTX.encode(), inputs=[a],
        output_shapes=[(100,)], output_dtypes=[mx.float32], scalars=[2.5, 100],
        grid=(100, 1, 1), threadgroup=(64, 1, 1), stream=GPU)
    np.testing.assert_array_equal(np.array(out[0]), np.arange(100, dtype=np.float32) + 2.5)
    with pytest.raises(ValueError, match=r"no function"):
        mx.eval(mx.fast.precompiled_cuda_kernel(
            name="missing", compiled_source=ADD_SCALAR_PTX.encode(), inputs=[a],
            output_shapes=[(100,)], output_dtypes=[mx.float32], scalars=[2.5, 100],
            grid=(100, 1, 1), threadgroup=(64, 1, 1), stream=GPU)[0])
    with pytest.raises(TypeError):
        mx.fast.precompiled_cuda_kernel(
            name="add_scalar", compiled_source=ADD_SCALAR_PTX, inputs=[a],
            output_shapes=[(100,)], output_dtypes=[mx.float32], scalars=[], grid=(1, 1, 1),
            threadgroup=(1, 1, 1), stream=GPU)
