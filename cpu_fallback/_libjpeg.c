/* dataio.cpu_fallback._libjpeg: region decoding of JPEGs through the system's libjpeg-turbo.
 *
 * A centre or random crop after a resize reads only part of the source image. libjpeg-turbo
 * can decode just that part: jpeg_crop_scanline() limits the IDCT, upsampling and colour
 * conversion to a range of iMCU columns, jpeg_skip_scanlines() entropy-decodes the rows above
 * the region without reconstructing them, and the rows below it are never read. No Python
 * binding exposes those two calls, so this module does: the smallest binding that lets the CPU
 * fallback skip the pixels a pipeline throws away.
 *
 * The decoder settings are Pillow's (accurate integer IDCT, fancy upsampling, the power-of-two
 * DCT scales of Pillow's draft), so every pixel inside the requested region equals Pillow's
 * decode of the whole image (tested). The buffer has the whole image's shape and is zero
 * outside the region, so whatever resamples it sees the same image size as after a whole
 * decode (Pillow's resampling, for one, depends on it).
 *
 * Errors never leave through libjpeg's default handler (which exits the process): a longjmp
 * returns them here as ValueError. Any libjpeg warning (corrupt data it would paper over) is
 * an error too, so the caller can hand the payload to Pillow, which words the failure.
 * The GIL is released while libjpeg works on the payload.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <jpeglib.h>

#if !defined(LIBJPEG_TURBO_VERSION_NUMBER) || LIBJPEG_TURBO_VERSION_NUMBER < 1005000
#error "region decoding needs libjpeg-turbo 1.5 or newer (jpeg_crop_scanline, jpeg_skip_scanlines)"
#endif

#define STRINGIFY(token) #token
#define VERSION_STRING(token) STRINGIFY(token)

#define ROWS_PER_READ 16 /* one iMCU row of a 4:2:0 image: what one read call can deliver */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
    char message[JMSG_LENGTH_MAX];
} ErrorManager;

static void error_exit(j_common_ptr cinfo)
{
    ErrorManager *err = (ErrorManager *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, err->message);
    longjmp(err->escape, 1);
}

static void emit_message(j_common_ptr cinfo, int level)
{
    ErrorManager *err = (ErrorManager *)cinfo->err;
    if (level < 0) { /* a warning: corrupt data libjpeg would decode anyway */
        if (err->pub.num_warnings == 0)
            (*cinfo->err->format_message)(cinfo, err->message);
        err->pub.num_warnings++;
    }
}

/* Routes libjpeg's errors and warnings to err; call before jpeg_create_decompress (whose own
 * errors then longjmp too, with cinfo->mem still NULL, which jpeg_destroy_decompress accepts). */
static void init_decompress(struct jpeg_decompress_struct *cinfo, ErrorManager *err)
{
    cinfo->mem = NULL;
    cinfo->err = jpeg_std_error(&err->pub);
    err->pub.error_exit = error_exit;
    err->pub.emit_message = emit_message;
    err->message[0] = '\0';
}

static const char *colour_space_name(J_COLOR_SPACE space)
{
    switch (space) {
    case JCS_GRAYSCALE: return "Gray";
    case JCS_RGB: return "RGB";
    case JCS_YCbCr: return "YCbCr";
    case JCS_CMYK: return "CMYK";
    case JCS_YCCK: return "YCCK";
    default: return "unknown";
    }
}

PyDoc_STRVAR(header_doc,
"header(data) -> (width, height, colour_space)\n\n"
"The JPEG's stored size and colour space ('Gray', 'RGB', 'YCbCr', 'CMYK', 'YCCK' or\n"
"'unknown'), as libjpeg reads them. Raises ValueError for data libjpeg rejects.");

static PyObject *header(PyObject *module, PyObject *arg)
{
    Py_buffer data;
    struct jpeg_decompress_struct cinfo;
    ErrorManager err;
    PyObject *result;

    if (PyObject_GetBuffer(arg, &data, PyBUF_SIMPLE) < 0)
        return NULL;
    init_decompress(&cinfo, &err);
    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&cinfo);
        PyBuffer_Release(&data);
        return PyErr_Format(PyExc_ValueError, "not a readable JPEG header: %s", err.message);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (const unsigned char *)data.buf, (unsigned long)data.len);
    jpeg_read_header(&cinfo, TRUE);
    result = Py_BuildValue("(IIs)", (unsigned int)cinfo.image_width, (unsigned int)cinfo.image_height,
                           colour_space_name(cinfo.jpeg_color_space));
    jpeg_destroy_decompress(&cinfo);
    PyBuffer_Release(&data);
    return result;
}

/* Decoded pixels in memory libjpeg filled without the GIL, exposed through the buffer protocol
 * as a writable (rows, columns, channels) uint8 array: numpy wraps it without a copy. */
typedef struct {
    PyObject_HEAD
    unsigned char *pixels;
    Py_ssize_t shape[3];
    Py_ssize_t strides[3];
} Pixels;

