/* dataio.cpu_fallback._pixels: the fused HWC uint8 -> CHW float32 affine in one pass.
 *
 * The last step of most image pipelines, out[c, y, x] = pixels[y, x, c] * scale[c] + bias[c],
 * writes 12 bytes per input pixel into a batch buffer far larger than the caches. numpy needs
 * two passes (multiply, then add) and reads the output back for the second; this kernel reads
 * each pixel once and writes each output once. On a CPU with AVX2 + FMA, eight pixels at a
 * time are widened, multiplied and added in one rounding, and stored past the caches
 * (streaming stores: the batch is read by the consumer later, not by this thread) — for
 * interleaved RGB (what resizes and decoders return: the channels are split with byte
 * shuffles) and for planar channels. Other layouts and CPUs take a plain loop.
 *
 * Values: within 1 ulp (with FMA; 2 without, like numpy's two passes) of the exact
 * x * scale + bias, ulps taken at the terms' magnitude |x * scale| + |bias| (where the bias
 * nearly cancels, relative to the result it is more). The GIL is released while the loop runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_X86_DISPATCH 1
#endif

#define MAX_CHANNELS 4

typedef struct {
    const uint8_t *pixels;
    Py_ssize_t height, width, channels;
    Py_ssize_t row_stride, pixel_stride, channel_stride;
    float *out;
    float scale[MAX_CHANNELS], bias[MAX_CHANNELS];
} Affine;

static void affine_plain(const Affine *a)
{
    for (Py_ssize_t c = 0; c < a->channels; c++) {
        const float scale = a->scale[c], bias = a->bias[c];
        for (Py_ssize_t y = 0; y < a->height; y++) {
            const uint8_t *row = a->pixels + y * a->row_stride + c * a->channel_stride;
            float *out = a->out + (c * a->height + y) * a->width;
            for (Py_ssize_t x = 0; x < a->width; x++)
                out[x] = (float)row[x * a->pixel_stride] * scale + bias;
        }
    }
}

#ifdef HAVE_X86_DISPATCH
/* Planar channels (pixel_stride 1): eight pixels per step, FMA, streaming stores. */
__attribute__((target("avx2,fma"))) static void affine_planar_avx2(const Affine *a)
{
    for (Py_ssize_t c = 0; c < a->channels; c++) {
        const float scale = a->scale[c], bias = a->bias[c];
        const __m256 vscale = _mm256_set1_ps(scale), vbias = _mm256_set1_ps(bias);
        for (Py_ssize_t y = 0; y < a->height; y++) {
            const uint8_t *row = a->pixels + y * a->row_stride + c * a->channel_stride;
            float *out = a->out + (c * a->height + y) * a->width;
            Py_ssize_t x = 0;
            for (; x < a->width && ((uintptr_t)(out + x) & 31) != 0; x++) /* up to a 32-byte boundary */
                out[x] = fmaf((float)row[x], scale, bias);
            for (; x + 8 <= a->width; x += 8) {
                __m128i eight = _mm_loadl_epi64((const __m128i *)(row + x));
                __m256 values = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(eight));
                _mm256_stream_ps(out + x, _mm256_fmadd_ps(values, vscale, vbias));
            }
            for (; x < a->width; x++)
                out[x] = fmaf((float)row[x], scale, bias);
        }
    }
    _mm_sfence();
}

/* Interleaved RGB (pixel_stride 3, channel_stride 1): eight pixels (24 bytes) per step, split into
 * channels with byte shuffles, then as above. */
__attribute__((target("avx2,fma"))) static void affine_rgb_avx2(const Affine *a)
{
    const __m128i r_lo = _mm_setr_epi8(0, 3, 6, 9, 12, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i r_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, 2, 5, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i g_lo = _mm_setr_epi8(1, 4, 7, 10, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i g_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, 0, 3, 6, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i b_lo = _mm_setr_epi8(2, 5, 8, 11, 14, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i b_hi = _mm_setr_epi8(-1, -1, -1, -1, -1, 1, 4, 7, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256 s0 = _mm256_set1_ps(a->scale[0]), s1 = _mm256_set1_ps(a->scale[1]), s2 = _mm256_set1_ps(a->scale[2]);
    const __m256 b0 = _mm256_set1_ps(a->bias[0]), b1 = _mm256_set1_ps(a->bias[1]), b2 = _mm256_set1_ps(a->bias[2]);
    const Py_ssize_t plane = a->height * a->width;
    /* streaming stores need 32-byte aligned rows: every row of every plane starts aligned */
    const int aligned = ((uintptr_t)a->out & 31) == 0 && (a->width & 7) == 0;

    for (Py_ssize_t y = 0; y < a->height; y++) {
        const uint8_t *row = a->pixels + y * a->row_stride;
        float *r = a->out + y * a->width, *g = r + plane, *b = g + plane;
        Py_ssize_t x = 0;
        for (; x + 8 <= a->width; x += 8) {
            const __m128i lo = _mm_loadu_si128((const __m128i *)(row + 3 * x));
            const __m128i hi = _mm_loadl_epi64((const __m128i *)(row + 3 * x + 16));
            __m128i red = _mm_or_si128(_mm_shuffle_epi8(lo, r_lo), _mm_shuffle_epi8(hi, r_hi));
            __m128i green = _mm_or_si128(_mm_shuffle_epi8(lo, g_lo), _mm_shuffle_epi8(hi, g_hi));
            __m128i blue = _mm_or_si128(_mm_shuffle_epi8(lo, b_lo), _mm_shuffle_epi8(hi, b_hi));
            __m256 vr = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(red)), s0, b0);
            __m256 vg = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(green)), s1, b1);
            __m256 vb = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(blue)), s2, b2);
            if (aligned) {
                _mm256_stream_ps(r + x, vr);
                _mm256_stream_ps(g + x, vg);
                _mm256_stream_ps(b + x, vb);
            } else {
                _mm256_storeu_ps(r + x, vr);
                _mm256_storeu_ps(g + x, vg);
                _mm256_storeu_ps(b + x, vb);
            }
        }
        for (; x < a->width; x++) {
            r[x] = fmaf((float)row[3 * x], a->scale[0], a->bias[0]);
            g[x] = fmaf((float)row[3 * x + 1], a->scale[1], a->bias[1]);
            b[x] = fmaf((float)row[3 * x + 2], a->scale[2], a->bias[2]);
        }
    }
    _mm_sfence();
}

