/* A bounded, allocation-free walk over one msgpack object: the check that
 * runs before msgpack-c's unpacker ever sees untrusted bytes. The unpacker
 * allocates for the element counts a container declares, so a few bytes
 * declaring 2^32 elements would ask it for gigabytes; this scan refuses
 * any container that declares more elements than bytes remain, and any
 * nesting deeper than asked. Used by the request decoder (net/codec.c)
 * and the manifest token parser (engine/token.c). */
#include "wf_msgpack_scan.h"


static bool
scan_len(const uint8_t *p, size_t len, size_t *off, int bytes, uint64_t *v)
{
    if (len - *off < (size_t)bytes)
        return false;
    uint64_t x = 0;
    for (int i = 0; i < bytes; i++)
        x = (x << 8) | p[*off + i];
    *off += (size_t)bytes;
    *v = x;
    return true;
}

bool
wf_msgpack_scan(const uint8_t *p, size_t len, int max_depth, size_t *used)
{
    uint64_t pending[WF_MSGPACK_SCAN_DEPTH_MAX + 1];
    if (max_depth < 0 || max_depth > WF_MSGPACK_SCAN_DEPTH_MAX)
        max_depth = WF_MSGPACK_SCAN_DEPTH_MAX;
    int depth = 0;
    size_t off = 0;

    pending[0] = 1;
    while (depth >= 0) {
        if (pending[depth] == 0) {
            depth--;
            continue;
        }
        pending[depth]--;
        if (off >= len)
            return false;
        uint8_t t = p[off++];
        uint64_t skip = 0, items = 0;
        bool container = false;

        if (t <= 0x7f || t >= 0xe0) {
            /* fixint */
        } else if (t <= 0x8f) {
            items = (uint64_t)(t & 0x0f) * 2;
            container = true;
        } else if (t <= 0x9f) {
            items = t & 0x0f;
            container = true;
        } else if (t <= 0xbf) {
            skip = t & 0x1f;
        } else {
            uint64_t n;
            switch (t) {
            case 0xc0: case 0xc2: case 0xc3:
                break;
            case 0xc4: case 0xd9:
                if (!scan_len(p, len, &off, 1, &n)) return false;
                skip = n;
                break;
            case 0xc5: case 0xda:
                if (!scan_len(p, len, &off, 2, &n)) return false;
                skip = n;
                break;
            case 0xc6: case 0xdb:
                if (!scan_len(p, len, &off, 4, &n)) return false;
                skip = n;
                break;
            case 0xc7:
                if (!scan_len(p, len, &off, 1, &n)) return false;
                skip = n + 1;
                break;
            case 0xc8:
                if (!scan_len(p, len, &off, 2, &n)) return false;
                skip = n + 1;
                break;
            case 0xc9:
                if (!scan_len(p, len, &off, 4, &n)) return false;
                skip = n + 1;
                break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc:
                if (!scan_len(p, len, &off, 2, &items)) return false;
                container = true;
                break;
            case 0xdd:
                if (!scan_len(p, len, &off, 4, &items)) return false;
                container = true;
                break;
            case 0xde:
                if (!scan_len(p, len, &off, 2, &items)) return false;
                items *= 2;
                container = true;
                break;
            case 0xdf:
                if (!scan_len(p, len, &off, 4, &items)) return false;
                items *= 2;
                container = true;
                break;
            default: /* 0xc1, never used */
                return false;
            }
        }
        if (skip > len - off)
            return false;
        off += (size_t)skip;
        if (container && items > 0) {
            if (items > len - off || depth == max_depth)
                return false;
            pending[++depth] = items;
        }
    }
    *used = off;
    return true;
}