static int pixels_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    Pixels *p = (Pixels *)self;
    if ((flags & PyBUF_F_CONTIGUOUS) == PyBUF_F_CONTIGUOUS && p->shape[1] * p->shape[2] > 1) {
        PyErr_SetString(PyExc_BufferError, "decoded pixels are C-contiguous (HWC), not Fortran-contiguous");
        view->obj = NULL;
        return -1;
    }
    view->buf = p->pixels;
    view->len = p->shape[0] * p->shape[1] * p->shape[2];
    view->readonly = 0;
    view->itemsize = 1;
    view->format = (flags & PyBUF_FORMAT) ? "B" : NULL;
    if (flags & PyBUF_ND) {
        view->ndim = 3;
        view->shape = p->shape;
        view->strides = (flags & PyBUF_STRIDES) ? p->strides : NULL;
    } else { /* a plain byte buffer, as PyBuffer_FillInfo gives */
        view->ndim = 1;
        view->shape = NULL;
        view->strides = NULL;
    }
    view->suboffsets = NULL;
    view->internal = NULL;
    view->obj = Py_NewRef(self);
    return 0;
}

static void pixels_dealloc(PyObject *self)
{
    free(((Pixels *)self)->pixels);
    Py_TYPE(self)->tp_free(self);
}

static PyBufferProcs pixels_as_buffer = {pixels_getbuffer, NULL};

static PyTypeObject PixelsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "dataio.cpu_fallback._libjpeg.Pixels",
    .tp_basicsize = sizeof(Pixels),
    .tp_dealloc = pixels_dealloc,
    .tp_as_buffer = &pixels_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Decoded HWC uint8 pixels (a writable buffer; wrap with numpy.asarray).",
};

/* What decode_region hands back. The pointer is volatile: it is set after setjmp and freed
 * after a longjmp, so it must not live only in a register. */
typedef struct {
    unsigned char *volatile pixels;
    JDIMENSION rows, cols;
    int channels;
} Region;

/* Decodes the image at 1/scale into region->pixels (height x width x channels), reconstructing only
 * the iMCU columns around [x0, x1) and only rows [y0, y1); every other pixel is zero. Returns NULL
 * on success, else the error text. Runs without the GIL; libjpeg errors longjmp out. */
static const char *decode_region(struct jpeg_decompress_struct *cinfo, ErrorManager *err,
                                 const unsigned char *bytes, size_t size, int scale, int grey,
                                 JDIMENSION x0, JDIMENSION y0, JDIMENSION x1, JDIMENSION y1, Region *region)
{
    JDIMENSION width, height, xoffset, cropped, row;
    size_t stride, pixel, left, right;
    JSAMPROW rows[ROWS_PER_READ];

    jpeg_mem_src(cinfo, bytes, (unsigned long)size);
    jpeg_read_header(cinfo, TRUE);
    cinfo->out_color_space = grey ? JCS_GRAYSCALE : JCS_RGB;
    cinfo->scale_num = 1;
    cinfo->scale_denom = (unsigned int)scale;
    cinfo->dct_method = JDCT_ISLOW;
    cinfo->do_fancy_upsampling = TRUE;
    jpeg_start_decompress(cinfo);
    width = cinfo->output_width;
    height = cinfo->output_height;
    if (x1 > width) x1 = width;
    if (y1 > height) y1 = height;
    if (x0 >= x1 || y0 >= y1)
        return "the region is empty or outside the decoded image";
    xoffset = x0;
    cropped = x1 - x0;
    if (xoffset > 0 || cropped < width)
        jpeg_crop_scanline(cinfo, &xoffset, &cropped); /* widened to whole iMCU columns */
    pixel = (size_t)cinfo->output_components;
    stride = (size_t)width * pixel;
    if ((size_t)height > (size_t)PY_SSIZE_T_MAX / stride)
        return "the decoded image is too large for this platform";
    region->pixels = malloc((size_t)height * stride);
    if (region->pixels == NULL)
        return "out of memory";
    region->rows = height;
    region->cols = width;
    region->channels = (int)pixel;
    left = (size_t)xoffset * pixel;
    right = (size_t)(width - xoffset - cropped) * pixel;
    memset(region->pixels, 0, (size_t)y0 * stride);
    memset(region->pixels + (size_t)y1 * stride, 0, (size_t)(height - y1) * stride);
    for (row = y0; row < y1; row++) {
        memset(region->pixels + (size_t)row * stride, 0, left);
        memset(region->pixels + (size_t)(row + 1) * stride - right, 0, right);
    }
    if (y0 > 0 && jpeg_skip_scanlines(cinfo, y0) != y0)
        return "the data ends before the region";
    for (row = y0; row < y1;) {
        JDIMENSION count = y1 - row < ROWS_PER_READ ? y1 - row : ROWS_PER_READ, i, got;
        for (i = 0; i < count; i++)
            rows[i] = region->pixels + (size_t)(row + i) * stride + left;
        got = jpeg_read_scanlines(cinfo, rows, count);
        if (got == 0)
            return "the data ends before the region";
        row += got;
    }
    if (err->pub.num_warnings > 0)
        return err->message;
    return NULL;
}

