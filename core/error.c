/* Names and sentences for wufei's error codes (see wf_error.h). */
#include "wf_error.h"

#include <string.h>

static const struct {
    const char *name;
    const char *text;
} table[WF_ERR_COUNT] = {
    {"OK", "success"},
    {"E_PARSE", "request is not a single msgpack map"},
    {"E_FIELD", "a field is missing, of the wrong type or out of range"},
    {"E_OP", "unknown op"},
    {"E_AUTH", "not authorised"},
    {"E_NOTFOUND", "no such id"},
    {"E_CODE", "waste code not in the catalogue"},
    {"E_LICENCE", "no valid licence or lane for a hazardous code"},
    {"E_BLOCKED", "the firm is blacklisted"},
    {"E_STATE", "the object's state forbids this"},
    {"E_LIMIT", "rate or size limit exceeded"},
    {"E_FULL", "the store is full; nothing was changed"},
    {"E_INTERNAL", "internal error; nothing was changed"},
};

static int
slot(int err)
{
    if (err > 0 || err <= -WF_ERR_COUNT)
        return -WF_E_INTERNAL;
    return -err;
}

const char *
wf_strerror(int err)
{
    return table[slot(err)].text;
}

const char *
wf_err_name(int err)
{
    return table[slot(err)].name;
}

int
wf_err_from_name(const char *name)
{
    for (int i = 0; i < WF_ERR_COUNT; i++)
        if (strcmp(table[i].name, name) == 0)
            return -i;
    return WF_E_INTERNAL;
}
