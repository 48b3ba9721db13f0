/* libFuzzer target: the request decoder. Any bytes must decode to a
 * command or fail with a protocol error code and a message, never crash,
 * read out of bounds or leave a string field unterminated. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "net/codec.h"
#include "wf_error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wf_cmd_t cmd;
    char msg[WF_MSG_LEN];
    memset(&cmd, 0xa5, sizeof cmd); /* the decoder must not rely on a zeroed command */
    msg[0] = '\0';
    int rc = wf_codec_decode(data, size, &cmd, msg, sizeof msg);
    if (rc > 0 || rc < WF_E_INTERNAL)
        abort(); /* not one of the protocol's codes */
    if (rc != WF_OK && (!msg[0] || !memchr(msg, '\0', sizeof msg)))
        abort(); /* every refusal says why */
    if (rc == WF_OK) {
        if (!wf_op_name(cmd.op) || !memchr(cmd.as, '\0', sizeof cmd.as))
            abort();
    }
    return 0;
}
