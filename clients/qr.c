/* QR rendering for `wufei qr` (qr.h). libqrencode makes the symbol; PNG
 * writing goes through libpng, the reference PNG library Debian ships
 * (libpng-dev), rather than a hand-made encoder: it gets the chunk CRCs,
 * zlib framing and filters right and is what image tools expect. */
#include "qr.h"

#include <errno.h>
#include <png.h>
#include <qrencode.h>
#include <stdlib.h>
#include <string.h>

#define QUIET 4 /* modules of white border the standard asks for */

static QRcode *
encode(const char *text, char *err, size_t errlen)
{
    QRcode *q = QRcode_encodeString(text, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q)
        snprintf(err, errlen, "cannot encode %zu bytes as a QR code: %s", strlen(text),
                 strerror(errno));
    return q;
}

static int
dark(const QRcode *q, int x, int y)
{
    if (x < 0 || y < 0 || x >= q->width || y >= q->width)
        return 0;
    return q->data[y * q->width + x] & 1;
}

int
wf_qr_print(FILE *f, const char *text, char *err, size_t errlen)
{
    QRcode *q = encode(text, err, errlen);
    if (!q)
        return -1;
    int lo = -QUIET / 2, hi = q->width + QUIET / 2; /* two modules of border are enough on screen */
    for (int y = lo; y < hi; y += 2) {
        fputs("\033[30;47m", f);
        for (int x = lo; x < hi; x++) {
            int top = dark(q, x, y), bottom = y + 1 < hi && dark(q, x, y + 1);
            fputs(top && bottom ? "\u2588" : top ? "\u2580" : bottom ? "\u2584" : " ", f);
        }
        fputs("\033[0m\n", f);
    }
    QRcode_free(q);
    return 0;
}

/* The PNG itself; the setjmp lives here, with nothing it could clobber. */
static int
write_png(FILE *f, const QRcode *q, int scale, int side, png_bytep row)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    if (!png)
        return -1;
    png_infop info = png_create_info_struct(png);
    if (!info || setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, info ? &info : NULL);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)side, (png_uint_32)side, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int py = 0; py < side; py++) {
        int y = py / scale - QUIET;
        for (int px = 0; px < side; px++)
            row[px] = dark(q, px / scale - QUIET, y) ? 0 : 255;
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int
wf_qr_png(const char *path, const char *text, int scale, char *err, size_t errlen)
{
    if (scale < 1 || scale > 64)
        scale = 8;
    QRcode *q = encode(text, err, errlen);
    if (!q)
        return -1;
    int side = (q->width + 2 * QUIET) * scale;
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
        QRcode_free(q);
        return -1;
    }
    png_bytep row = malloc((size_t)side);
    int rc = row ? write_png(f, q, scale, side, row) : -1;
    free(row);
    if (fclose(f) != 0)
        rc = -1;
    if (rc != 0) {
        snprintf(err, errlen, "cannot write %s", path);
        remove(path);
    }
    QRcode_free(q);
    return rc;
}
