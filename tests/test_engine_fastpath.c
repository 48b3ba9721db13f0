/* The batch fast path: commands write straight into the batch transaction
 * without a child each, and a command that fails after it began writing
 * sends the batch back to the slow path (roll back, reload memory, one
 * child transaction per command), so that it still fails alone and leaves
 * no trace. The failure is injected at the journal write, after the
 * command's order records are already in the transaction. */
#include "engine/engine_int.h"
#include "engine_fixture.h"

TestSuite(engine_fastpath, .init = setup, .fini = teardown);

static size_t
mine_count(const char *as)
{
    wf_cmd_t c = mk(WF_OP_ORDERS_MINE, as);
    return ok(c)->norders;
}

Test(engine_fastpath, failed_write_leaves_no_trace_in_its_batch)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    wf_cmd_t b[3] = {offer(P1, "SW07", 100, 100), offer(P2, "SW07", 50, 100), offer(P1, "SW07", 70, 100)};
    b[0].rid = 1;
    b[1].rid = 99;
    b[2].rid = 3;
    E->fail_journal_rid = 99;
    cr_assert_eq(wf_engine_apply(E, b, 3, now, R, &OUT), WF_OK);
    E->fail_journal_rid = 0;
    cr_assert_eq(R[0].err, WF_OK, "%s", R[0].msg);
    cr_assert_eq(R[1].err, WF_E_INTERNAL);
    cr_assert_eq(R[1].id[0], 0);
    cr_assert_eq(R[2].err, WF_OK, "%s", R[2].msg);
    uint64_t a = wf_id_parse(R[0].id, 'O'), c = wf_id_parse(R[2].id, 'O');
    cr_assert_eq(c, a + 1, "the failed post minted no id: %s then %s", R[0].id, R[2].id);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 2);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 2);
    cr_assert_eq(mine_count(P2), 0, "the failed post's firm_orders entry stayed");
    cr_assert_eq(mine_count(P1), 2);
    /* disk agrees with memory */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 2);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 2);
    cr_assert_eq(mine_count(P2), 0);
    char id[WF_OID_LEN];
    wf_id_format(id, 'O', c);
    cr_assert_eq(ok(ref(WF_OP_ORDER_GET, P1, id))->order->qty, 70);
}

/* ---- a batch that grows while it runs (wf_engine_apply_more) ---- */

/* The source of further commands: hands out queue[0..nqueue) in slices of
 * at most `slice`, and counts how often it was asked. */
static wf_cmd_t queue[64];
static size_t nqueue, taken, slice, asked;

static size_t
more_from_queue(void *ctx, wf_cmd_t *cmds, size_t cap)
{
    (void)ctx;
    asked++;
    size_t k = nqueue - taken;
    if (k > slice)
        k = slice;
    if (k > cap)
        k = cap;
    memcpy(cmds, queue + taken, k * sizeof *cmds);
    taken += k;
    return k;
}

static void
queue_offers(size_t n, size_t per_slice)
{
    nqueue = n;
    taken = asked = 0;
    slice = per_slice;
    for (size_t i = 0; i < n; i++) {
        queue[i] = offer(i % 2 ? P2 : P1, "SW07", 10 + (int64_t)i, 100);
        queue[i].rid = 100 + i;
    }
}

Test(engine_fastpath, commands_that_arrive_while_a_batch_runs_share_its_commit)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    wf_engine_times_t t0, t1;
    wf_engine_times(E, &t0);
    static wf_cmd_t b[WF_BATCH_MAX];
    b[0] = offer(P1, "SW07", 5, 100);
    b[0].rid = 1;
    queue_offers(5, 2); /* arrive as 2, 2, 1 */
    size_t n = 1;
    cr_assert_eq(wf_engine_apply_more(E, b, &n, WF_BATCH_MAX, more_from_queue, NULL, now, R, &OUT), WF_OK);
    wf_engine_times(E, &t1);
    cr_assert_eq(n, 6, "the batch holds the first command and the 5 that arrived");
    cr_assert_eq(asked, 4, "asked until nothing more was waiting");
    cr_assert_eq(t1.batches, t0.batches + 1, "one commit for all six");
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(R[i].err, WF_OK, "command %zu: %s", i, R[i].msg);
        cr_assert_eq(R[i].rid, i == 0 ? 1 : 100 + (i - 1), "reply %zu answers its own command", i);
    }
    cr_assert_eq(wf_engine_journal_seq(E), seq + 6);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 6);
    /* on disk as in memory */
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 6);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 6);
}

