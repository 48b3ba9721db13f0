/* Offline checks of a database's history, for `wufei audit` and
 * `wufei replay-check`: both open the database read-only, so they work
 * while wufeid runs (LMDB readers never block its writer).
 *
 * wf_journal_audit() re-walks the journal's hash chain entry by entry and
 * verifies the signed head (meta "head") with sign.pub beside the
 * database; a changed byte anywhere in an entry breaks that entry's hash,
 * and a chain rewritten consistently from some entry on no longer ends in
 * the head the engine signed.
 *
 * wf_engine_replay() replays the journal from an empty scratch database,
 * each entry as a batch of one at its journaled time, and compares the
 * state hash (wf_engine_state_hash) and the chain head of the result with
 * the live database's: the recovery check. */
#ifndef WF_AUDIT_H
#define WF_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wf_audit_report {
    uint64_t entries;     /* journal entries walked */
    uint64_t last_seq;    /* seq of the last entry */
    uint64_t first_bad;   /* the first entry that breaks the chain; 0 = none */
    uint64_t nbad;        /* entries that break it */
    bool head_present;    /* meta "head" exists */
    bool head_sig_ok;     /* its signature verifies with sign.pub */
    bool head_matches;    /* it names the last entry and that entry's stored hash */
    uint64_t head_seq;
    uint8_t head_hash[32];
    bool ok;              /* chain intact and head signed and matching */
    char problem[320];    /* the first problem, for a person; "" when ok */
} wf_audit_report_t;

/* Audits the journal of the database in dir. Returns WF_OK when the audit
 * ran (rep->ok says whether the history holds), or an error with a
 * sentence in err when the database or sign.pub cannot be read. */
int wf_journal_audit(const char *dir, wf_audit_report_t *rep, char *err, size_t errlen);

typedef struct wf_replay_report {
    uint64_t entries;         /* journal entries replayed */
    uint64_t failed_seq;      /* the entry replay refused or did not journal; 0 = none */
    uint8_t live[32], replayed[32];         /* state hashes */
    uint8_t live_head[32], replayed_head[32]; /* journal chain heads */
    bool equal;               /* state hashes and chain heads equal */
    double seconds;           /* wall time of the replay */
    char problem[320];
} wf_replay_report_t;

/* Replays the journal of dir into a scratch database (made in scratch_dir,
 * or under $TMPDIR or /tmp when NULL, and removed afterwards) with the
 * given catalogue (NULL = the shipped one). Returns WF_OK when the replay
 * ran (rep->equal says whether it reproduced the state), or an error with
 * a sentence in err. */
int wf_engine_replay(const char *dir, const char *catalogue, const char *scratch_dir,
                     wf_replay_report_t *rep, char *err, size_t errlen);
/* The same with a city's catalogue file loaded after catalogue (NULL =
 * none): the daemon's --catalogue-add, which the replay must repeat. */
int wf_engine_replay_with(const char *dir, const char *catalogue, const char *catalogue_add,
                          const char *scratch_dir, wf_replay_report_t *rep, char *err,
                          size_t errlen);

#endif
