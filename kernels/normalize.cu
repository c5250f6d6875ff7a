// Fused cast + normalise + layout change: NHWC (uint8 or float32, values in [0, 255]) ->
// NCHW float32, out = x * scale[c] + shift[c] with scale = 1 / (255 std), shift = -mean / std.
// NumPy twin: deeplake_nb/gpu/twins.py::normalize. One thread per output element, so writes
// are coalesced; reads stride by C.

template <typename T>
__device__ __forceinline__ void normalize_impl(
    const T* __restrict__ src, const float* __restrict__ scale, const float* __restrict__ shift,
    float* __restrict__ out, const int n, const int hw, const int c)
{
    const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long plane = (long long)hw;
    if (idx >= plane * c * n) return;
    const long long p = idx % plane;
    const int ch = (int)((idx / plane) % c);
    const long long i = idx / (plane * c);
    const float x = (float)src[(i * plane + p) * c + ch];
    out[idx] = __fadd_rn(__fmul_rn(x, scale[ch]), shift[ch]);
}

extern "C" __global__ void normalize_hwc_to_chw_u8(
    const unsigned char* __restrict__ src, const float* __restrict__ scale,
    const float* __restrict__ shift, float* __restrict__ out, const int n, const int hw, const int c)
{
    normalize_impl<unsigned char>(src, scale, shift, out, n, hw, c);
}

extern "C" __global__ void normalize_hwc_to_chw_f32(
    const float* __restrict__ src, const float* __restrict__ scale,
    const float* __restrict__ shift, float* __restrict__ out, const int n, const int hw, const int c)
{
    normalize_impl<float>(src, scale, shift, out, n, hw, c);
}
