/* The I/O loop's own figures and the two renderings of metrics.h. The
 * text is built in a msgpack_sbuffer used as a plain growable buffer.
 * Work per rendering is bounded: six classes, at most WF_STATS_TOP_MAX
 * codes, WF_DASH_ORDERS orders and WF_DASH_MATCHES matches. */
#include "metrics.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../core/wf_alloc.h"

const uint64_t wf_req_bucket_us[WF_REQ_BUCKETS] = {100,    250,    500,    1000,   2500,
                                                  5000,   10000,  25000,  50000,  100000,
                                                  250000, 500000, 1000000, 2500000};
static const char *const req_bucket_le[WF_REQ_BUCKETS] = {
    "0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
    "0.025",  "0.05",    "0.1",    "0.25",  "0.5",    "1",     "2.5"};
static const char *const manifest_states[6] = {"OPEN", "DISPATCHED", "LOADED", "UNLOADED", "CLOSED",
                                               "CANCELLED"};
static const char *const feed_kinds[3] = {"match", "book", "daily"};

/* ---- the loop's figures ---- */

static void
bucket_add(uint64_t *b, uint64_t us)
{
    size_t i = 0;
    while (i < WF_REQ_BUCKETS && us > wf_req_bucket_us[i])
        i++;
    b[i]++;
}

void
wf_net_figures_request(wf_net_figures_t *f, uint64_t us, bool ok)
{
    wf_hist_add(&f->req_us, us);
    bucket_add(f->req_buckets, us);
    if (ok)
        f->requests_ok++;
    else
        f->requests_failed++;
}

void
wf_net_figures_batch(wf_net_figures_t *f, uint64_t us, size_t n)
{
    wf_hist_add(&f->batch_us, us);
    bucket_add(f->batch_buckets, us);
    size_t i = 0;
    while (i + 1 < WF_SIZE_BUCKETS && n > ((size_t)1 << i))
        i++;
    f->size_buckets[i]++;
    f->size_sum += n;
}

void
wf_net_figures_fill(const wf_net_figures_t *f, wf_stats_t *st)
{
    st->has_latency = true;
    st->requests = f->req_us.count;
    st->req_p50_us = wf_hist_quantile(&f->req_us, 0.5);
    st->req_p90_us = wf_hist_quantile(&f->req_us, 0.9);
    st->req_p99_us = wf_hist_quantile(&f->req_us, 0.99);
    st->req_max_us = f->req_us.max;
    st->batches = f->batch_us.count;
    st->batch_p50_us = wf_hist_quantile(&f->batch_us, 0.5);
    st->batch_p90_us = wf_hist_quantile(&f->batch_us, 0.9);
    st->batch_p99_us = wf_hist_quantile(&f->batch_us, 0.99);
    st->batch_max_us = f->batch_us.max;
    st->batch_size_mean = f->batch_us.count ? (double)f->size_sum / (double)f->batch_us.count : 0;
}

/* ---- text helpers ---- */