static int has_avx2_fma;
#endif

/* Fills the channel coefficients from a buffer of `channels` float32 values. */
static int read_coefficients(PyObject *source, float *into, Py_ssize_t channels, const char *name)
{
    Py_buffer view;
    int ok;

    if (PyObject_GetBuffer(source, &view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    ok = view.itemsize == 4 && view.format != NULL && strcmp(view.format, "f") == 0 && view.len == channels * 4;
    if (ok)
        memcpy(into, view.buf, (size_t)channels * sizeof(float));
    PyBuffer_Release(&view);
    if (!ok)
        PyErr_Format(PyExc_ValueError, "%s must hold %zd float32 values, one per channel", name, channels);
    return ok ? 0 : -1;
}

PyDoc_STRVAR(affine_to_chw_doc,
"affine_to_chw(pixels, out, scale, bias)\n\n"
"out[c, y, x] = pixels[y, x, c] * scale[c] + bias[c].\n\n"
"``pixels``: an HWC uint8 buffer with 1-4 channels and any strides (a numpy view);\n"
"``out``: a C-contiguous, writable CHW float32 buffer of the same height, width and\n"
"channels; ``scale``, ``bias``: float32 buffers with one value per channel.");

static PyObject *affine_to_chw(PyObject *module, PyObject *args)
{
    PyObject *pixels_obj, *out_obj, *scale_obj, *bias_obj;
    Py_buffer pixels, out;
    Affine a;

    if (!PyArg_ParseTuple(args, "OOOO:affine_to_chw", &pixels_obj, &out_obj, &scale_obj, &bias_obj))
        return NULL;
    if (PyObject_GetBuffer(pixels_obj, &pixels, PyBUF_RECORDS_RO) < 0)
        return NULL;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_WRITABLE | PyBUF_FORMAT) < 0) {
        PyBuffer_Release(&pixels);
        return NULL;
    }
    if (pixels.ndim != 3 || pixels.itemsize != 1 || strcmp(pixels.format, "B") != 0 || pixels.shape[2] < 1 ||
        pixels.shape[2] > MAX_CHANNELS) {
        PyErr_SetString(PyExc_ValueError, "pixels must be an HWC uint8 array with 1-4 channels");
        goto fail;
    }
    a.height = pixels.shape[0];
    a.width = pixels.shape[1];
    a.channels = pixels.shape[2];
    if (out.itemsize != 4 || out.format == NULL || strcmp(out.format, "f") != 0 ||
        out.len != a.channels * a.height * a.width * 4) {
        PyErr_SetString(PyExc_ValueError, "out must be a contiguous CHW float32 array matching pixels");
        goto fail;
    }
    if (read_coefficients(scale_obj, a.scale, a.channels, "scale") < 0 ||
        read_coefficients(bias_obj, a.bias, a.channels, "bias") < 0)
        goto fail;
    a.pixels = pixels.buf;
    a.row_stride = pixels.strides[0];
    a.pixel_stride = pixels.strides[1];
    a.channel_stride = pixels.strides[2];
    a.out = out.buf;
    Py_BEGIN_ALLOW_THREADS
#ifdef HAVE_X86_DISPATCH
    if (has_avx2_fma && a.pixel_stride == 1)
        affine_planar_avx2(&a);
    else if (has_avx2_fma && a.channels == 3 && a.pixel_stride == 3 && a.channel_stride == 1)
        affine_rgb_avx2(&a);
    else
#endif
        affine_plain(&a);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&out);
    Py_RETURN_NONE;

fail:
    PyBuffer_Release(&pixels);
    PyBuffer_Release(&out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"affine_to_chw", affine_to_chw, METH_VARARGS, affine_to_chw_doc},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    const char *path = "plain loops";
#ifdef HAVE_X86_DISPATCH
    __builtin_cpu_init();
    has_avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (has_avx2_fma)
        path = "avx2+fma";
#endif
    return PyModule_AddStringConstant(module, "KERNEL", path);
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_pixels",
    .m_doc = "The fused HWC uint8 -> CHW float32 affine (see _pixels.c).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__pixels(void)
{
    return PyModuleDef_Init(&module_def);
}
