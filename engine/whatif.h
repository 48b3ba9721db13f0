/* What-if replay, for `wufei replay`: the journal of a database replayed
 * into two scratch databases side by side, once as it happened and once
 * with some operator settings changed, and the market figures of both over
 * a window of the journal. The live database is opened read-only (one
 * snapshot; wufeid may keep running) and never written.
 *
 * The rule for the changed settings: they take effect as a config.set by
 * the operator injected just before the first entry of the window, and
 * they are applied again after every journaled config.set inside the
 * window, so they stay in force for the whole window; a journaled
 * config.set still changes the settings it names that the what-if leaves
 * alone. Entries before the window are replayed into both databases alike.
 *
 * Timers: the run as it happened applies only the journal (its ticks
 * included), so it reproduces the live history exactly. The what-if run
 * applies the same journal and, besides, fires a timer of its own when it
 * falls due before the next entry and earlier than any timer the real run
 * has pending (a push a changed delay moved, say): with no changed
 * setting the two runs hold the same timers and the what-if run is the
 * real one, figure for figure. Commands the what-if run refuses (a cancel
 * of an order that filled differently, a manifest step on a match that
 * went elsewhere) are counted and skipped.
 *
 * Figures per run, over the matches and notifications the window made:
 * matches, tonnes, tonne-km, matched tonnes by the credit tier of the
 * resting order's firm (the counterparty the ranking chose) under that
 * run's tier bounds at the time of the fill, the first notification of
 * each resting order by the tier of the firm told, the median time to
 * match (fill time minus the resting order's posting time), and matched
 * tonnes per firm (both sides), from which the firms that gain and lose
 * most are listed. */
#ifndef WF_WHATIF_H
#define WF_WHATIF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "command.h"

#define WF_WHATIF_FIRMS_MAX 5     /* gainers listed, and as many losers */
#define WF_WHATIF_CHANGES_MAX 20  /* changed offer-demand pairs listed */
#define WF_WHATIF_TIMERS_MAX 10000 /* timer ticks the what-if run adds before one entry */

typedef struct wf_whatif_opts {
    const char *dir;          /* the live database (read-only) */
    const char *catalogue;    /* NULL = the shipped one */
    const char *catalogue_add; /* a city's codes loaded after it (the daemon's); NULL = none */
    const char *scratch_dir;  /* NULL = $TMPDIR or /tmp */
    uint32_t set;             /* WF_CFG_* bits of the changed settings; 0 = none */
    wf_config_t values;       /* their values */
    uint64_t from_seq, to_seq; /* window by journal seq; 0 = from the start / to the end */
    int64_t from_ts, to_ts;   /* and by batch time, unix ms: [from_ts, to_ts); 0 = open */
} wf_whatif_opts_t;

/* The figures of one run over the window. */
typedef struct wf_whatif_figures {
    uint64_t matches;
    int64_t qty;                /* tonnes = qty / 1000 */
    double tonne_km;
    int64_t tier_qty[4];        /* matched quantity by counterparty tier A..D */
    uint64_t notified;          /* resting orders with at least one notification */
    uint64_t first_tier[4];     /* their first notification, by the tier of the firm told */
    uint64_t waits;             /* fills with a resting order's posting time */
    int64_t wait_p50_ms;        /* median (the lower middle); 0 when no waits */
    uint64_t refused;           /* journal entries this run refused (what-if only) */
    uint64_t timer_ticks;       /* ticks of its own this run added (what-if only) */
} wf_whatif_figures_t;

/* A firm whose matched quantity differs between the runs. */
typedef struct wf_whatif_firm {
    char id[WF_FIRM_LEN];
    char name[WF_NAME_LEN];
    int64_t real_qty, whatif_qty, delta; /* delta = whatif - real */
} wf_whatif_firm_t;

/* An offer-demand pair whose matched quantity differs between the runs. */
typedef struct wf_whatif_change {
    uint64_t offer, demand;
    char producer[WF_FIRM_LEN], consumer[WF_FIRM_LEN];
    int64_t real_qty, whatif_qty;
} wf_whatif_change_t;

typedef struct wf_whatif_report {
    uint64_t entries;           /* journal entries replayed (before the window too) */
    uint64_t first_seq, last_seq; /* the window's first and last entry; 0 when empty */
    int64_t first_ts, last_ts;
    uint64_t window_entries;
    wf_whatif_figures_t real, whatif;
    size_t ngainers, nlosers;   /* most gained first; most lost first */
    wf_whatif_firm_t gainers[WF_WHATIF_FIRMS_MAX], losers[WF_WHATIF_FIRMS_MAX];
    uint64_t nchanges;          /* pairs that differ */
    size_t nlisted;             /* of them in changes[], by offer then demand */
    wf_whatif_change_t changes[WF_WHATIF_CHANGES_MAX];
    double seconds;
} wf_whatif_report_t;

/* Runs the what-if replay of opts. Returns WF_OK with *rep filled, or an
 * error with a sentence in err: the database cannot be read, the window is
 * empty, the changed settings are refused (err says which), or the real
 * run does not replay. */
int wf_engine_whatif(const wf_whatif_opts_t *opts, wf_whatif_report_t *rep, char *err,
                     size_t errlen);

/* Parses one setting "key" = "val" as config.set names it (w_credit,
 * push_delay_b, county_rule, ...) into *set and *values. Returns WF_OK, or
 * WF_E_FIELD with a sentence in err for an unknown key or a value of the
 * wrong kind; ranges are checked when the setting is applied. */
int wf_config_parse(const char *key, const char *val, uint32_t *set, wf_config_t *values,
                    char *err, size_t errlen);

/* The name of setting bit (one WF_CFG_* bit), or NULL. */
const char *wf_config_key_name(uint32_t bit);

/* Writes "key=value" of every setting in set (values from c), separated by
 * sep, into out (truncated to len). */
void wf_config_format(const wf_config_t *c, uint32_t set, const char *sep, char *out, size_t len);

#endif
