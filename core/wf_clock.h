/* Wall-clock time in unix milliseconds, the unit of every time on the wire. */
#ifndef WF_CLOCK_H
#define WF_CLOCK_H

#include <stdint.h>

int64_t wf_now_ms(void);
/* Monotonic nanoseconds, for latency measurement only. */
int64_t wf_mono_ns(void);

#endif
