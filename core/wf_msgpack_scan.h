/* A bounded pre-scan of one msgpack object (see msgpack_scan.c). Pure C:
 * no msgpack-c, no allocation. */
#ifndef WF_MSGPACK_SCAN_H
#define WF_MSGPACK_SCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WF_MSGPACK_SCAN_DEPTH_MAX 32

/* Walks one msgpack object at p. Returns false when it is malformed,
 * truncated, nested deeper than max_depth (at most
 * WF_MSGPACK_SCAN_DEPTH_MAX) or declares more elements than bytes remain;
 * else sets *used to its length (which may be less than len). Work is
 * linear in len: every step consumes at least one byte. */
bool wf_msgpack_scan(const uint8_t *p, size_t len, int max_depth, size_t *used);

#endif