PyDoc_STRVAR(decode_doc,
"decode(data, scale, grey, x0, y0, x1, y1) -> pixels\n\n"
"Decode the JPEG ``data`` at DCT scale 1/``scale`` (1, 2, 4 or 8) to RGB (or grey when\n"
"``grey``), computing only the region [x0, x1) x [y0, y1) of the decoded image (clamped\n"
"to it). ``pixels`` is a writable buffer of the whole decoded image's shape (height, width,\n"
"channels) in which every pixel outside the region (widened by libjpeg to whole iMCU\n"
"columns) is zero. Inside it the pixels equal a decode of the whole image with the same\n"
"settings, except next to a widened left or right edge that is not the image's, so callers\n"
"ask for a margin. Raises ValueError for undecodable data and for data libjpeg warns about.");

static PyObject *decode(PyObject *module, PyObject *args)
{
    Py_buffer data;
    int scale, grey;
    Py_ssize_t x0, y0, x1, y1;
    struct jpeg_decompress_struct cinfo;
    ErrorManager err;
    Region region = {NULL, 0, 0, 0};
    const char *failure = NULL;
    Pixels *result;

    if (!PyArg_ParseTuple(args, "y*ipnnnn:decode", &data, &scale, &grey, &x0, &y0, &x1, &y1))
        return NULL;
    if (scale != 1 && scale != 2 && scale != 4 && scale != 8) {
        PyBuffer_Release(&data);
        return PyErr_Format(PyExc_ValueError, "scale must be 1, 2, 4 or 8, not %d", scale);
    }
    if (x0 < 0 || y0 < 0 || x1 < 0 || y1 < 0) {
        PyBuffer_Release(&data);
        return PyErr_Format(PyExc_ValueError, "region coordinates must be >= 0, not (%zd, %zd, %zd, %zd)",
                            x0, y0, x1, y1);
    }
    /* JPEG sides are at most 65535 pixels: larger coordinates clamp to the image */
    if (x0 > JPEG_MAX_DIMENSION) x0 = JPEG_MAX_DIMENSION;
    if (y0 > JPEG_MAX_DIMENSION) y0 = JPEG_MAX_DIMENSION;
    if (x1 > JPEG_MAX_DIMENSION) x1 = JPEG_MAX_DIMENSION;
    if (y1 > JPEG_MAX_DIMENSION) y1 = JPEG_MAX_DIMENSION;
    init_decompress(&cinfo, &err);
    Py_BEGIN_ALLOW_THREADS
    if (setjmp(err.escape)) {
        failure = err.message;
    } else {
        jpeg_create_decompress(&cinfo);
        failure = decode_region(&cinfo, &err, (const unsigned char *)data.buf, (size_t)data.len, scale, grey,
                                (JDIMENSION)x0, (JDIMENSION)y0, (JDIMENSION)x1, (JDIMENSION)y1, &region);
    }
    jpeg_destroy_decompress(&cinfo);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&data);
    if (failure != NULL) {
        free(region.pixels);
        return PyErr_Format(PyExc_ValueError, "%s", failure);
    }
    result = PyObject_New(Pixels, &PixelsType);
    if (result == NULL) {
        free(region.pixels);
        return NULL;
    }
    result->pixels = region.pixels;
    result->shape[0] = region.rows;
    result->shape[1] = region.cols;
    result->shape[2] = region.channels;
    result->strides[2] = 1;
    result->strides[1] = region.channels;
    result->strides[0] = (Py_ssize_t)region.cols * region.channels;
    return (PyObject *)result;
}

static PyMethodDef methods[] = {
    {"header", header, METH_O, header_doc},
    {"decode", decode, METH_VARARGS, decode_doc},
    {NULL, NULL, 0, NULL},
};

static int exec_module(PyObject *module)
{
    if (PyType_Ready(&PixelsType) < 0)
        return -1;
    if (PyModule_AddObjectRef(module, "Pixels", (PyObject *)&PixelsType) < 0)
        return -1;
    return PyModule_AddStringConstant(module, "LIBJPEG_TURBO_VERSION", VERSION_STRING(LIBJPEG_TURBO_VERSION));
}

static PyModuleDef_Slot slots[] = {
    {Py_mod_exec, exec_module},
    {0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_libjpeg",
    .m_doc = "Region decoding of JPEGs through the system's libjpeg-turbo (see _libjpeg.c).",
    .m_size = 0,
    .m_methods = methods,
    .m_slots = slots,
};

PyMODINIT_FUNC PyInit__libjpeg(void)
{
    return PyModuleDef_Init(&module_def);
}
