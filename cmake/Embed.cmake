# cmake -DIN=file -DOUT=file.c -P Embed.cmake: writes a C file defining
# wf_dashboard_html (the bytes of IN plus a NUL) and wf_dashboard_html_len.
file(READ ${IN} hex HEX)
string(LENGTH "${hex}" n)
math(EXPR len "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "(0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,0x..,)" "\\1\n" body "${body}")
file(WRITE ${OUT} "/* Generated from net/dashboard.html by cmake/Embed.cmake; do not edit. */\n#include <stddef.h>\nconst unsigned char wf_dashboard_html[] = {\n${body}0x00};\nconst size_t wf_dashboard_html_len = ${len};\n")