Test(engine_fastpath, a_batch_grows_a_bounded_number_of_times_up_to_its_cap)
{
    market();
    static wf_cmd_t b[WF_BATCH_MAX];
    b[0] = offer(P1, "SW07", 5, 100);
    queue_offers(64, 1); /* one at a time, always one more waiting */
    size_t n = 1;
    cr_assert_eq(wf_engine_apply_more(E, b, &n, WF_BATCH_MAX, more_from_queue, NULL, now, R, &OUT), WF_OK);
    cr_assert_eq(asked, WF_MORE_ROUNDS);
    cr_assert_eq(n, 1 + WF_MORE_ROUNDS);
    queue_offers(64, 64);
    n = 1;
    cr_assert_eq(wf_engine_apply_more(E, b, &n, 10, more_from_queue, NULL, now, R, &OUT), WF_OK);
    cr_assert_eq(n, 10, "no more than the cap");
    cr_assert_eq(taken, 9);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(R[i].err, WF_OK, "command %zu: %s", i, R[i].msg);
}

Test(engine_fastpath, a_failed_write_among_the_late_commands_fails_alone)
{
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    static wf_cmd_t b[WF_BATCH_MAX];
    b[0] = offer(P1, "SW07", 5, 100);
    b[0].rid = 1;
    queue_offers(3, 3);
    E->fail_journal_rid = 101; /* the second late command */
    size_t n = 1;
    cr_assert_eq(wf_engine_apply_more(E, b, &n, WF_BATCH_MAX, more_from_queue, NULL, now, R, &OUT), WF_OK);
    E->fail_journal_rid = 0;
    cr_assert_eq(n, 4, "the redo keeps the commands the batch had");
    cr_assert_eq(asked, 1, "and asks for no more: the redo runs what the batch had");
    cr_assert_eq(R[0].err, WF_OK, "%s", R[0].msg);
    cr_assert_eq(R[1].err, WF_OK, "%s", R[1].msg);
    cr_assert_eq(R[2].err, WF_E_INTERNAL);
    cr_assert_eq(R[2].rid, 101);
    cr_assert_eq(R[3].err, WF_OK, "%s", R[3].msg);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 3);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 3);
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 3);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 3);
}

/* The state's transaction is left open across batches, so a redo rolls
 * back batches that were answered before it; they come back from the
 * journal, and what they told their firms is not told again with the
 * redone batch. */
Test(engine_fastpath, a_redo_replays_the_answered_batches_and_sends_only_its_own)
{
    E->state_flush_ms = 600000; /* the batches below stay in the open transaction */
    market();
    uint64_t seq = wf_engine_journal_seq(E);
    ok(demand(C1, "SW07", 100, 200));
    wf_reply_t *r = ok(offer(P1, "SW07", 60, 100)); /* matches: C1 is told */
    cr_assert_eq(r->nmatches, 1);
    cr_assert_gt(OUT.nstream, 0);
    cr_assert_not_null(E->stxn, "the two batches are still in the open state transaction");
    wf_cmd_t b[2] = {offer(P2, "SW07", 10, 300), offer(P2, "SW07", 20, 300)};
    b[0].rid = 1;
    b[1].rid = 99;
    E->fail_journal_rid = 99;
    cr_assert_eq(wf_engine_apply(E, b, 2, now, R, &OUT), WF_OK);
    E->fail_journal_rid = 0;
    cr_assert_eq(R[0].err, WF_OK, "%s", R[0].msg);
    cr_assert_eq(R[1].err, WF_E_INTERNAL);
    cr_assert_eq(OUT.nstream, 0, "the redone batch sent %zu stream messages of earlier batches",
                 OUT.nstream);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 3);
    /* the answered batches are in the state, on disk too */
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 2, "the demand's rest and the new offer");
    wf_engine_destroy(&E);
    E = open_at(dir, 0);
    cr_assert_eq(wf_engine_journal_seq(E), seq + 3);
    cr_assert_eq(wf_book_count(wf_engine_book(E)), 2, "the demand's rest and the new offer");
}

