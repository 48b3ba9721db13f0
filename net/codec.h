/* The wire codec: msgpack requests into wf_cmd_t, and replies, private
 * stream messages and feed messages out to msgpack, exactly as
 * PROTOCOL.md (and docs/protocol.md for wufei's extensions) says. */
#ifndef WF_CODEC_H
#define WF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "../engine/engine.h"

/* Decodes one request frame. On success returns WF_OK with *cmd filled
 * (defaults applied for absent optional fields, cmd->as set from the `as`
 * field when present). On failure returns WF_E_PARSE, WF_E_FIELD or
 * WF_E_OP with a sentence naming the problem in msg, and cmd->rid set
 * when the rid could be read (0 otherwise). */
int wf_codec_decode(const void *buf, size_t len, wf_cmd_t *cmd, char *msg, size_t msglen);

/* Encodes a reply into sb (appending). cat gives units and names where
 * needed. */
void wf_codec_reply(msgpack_sbuffer *sb, const wf_reply_t *r, const wf_catalogue_t *cat);

/* Encodes an error reply that never reached the engine. */
void wf_codec_error(msgpack_sbuffer *sb, uint64_t rid, int err, const char *msg);

/* Encodes one private-stream message. */
void wf_codec_stream(msgpack_sbuffer *sb, const wf_stream_msg_t *m);

/* Encodes a feed message body (the topic is sent as its own frame). */
void wf_codec_feed(msgpack_sbuffer *sb, const wf_feed_msg_t *m);

#endif
