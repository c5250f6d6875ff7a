// Batched brightness / contrast jitter on NHWC float32 in [0, 255], one (b, c) pair per image:
//   y = clip(x * b, 0, 255);  out = clip(c * y + (1 - c) * mean_luma(y), 0, 255)
// NumPy twin: deeplake_nb/gpu/twins.py::color_jitter. Two launches: gray_mean (one block per
// image, float64 accumulation) then brightness_contrast (one thread per element).

#define LUMA_R 0.299f
#define LUMA_G 0.587f
#define LUMA_B 0.114f

__device__ __forceinline__ float bright(const float x, const float b)
{
    return fminf(fmaxf(__fmul_rn(x, b), 0.0f), 255.0f);
}

// means[i] = mean over pixels of the luma of clip(x * brightness[i]); blockDim.x must be a
// power of two; dynamic shared memory: blockDim.x doubles.
extern "C" __global__ void gray_mean(
    const float* __restrict__ src, const float* __restrict__ brightness, float* __restrict__ means,
    const int hw, const int c)
{
    extern __shared__ double partial[];
    const int i = blockIdx.x;
    const float b = brightness[i];
    const float* img = src + (long long)i * hw * c;
    double sum = 0.0;
    for (long long p = threadIdx.x; p < hw; p += blockDim.x) {
        const float* px = img + p * c;
        float luma;
        if (c == 1) {
            luma = bright(px[0], b);
        } else {
            luma = __fadd_rn(__fadd_rn(__fmul_rn(bright(px[0], b), LUMA_R), __fmul_rn(bright(px[1], b), LUMA_G)),
                             __fmul_rn(bright(px[2], b), LUMA_B));
        }
        sum += (double)luma;
    }
    partial[threadIdx.x] = sum;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) partial[threadIdx.x] += partial[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) means[i] = (float)(partial[0] / (double)hw);
}

extern "C" __global__ void brightness_contrast(
    const float* __restrict__ src, const float* __restrict__ brightness, const float* __restrict__ contrast,
    const float* __restrict__ means, float* __restrict__ out, const int n, const int hw, const int c)
{
    const long long idx = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long per_image = (long long)hw * c;
    if (idx >= per_image * n) return;
    const int i = (int)(idx / per_image);
    const float k = contrast[i];
    const float y = bright(src[idx], brightness[i]);
    const float v = __fadd_rn(__fmul_rn(k, y), __fmul_rn(1.0f - k, means[i]));
    out[idx] = fminf(fmaxf(v, 0.0f), 255.0f);
}
