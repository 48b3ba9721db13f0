/* QR codes of manifest tokens for the `wufei qr` command: drawn in a
 * terminal with Unicode half blocks (two module rows per text line, black
 * on white through ANSI colours so that it scans on dark and light
 * terminals alike), or written as a PNG through libpng. The symbol is
 * libqrencode's, error-correction level M, byte mode. */
#ifndef WF_QR_H
#define WF_QR_H

#include <stdio.h>

/* Prints text's QR code to f. Returns 0, or -1 when text cannot be encoded
 * (message in err). */
int wf_qr_print(FILE *f, const char *text, char *err, size_t errlen);

/* Writes text's QR code to path as an 8-bit greyscale PNG, scale pixels per
 * module with a four-module quiet zone. Returns 0 or -1 with err. */
int wf_qr_png(const char *path, const char *text, int scale, char *err, size_t errlen);

#endif