static void __attribute__((format(printf, 2, 3)))
out(msgpack_sbuffer *sb, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    msgpack_sbuffer_write(sb, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

/* A label value or JSON string body: only printable ASCII other than the
 * quote and the backslash passes; anything else becomes '?'. Codes and
 * class names are plain ASCII, so nothing real is lost. */
static const char *
clean(const char *s, char buf[WF_CODE_LEN])
{
    size_t i = 0;
    for (; s[i] && i < WF_CODE_LEN - 1; i++) {
        unsigned char c = (unsigned char)s[i];
        buf[i] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') ? '?' : (char)c;
    }
    buf[i] = '\0';
    return buf;
}

static void
head(msgpack_sbuffer *sb, const char *name, const char *type, const char *help)
{
    out(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
histogram(msgpack_sbuffer *sb, const char *name, const char *help, const uint64_t *b, const wf_hist_t *h)
{
    head(sb, name, "histogram", help);
    uint64_t cum = 0;
    for (size_t i = 0; i < WF_REQ_BUCKETS; i++) {
        cum += b[i];
        out(sb, "%s_bucket{le=\"%s\"} %llu\n", name, req_bucket_le[i], (unsigned long long)cum);
    }
    cum += b[WF_REQ_BUCKETS];
    out(sb, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)cum);
    out(sb, "%s_sum %.6f\n", name, (double)h->sum / 1e6);
    out(sb, "%s_count %llu\n", name, (unsigned long long)h->count);
}

/* ---- Prometheus ---- */

void
wf_metrics_render(msgpack_sbuffer *sb, const wf_stats_t *st, const wf_net_figures_t *nf,
                  const char *version)
{
    char b1[WF_CODE_LEN];
    head(sb, "wufei_info", "gauge", "Always 1; the version in a label");
    out(sb, "wufei_info{version=\"%s\"} 1\n", clean(version, b1));
    head(sb, "wufei_journal_seq", "gauge", "Sequence number of the last journal entry");
    out(sb, "wufei_journal_seq %llu\n", (unsigned long long)st->journal_seq);
    head(sb, "wufei_snapshot_timestamp_seconds", "gauge", "When the writer loop computed these figures");
    out(sb, "wufei_snapshot_timestamp_seconds %.3f\n", (double)st->ts / 1000.0);

    head(sb, "wufei_orders_live", "gauge", "Live (resting) orders by side and waste class");
    for (int c = 0; c < WF_CLASS__COUNT; c++) {
        const wf_stats_row_t *r = &st->classes[c];
        out(sb, "wufei_orders_live{side=\"offer\",class=\"%s\"} %lld\n", r->name, (long long)r->offers);
        out(sb, "wufei_orders_live{side=\"demand\",class=\"%s\"} %lld\n", r->name, (long long)r->demands);
    }
    head(sb, "wufei_tonnes_live", "gauge", "Live quantity in tonnes (qty/1000) by side and waste class");
    for (int c = 0; c < WF_CLASS__COUNT; c++) {
        const wf_stats_row_t *r = &st->classes[c];
        out(sb, "wufei_tonnes_live{side=\"offer\",class=\"%s\"} %.3f\n", r->name, (double)r->offer_qty / 1000.0);
        out(sb, "wufei_tonnes_live{side=\"demand\",class=\"%s\"} %.3f\n", r->name, (double)r->demand_qty / 1000.0);
    }
    head(sb, "wufei_code_tonnes_live", "gauge",
         "Live tonnes at the busiest codes (at most 20; demand counted at each code it names)");
    for (size_t i = 0; i < st->ncodes && i < 20; i++) {
        const wf_stats_row_t *r = &st->codes[i];
        clean(r->name, b1);
        out(sb, "wufei_code_tonnes_live{side=\"offer\",code=\"%s\"} %.3f\n", b1, (double)r->offer_qty / 1000.0);
        out(sb, "wufei_code_tonnes_live{side=\"demand\",code=\"%s\"} %.3f\n", b1, (double)r->demand_qty / 1000.0);
    }

    head(sb, "wufei_matches_total", "counter", "Matches (fills) since the database began");
    out(sb, "wufei_matches_total %llu\n", (unsigned long long)st->total.matches);
    head(sb, "wufei_tonnes_matched_total", "counter", "Tonnes matched (qty/1000) since the database began");
    out(sb, "wufei_tonnes_matched_total %.3f\n", (double)st->total.matched_qty / 1000.0);
    head(sb, "wufei_tonne_km_total", "counter", "Tonne-kilometres of matched waste (qty/1000 * km)");
    out(sb, "wufei_tonne_km_total %.3f\n", st->total.tonne_km);
    head(sb, "wufei_co2_kg_total", "counter", "Estimated road-freight kg CO2e: tonne-km * co2_per_tkm");
    out(sb, "wufei_co2_kg_total %.3f\n", st->co2_kg);
    head(sb, "wufei_co2_per_tkm", "gauge", "The operator setting co2_per_tkm (kg CO2e per tonne-km)");
    out(sb, "wufei_co2_per_tkm %g\n", st->co2_per_tkm);
    head(sb, "wufei_class_matches_total", "counter", "Matches by waste class");
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        out(sb, "wufei_class_matches_total{class=\"%s\"} %llu\n", st->classes[c].name,
            (unsigned long long)st->classes[c].matches);
    head(sb, "wufei_class_tonnes_matched_total", "counter", "Tonnes matched by waste class");
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        out(sb, "wufei_class_tonnes_matched_total{class=\"%s\"} %.3f\n", st->classes[c].name,
            (double)st->classes[c].matched_qty / 1000.0);
    head(sb, "wufei_class_tonne_km_total", "counter", "Tonne-kilometres by waste class");
    for (int c = 0; c < WF_CLASS__COUNT; c++)
        out(sb, "wufei_class_tonne_km_total{class=\"%s\"} %.3f\n", st->classes[c].name,
            st->classes[c].tonne_km);
    if (st->ndays) {
        head(sb, "wufei_matches_today", "gauge", "Matches so far on the current China Standard Time day");
        out(sb, "wufei_matches_today %llu\n", (unsigned long long)st->days[0].matches);
        head(sb, "wufei_tonnes_matched_today", "gauge", "Tonnes matched so far today (CST)");
        out(sb, "wufei_tonnes_matched_today %.3f\n", (double)st->days[0].qty / 1000.0);
    }

    head(sb, "wufei_time_to_match_seconds", "summary",
         "How long a resting order waited from posting to each of its fills");
    out(sb, "wufei_time_to_match_seconds{quantile=\"0.5\"} %.3f\n", (double)st->wait_p50_ms / 1000.0);
    out(sb, "wufei_time_to_match_seconds{quantile=\"0.9\"} %.3f\n", (double)st->wait_p90_ms / 1000.0);
    out(sb, "wufei_time_to_match_seconds_count %llu\n", (unsigned long long)st->waits);

    if (st->manifests_scanned) {
        head(sb, "wufei_manifests", "gauge", "Manifests by state (newest 100000 at most)");
        for (int i = 0; i < 6; i++)
            out(sb, "wufei_manifests{state=\"%s\"} %llu\n", manifest_states[i],
                (unsigned long long)st->manifests[i]);
    }
    head(sb, "wufei_firms", "gauge", "Firms (operators aside) by credit tier");
    for (int i = 0; i < 4; i++)
        out(sb, "wufei_firms{tier=\"%c\"} %llu\n", 'A' + i, (unsigned long long)st->tiers[i]);
    head(sb, "wufei_firms_blocked", "gauge", "Blacklisted firms");
    out(sb, "wufei_firms_blocked %llu\n", (unsigned long long)st->blocked);

    histogram(sb, "wufei_request_seconds", "Request processing time, from receipt to reply sent",
              nf->req_buckets, &nf->req_us);
    histogram(sb, "wufei_batch_seconds", "Engine time per batch (one LMDB transaction)",
              nf->batch_buckets, &nf->batch_us);
    head(sb, "wufei_batch_size", "histogram", "Commands per engine batch");
    uint64_t cum = 0;
    for (size_t i = 0; i < WF_SIZE_BUCKETS; i++) {
        cum += nf->size_buckets[i];
        out(sb, "wufei_batch_size_bucket{le=\"%zu\"} %llu\n", (size_t)1 << i, (unsigned long long)cum);
    }
    out(sb, "wufei_batch_size_bucket{le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    out(sb, "wufei_batch_size_sum %llu\n", (unsigned long long)nf->size_sum);
    out(sb, "wufei_batch_size_count %llu\n", (unsigned long long)nf->batch_us.count);
    head(sb, "wufei_requests_total", "counter", "Requests answered, by result");
    out(sb, "wufei_requests_total{result=\"ok\"} %llu\n", (unsigned long long)nf->requests_ok);
    out(sb, "wufei_requests_total{result=\"error\"} %llu\n", (unsigned long long)nf->requests_failed);
    head(sb, "wufei_feed_messages_total", "counter", "Messages published on the public feed, by topic kind");
    for (int i = 0; i < 3; i++)
        out(sb, "wufei_feed_messages_total{topic=\"%s\"} %llu\n", feed_kinds[i], (unsigned long long)nf->feed[i]);
    head(sb, "wufei_stream_sent_total", "counter", "Private-stream messages sent");
    out(sb, "wufei_stream_sent_total %llu\n", (unsigned long long)nf->stream_sent);
    head(sb, "wufei_stream_deferred_total", "counter",
         "Private-stream messages not sent because the client's queue was full (it replays them)");
    out(sb, "wufei_stream_deferred_total %llu\n", (unsigned long long)nf->stream_deferred);
    head(sb, "wufei_streams_bound", "gauge", "Private streams bound to a connection");
    out(sb, "wufei_streams_bound %llu\n", (unsigned long long)nf->streams_bound);
    head(sb, "wufei_stream_pending", "gauge",
         "Stored private-stream messages not yet sent to their firms' bound connections");
    out(sb, "wufei_stream_pending %llu\n", (unsigned long long)nf->stream_pending);
}

/* ---- dashboard JSON ---- */

static void
json_row(msgpack_sbuffer *sb, const char *key, const wf_stats_row_t *r)
{
    char b[WF_CODE_LEN];
    out(sb, "{\"%s\":\"%s\",\"offers\":%lld,\"offer_t\":%.3f,\"demands\":%lld,\"demand_t\":%.3f,"
            "\"matches\":%llu,\"tonnes\":%.3f,\"tonne_km\":%.1f}",
        key, clean(r->name, b), (long long)r->offers, (double)r->offer_qty / 1000.0, (long long)r->demands,
        (double)r->demand_qty / 1000.0, (unsigned long long)r->matches, (double)r->matched_qty / 1000.0,
        r->tonne_km);
}

typedef struct orders_ctx {
    msgpack_sbuffer *sb;
    size_t n;
    const wf_catalogue_t *cat;
} orders_ctx_t;

static bool
json_order(void *arg, const wf_order_t *o)
{
    orders_ctx_t *c = arg;
    if (c->n == WF_DASH_ORDERS)
        return false;
    int32_t code = o->side == WF_OFFER ? o->code : o->patterns[0];
    char b[WF_CODE_LEN];
    const char *name = code >= 0 ? wf_catalogue_get(c->cat, code)->code : "?";
    out(c->sb, "%s[%d,%.5f,%.5f,%.3f,\"%s\",%lld]", c->n ? "," : "", o->side == WF_OFFER ? 0 : 1, o->lat,
        o->lon, (double)o->remaining / 1000.0, clean(name, b), (long long)o->price);
    c->n++;
    return true;
}

void
wf_dashboard_render(msgpack_sbuffer *sb, const wf_engine_t *e, const wf_stats_t *st,
                    const wf_net_figures_t *nf, int64_t now)
{
    out(sb, "{\"ts\":%lld,\"journal_seq\":%llu,", (long long)st->ts, (unsigned long long)st->journal_seq);
    out(sb, "\"total\":");
    json_row(sb, "name", &st->total);
    out(sb, ",\"co2_kg\":%.1f,\"co2_per_tkm\":%g,", st->co2_kg, st->co2_per_tkm);
    out(sb, "\"classes\":[");
    for (int c = 0; c < WF_CLASS__COUNT; c++) {
        out(sb, c ? "," : "");
        json_row(sb, "class", &st->classes[c]);
    }
    out(sb, "],\"codes\":[");
    for (size_t i = 0; i < st->ncodes; i++) {
        out(sb, i ? "," : "");
        json_row(sb, "code", &st->codes[i]);
    }
    out(sb, "],\"days\":[");
    for (size_t i = 0; i < st->ndays; i++)
        out(sb, "%s{\"day\":\"%s\",\"matches\":%llu,\"tonnes\":%.3f,\"tonne_km\":%.1f}", i ? "," : "",
            st->days[i].day, (unsigned long long)st->days[i].matches, (double)st->days[i].qty / 1000.0,
            st->days[i].tonne_km);
    out(sb, "],\"time_to_match\":{\"count\":%llu,\"p50_ms\":%lld,\"p90_ms\":%lld},",
        (unsigned long long)st->waits, (long long)st->wait_p50_ms, (long long)st->wait_p90_ms);
    out(sb, "\"credit\":{\"firms\":%llu,\"A\":%llu,\"B\":%llu,\"C\":%llu,\"D\":%llu,\"blocked\":%llu},",
        (unsigned long long)st->firms, (unsigned long long)st->tiers[0], (unsigned long long)st->tiers[1],
        (unsigned long long)st->tiers[2], (unsigned long long)st->tiers[3], (unsigned long long)st->blocked);
    out(sb, "\"manifests\":{");
    for (int i = 0; i < 6; i++)
        out(sb, "%s\"%s\":%llu", i ? "," : "", manifest_states[i], (unsigned long long)st->manifests[i]);
    out(sb, "},\"latency\":{\"requests\":%llu,\"p50_us\":%llu,\"p90_us\":%llu,\"p99_us\":%llu},",
        (unsigned long long)nf->req_us.count, (unsigned long long)wf_hist_quantile(&nf->req_us, 0.5),
        (unsigned long long)wf_hist_quantile(&nf->req_us, 0.9),
        (unsigned long long)wf_hist_quantile(&nf->req_us, 0.99));

    const wf_book_t *book = wf_engine_book(e);
    out(sb, "\"orders_live\":%zu,\"orders\":[", wf_book_count(book));
    orders_ctx_t oc = {.sb = sb, .n = 0, .cat = wf_engine_catalogue(e)};
    wf_book_each(book, json_order, &oc);
    char today[11];
    int64_t day = wf_cst_day(now, today);
    int64_t since = day * 86400000LL - 8LL * 3600000LL;
    wf_recent_match_t *rm = wf_malloc(WF_DASH_MATCHES * sizeof *rm);
    size_t n = wf_engine_recent_matches(e, since, rm, WF_DASH_MATCHES);
    out(sb, "],\"today\":\"%s\",\"matches\":[", today);
    for (size_t i = 0; i < n; i++) {
        char b[WF_CODE_LEN];
        out(sb, "%s[%.5f,%.5f,%.5f,%.5f,%.3f,\"%s\",%.1f,%lld,%lld]", i ? "," : "", rm[i].offer_lat,
            rm[i].offer_lon, rm[i].demand_lat, rm[i].demand_lon, (double)rm[i].qty / 1000.0,
            clean(rm[i].code, b), rm[i].km, (long long)rm[i].price, (long long)rm[i].ts);
    }
    wf_free(rm);
    out(sb, "]}\n");
}
