// Batched random-resized-crop + horizontal flip, bilinear, uint8 HWC (ragged) -> float32 NHWC.
// NumPy twin: deeplake_nb/gpu/twins.py::resized_crop (same maths, float32).
//
// The images of a batch sit back to back in `src`; image i starts at byte offsets[i] and is
// heights[i] x widths[i] x channels[i] (channels 1 or out_c; a 1-channel image is broadcast).
// boxes[i] = [top, left, height, width] in source pixels (may be fractional). Output pixel
// (oy, ox) samples source (top + (oy + 0.5) * height / out_h - 0.5, ...), clamped to the image;
// when flips[i] is set, ox is mirrored first. One thread per output pixel.

extern "C" __global__ void resized_crop_bilinear(
    const unsigned char* __restrict__ src, const long long* __restrict__ offsets,
    const int* __restrict__ heights, const int* __restrict__ widths, const int* __restrict__ channels,
    const float* __restrict__ boxes, const unsigned char* __restrict__ flips,
    float* __restrict__ out, const int n, const int out_h, const int out_w, const int out_c)
{
    const long long pixel = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    const long long per_image = (long long)out_h * out_w;
    if (pixel >= per_image * n) return;
    const int i = (int)(pixel / per_image);
    const int oy = (int)((pixel % per_image) / out_w);
    int ox = (int)(pixel % out_w);
    if (flips[i]) ox = out_w - 1 - ox;

    const int h = heights[i], w = widths[i], c = channels[i];
    const float* box = boxes + 4 * i;
    const float step_y = box[2] / (float)out_h;
    const float step_x = box[3] / (float)out_w;
    float sy = __fsub_rn(__fadd_rn(box[0], __fmul_rn((float)oy + 0.5f, step_y)), 0.5f);
    float sx = __fsub_rn(__fadd_rn(box[1], __fmul_rn((float)ox + 0.5f, step_x)), 0.5f);
    sy = fminf(fmaxf(sy, 0.0f), (float)(h - 1));
    sx = fminf(fmaxf(sx, 0.0f), (float)(w - 1));
    const int y0 = (int)floorf(sy), x0 = (int)floorf(sx);
    const int y1 = min(y0 + 1, h - 1), x1 = min(x0 + 1, w - 1);
    const float wy = sy - (float)y0, wx = sx - (float)x0;

    const unsigned char* img = src + offsets[i];
    const long long r0 = (long long)y0 * w, r1 = (long long)y1 * w;
    float* o = out + pixel * out_c;
    for (int k = 0; k < out_c; ++k) {
        const int ch = (c == 1) ? 0 : k;
        const float a = img[(r0 + x0) * c + ch], b = img[(r0 + x1) * c + ch];
        const float d = img[(r1 + x0) * c + ch], e = img[(r1 + x1) * c + ch];
        const float upper = __fadd_rn(__fmul_rn(a, 1.0f - wx), __fmul_rn(b, wx));
        const float lower = __fadd_rn(__fmul_rn(d, 1.0f - wx), __fmul_rn(e, wx));
        o[k] = __fadd_rn(__fmul_rn(upper, 1.0f - wy), __fmul_rn(lower, wy));
    }
}