/* The state's applied entry as a reader of data.mdb sees it. */
static uint64_t
state_applied(void)
{
    MDB_txn *t;
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, MDB_RDONLY, &t), 0);
    uint64_t v = 0;
    cr_assert_eq(wf_store__meta_get(t, &E->store, "applied", &v), WF_OK);
    mdb_txn_abort(t);
    return v;
}

/* A batch that finds the state commit due leaves it to wf_engine_idle,
 * which the server calls once the batch's replies are out; a caller that
 * does not call it gets the commit with the next batch, so the open
 * transaction never runs on unbounded. */
Test(engine_fastpath, a_due_state_commit_waits_for_idle_or_the_next_batch)
{
    market();
    cr_assert_eq(wf_engine__flush(E), WF_OK); /* market()'s batches are in the state */
    uint64_t before = state_applied();
    E->state_flush_ms = 0; /* every batch finds the commit due */
    ok(offer(P1, "SW07", 5, 100));
    cr_assert_not_null(E->stxn, "the due commit did not wait for the replies");
    cr_assert_eq(state_applied(), before, "the state moved before wf_engine_idle");
    cr_assert_eq(wf_engine_idle(E), -1);
    cr_assert_null(E->stxn, "wf_engine_idle left the due commit open");
    uint64_t seq = wf_engine_journal_seq(E);
    cr_assert_eq(state_applied(), seq, "the state holds the batch after wf_engine_idle");

    ok(offer(P1, "SW07", 6, 100)); /* due: left for idle */
    cr_assert_not_null(E->stxn);
    ok(offer(P1, "SW07", 7, 100)); /* idle was not called: this one commits */
    cr_assert_null(E->stxn, "a second due batch left the state open");
    cr_assert_eq(state_applied(), seq + 2);

    E->state_flush_ms = 600000; /* not due: idle says when it will be */
    ok(offer(P1, "SW07", 8, 100));
    int wait = wf_engine_idle(E);
    cr_assert(wait > 0 && wait <= 600000, "wf_engine_idle returned %d", wait);
    cr_assert_not_null(E->stxn);
}

/* New orders are appended to their table (ids only grow): its pages are
 * filled, not split in half, so 700 resting offers take the 100 leaf pages
 * that 7 records of 536 bytes per 4 KiB page need (115 or more when each
 * is put the usual way). A key that is not the greatest is still written. */
Test(engine_fastpath, new_orders_fill_their_table_pages)
{
    market();
    static wf_cmd_t b[100];
    for (int k = 0; k < 7; k++) {
        for (int i = 0; i < 100; i++) {
            b[i] = offer(i % 2 ? P2 : P1, "SW07", 10 + i, 100);
            b[i].rid = (uint64_t)(k * 100 + i + 1);
        }
        cr_assert_eq(wf_engine_apply(E, b, 100, now, R, &OUT), WF_OK);
        for (int i = 0; i < 100; i++)
            cr_assert_eq(R[i].err, WF_OK, "%s", R[i].msg);
    }
    cr_assert_eq(wf_engine__flush(E), WF_OK);
    MDB_txn *t;
    cr_assert_eq(mdb_txn_begin(E->store.env, NULL, 0, &t), 0);
    MDB_stat st;
    cr_assert_eq(mdb_stat(t, E->store.orders, &st), 0);
    cr_assert_eq(st.ms_entries, 700);
    cr_assert_leq(st.ms_leaf_pages, 101, "700 orders in %zu leaf pages", st.ms_leaf_pages);

    uint8_t key[8];
    wf_store__be64(key, 1); /* an existing order's key, below the greatest */
    wf_order_rec_t rec;
    cr_assert_eq(wf_store__get(t, E->store.orders, key, 8, &rec, sizeof rec), WF_OK);
    rec.remaining = 1;
    cr_assert_eq(wf_store__append(t, E->store.orders, key, 8, &rec, sizeof rec), WF_OK);
    wf_order_rec_t back;
    cr_assert_eq(wf_store__get(t, E->store.orders, key, 8, &back, sizeof back), WF_OK);
    cr_assert_eq(back.remaining, 1, "the record under a smaller key was not written");
    mdb_txn_abort(t);
}
