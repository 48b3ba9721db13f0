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
