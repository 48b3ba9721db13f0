/* wufei's one error enum: 0 is success, every failure a negative code.
 * The protocol's error strings (E_FIELD, ...) map one-to-one onto these,
 * so a code travels unchanged from the matcher up to the wire. */
#ifndef WF_ERROR_H
#define WF_ERROR_H

typedef enum wf_err {
    WF_OK = 0,
    WF_E_PARSE = -1,    /* not msgpack, not a map, trailing bytes */
    WF_E_FIELD = -2,    /* field missing, wrongly typed or out of range */
    WF_E_OP = -3,       /* unknown op */
    WF_E_AUTH = -4,     /* unknown identity, missing role, not the owner */
    WF_E_NOTFOUND = -5, /* no such id */
    WF_E_CODE = -6,     /* waste code not in the catalogue */
    WF_E_LICENCE = -7,  /* hazardous code without licence or lane */
    WF_E_BLOCKED = -8,  /* firm is blacklisted */
    WF_E_STATE = -9,    /* object in a state that forbids the op */
    WF_E_LIMIT = -10,   /* rate or size limit */
    WF_E_FULL = -11,    /* the store is full, nothing changed */
    WF_E_INTERNAL = -12 /* a bug or a system failure; nothing changed */
} wf_err_t;

#define WF_ERR_COUNT 13

/* A short sentence describing err, for logs and default messages. */
const char *wf_strerror(int err);

/* The protocol name of err ("E_FIELD"); "E_INTERNAL" for unknown values. */
const char *wf_err_name(int err);

/* The code for a protocol name, or WF_E_INTERNAL when the name is unknown. */
int wf_err_from_name(const char *name);

#endif
