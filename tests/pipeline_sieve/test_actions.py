"""Each SIEVE action carried out by the pipeline, from Outcomes built by hand (no interpreter):
what is stored (envelopes, their mailboxes and keywords, mailboxes created), what is refused,
and what goes to the outbox, all in one commit."""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import time
from email.message import EmailMessage

import pytest
from sqlalchemy import select, update

from mesyx.errors import PermissionDenied, Temporary
from mesyx.pipeline.autoreply import smtp_reason
from mesyx.pipeline.carry import MAX_OWN_HOPS
from mesyx.pipeline.filtering import keywords_of
from mesyx.pipeline.memory import MAILBOX_PERIOD
from mesyx.pipeline.relay import choose_relay, outbox_change
from mesyx.sieve.actions import Discard, FileInto, Keep, Outcome, Redirect, Reject, Vacation
from mesyx.store import fold, schema
from mesyx.store.mailbox_ids import MailboxRole, named_mailbox_id, role_mailbox_id
from mesyx.store.operations import OpKind
from mesyx.store.payloads import encode_change
from tests.pipeline_sieve.conftest import HOST, MESSAGE, Pipeline

IMPLICIT = Keep(implicit=True)


def inbox(pipeline: Pipeline, account_id: bytes | None = None) -> str:
    return role_mailbox_id(account_id or pipeline.alice.account_id, MailboxRole.INBOX)


def parse(raw: bytes) -> EmailMessage:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_no_script_is_the_implicit_keep(pipeline: Pipeline) -> None:
    delivery = pipeline.deliver()
    assert delivery.accounts == 1
    ((inner, raw),) = pipeline.envelopes(pipeline.alice)
    assert inner.mailboxes == (inbox(pipeline),) and inner.keywords == ()
    assert raw.endswith(MESSAGE) and raw.startswith(b"Return-Path: <sender@ext.test>\r\nReceived: ")
    assert [op.kind for op in pipeline.ops(pipeline.alice)] == [OpKind.PUT]
    assert pipeline.direct.batches == 1  # the group committer's path: nothing but envelopes
    assert pipeline.scripts.calls == []


def test_keep_with_flags_sets_keywords_in_the_envelope_and_its_placement(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((Keep(flags=("\\Seen \\Flagged", "$Label1")),))
    pipeline.deliver()
    ((inner, _),) = pipeline.envelopes(pipeline.alice)
    assert inner.keywords == ("$Label1", "$flagged", "$seen")
    (placed,) = pipeline.state(pipeline.alice).emails.values()
    assert placed.mailbox_ids == {inbox(pipeline)} and placed.keywords == {"$seen", "$flagged", "$Label1"}
    message, envelope, environment = pipeline.scripts.calls[0]
    assert envelope.mail_from == "sender@ext.test" and envelope.rcpt_to == "alice@mesyx.test"
    assert environment.hostname == HOST and environment.addresses == ("alice@mesyx.test",)
    assert message.header("subject") == ("weekly news",)


def test_keywords_are_mapped_as_the_client_index_maps_imap_flags() -> None:
    assert keywords_of(["\\seen", "\\ANSWERED", "\\Draft \\Deleted"]) == ("$answered", "$deleted", "$draft", "$seen")
    assert keywords_of(["\\Recent", "\\Bogus", "bad(word", "a" * 256, "$Seen", "Work"]) == ("$seen", "Work")


def test_fileinto_creates_the_mailbox_once_and_files_the_message_there(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((FileInto("Lists", flags=("\\Seen",)),))
    pipeline.deliver()
    lists = named_mailbox_id(alice.account_id, "Lists")
    state = pipeline.state(alice)
    assert state.mailboxes[lists].name == "Lists" and state.mailboxes[lists].parent_id is None
    (placed,) = state.emails.values()
    assert placed.mailbox_ids == {lists} and placed.keywords == {"$seen"}
    assert len(pipeline.ops(alice, OpKind.MAILBOX_CREATE)) == 1
    assert pipeline.direct.batches == 0  # committed with its MAILBOX_CREATE, in one transaction

    pipeline.deliver()
    assert len(pipeline.ops(alice, OpKind.MAILBOX_CREATE)) == 1  # known now: no second create
    assert pipeline.direct.batches == 1
    assert len(pipeline.state(alice).emails) == 2


def test_fileinto_is_remembered_across_restarts_without_names_on_disk(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((FileInto("Lists"),))
    pipeline.deliver()
    pipeline.deliverer.carrier.memory._known.clear()  # a new process: memory from the table
    pipeline.deliver()
    assert len(pipeline.ops(alice, OpKind.MAILBOX_CREATE)) == 1
    with pipeline.store.engine.connect() as conn:
        rows = conn.execute(select(schema.pipeline_memory)).all()
    assert len(rows) == 1 and rows[0].expires > time.time() + MAILBOX_PERIOD - 60
    assert b"Lists" not in bytes(rows[0].key)


def test_a_deleted_mailbox_comes_back_with_its_mail_a_period_later(pipeline: Pipeline) -> None:
    """The accept node cannot see the delete; the next day's create shows the mail again."""
    alice = pipeline.alice
    lists = named_mailbox_id(alice.account_id, "Lists")
    pipeline.scripts.outcomes[alice.account_id] = Outcome((FileInto("Lists"),))
    pipeline.deliver()
    pipeline.store.originate(alice.account_id, [encode_change(
        fold.DeleteMailbox(lists), alice.metadata.public.keyset_id, alice.metadata.public.public_key)])
    pipeline.deliver()  # filed into the deleted mailbox: in the log, shown nowhere yet
    assert lists not in pipeline.state(alice).mailboxes
    with pipeline.store.engine.begin() as conn:  # a period later
        conn.execute(update(schema.pipeline_memory).values(expires=time.time() - 1))
    pipeline.deliverer.carrier.memory._known.clear()
    pipeline.deliver()
    state = pipeline.state(alice)
    assert state.mailboxes[lists].name == "Lists"
    assert [email.mailbox_ids for email in state.emails.values()] == [{lists}] * 3


def test_fileinto_a_path_creates_each_level_and_keep_adds_inbox(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((FileInto("Lists/rust"), Keep(), FileInto("INBOX")))
    pipeline.deliver()
    state = pipeline.state(alice)
    lists, rust = (named_mailbox_id(alice.account_id, name) for name in ("Lists", "Lists/rust"))
    assert (state.mailboxes[rust].name, state.mailboxes[rust].parent_id) == ("rust", lists)
    (placed,) = state.emails.values()
    assert placed.mailbox_ids == {rust, inbox(pipeline)}  # one envelope in both
    ((inner, _),) = pipeline.envelopes(alice)
    assert set(inner.mailboxes) == {rust, inbox(pipeline)}


def test_fileinto_a_special_use_name_creates_nothing(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((FileInto("Junk"),))
    pipeline.deliver()
    assert pipeline.ops(alice, OpKind.MAILBOX_CREATE) == []
    (placed,) = pipeline.state(alice).emails.values()
    assert placed.mailbox_ids == {role_mailbox_id(alice.account_id, MailboxRole.JUNK)}


def test_discard_stores_nothing(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((Discard(),))
    before = pipeline.store.counts()
    delivery = pipeline.deliver()
    assert delivery.accounts == 0 and pipeline.store.counts() == before


def test_reject_of_every_recipient_refuses_with_one_clean_line(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((Reject("Go away\r\nnow, spamm\u00e9r"),))
    before = pipeline.store.counts()
    with pytest.raises(PermissionDenied) as refused:
        pipeline.deliver()
    assert refused.value.message == "Go away now, spamm?r"
    assert pipeline.store.counts() == before


def test_smtp_reason_is_one_short_printable_line() -> None:
    assert smtp_reason("  \t\r\n") == "Message rejected by the recipient's mail filter"
    assert smtp_reason("x" * 500) == "x" * 200
    assert smtp_reason("a\x00b\x1bc") == "a?b?c"


def test_partial_reject_delivers_to_the_others_and_sends_a_dsn(pipeline: Pipeline) -> None:
    alice, bob = pipeline.alice, pipeline.bob
    pipeline.scripts.outcomes[alice.account_id] = Outcome((Reject("not interested"),))
    delivery = pipeline.deliver(("alice@mesyx.test", "bob@mesyx.test"))
    assert delivery.accounts == 1 and delivery.rejected == ("not interested",)
    assert pipeline.envelopes(alice) == [] and len(pipeline.envelopes(bob)) == 1
    (notice,) = pipeline.outbox(alice)  # the rejecting account's log, sealed to the relay
    assert notice.mail_from == "" and notice.recipients == ("sender@ext.test",)
    report = parse(notice.message)
    assert report["To"] == "sender@ext.test" and report["Auto-Submitted"] == "auto-replied"
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    human, status, headers = report.iter_parts()
    assert "not interested" in human.get_content() and "alice@mesyx.test" in human.get_content()
    assert status.get_content_type() == "message/delivery-status"
    text = notice.message.decode()
    assert "Final-Recipient: rfc822; alice@mesyx.test\r\nAction: failed\r\nStatus: 5.7.1\r\n" in text
    assert "Diagnostic-Code: smtp; 550 5.7.1 not interested" in text
    assert headers.get_content_type() == "text/rfc822-headers" and "Subject: weekly news" in text
    assert "hello" not in text.split("text/rfc822-headers", 1)[1]  # the body is not sent back


def test_partial_reject_of_a_bounce_sends_no_notice(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((Reject("no"),))
    pipeline.deliver(("alice@mesyx.test", "bob@mesyx.test"), mail_from="")
    assert pipeline.outbox(pipeline.alice) == [] and len(pipeline.envelopes(pipeline.bob)) == 1


def test_redirect_queues_the_message_unchanged_with_the_sender_kept(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((Redirect("fwd@elsewhere.test"),))
    delivery = pipeline.deliver()
    assert delivery.accounts == 0 and pipeline.envelopes(alice) == []
    (item,) = pipeline.outbox(alice)
    assert item.mail_from == "sender@ext.test" and item.recipients == ("fwd@elsewhere.test",)
    assert item.message.startswith(b"Received: from ext.test ([192.0.2.1])\r\n\tby mx.mesyx.test (Mesyx)")
    assert item.message.endswith(MESSAGE) and b"Return-Path" not in item.message


def test_redirect_copy_keeps_too(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    outcome = Outcome((Redirect("a@elsewhere.test", copy=True), Redirect("b@elsewhere.test"), IMPLICIT))
    pipeline.scripts.outcomes[alice.account_id] = outcome
    pipeline.deliver()
    (item,) = pipeline.outbox(alice)
    assert item.recipients == ("a@elsewhere.test", "b@elsewhere.test")
    assert len(pipeline.envelopes(alice)) == 1


def test_a_message_looping_through_this_node_is_kept_not_redirected(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((Redirect("fwd@elsewhere.test"),))
    hop = f"Received: from a ([192.0.2.1])\r\n\tby {HOST} (Mesyx) with ESMTP id 1;\r\n\tMon, 1 Jan 2026\r\n".encode()
    pipeline.deliver(raw=hop * MAX_OWN_HOPS + MESSAGE)
    assert pipeline.outbox(alice) == []
    ((inner, _),) = pipeline.envelopes(alice)
    assert inner.mailboxes == (inbox(pipeline),)
    pipeline.deliver(raw=hop * (MAX_OWN_HOPS - 1) + MESSAGE)
    assert len(pipeline.outbox(alice)) == 1


def vacation(handle: str = "h1", period: int = 7 * 86_400, **fields: object) -> Vacation:
    values: dict[str, object] = {
        "recipient": "sender@ext.test", "sender": "alice@mesyx.test", "subject": "", "reason": "I am away.\nBack soon",
        "handle": handle, "period": period, "mime": False,
    }
    values.update(fields)
    return Vacation(**values)  # type: ignore[arg-type]


def test_vacation_replies_once_per_period_per_sender_and_handle(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation(), IMPLICIT))
    pipeline.deliver()
    (item,) = pipeline.outbox(alice)
    assert item.mail_from == "" and item.recipients == ("sender@ext.test",)
    reply = parse(item.message)
    assert reply["From"] == "alice@mesyx.test" and reply["To"] == "sender@ext.test"
    assert reply["Subject"] == "Auto: weekly news" and reply["Auto-Submitted"] == "auto-replied"
    assert reply["In-Reply-To"] == "<m1@ext.test>" and reply["References"] == "<m0@ext.test> <m1@ext.test>"
    assert reply.get_content_type() == "text/plain" and reply.get_content_charset() == "utf-8"
    assert reply.get_content().replace("\r\n", "\n") == "I am away.\nBack soon\n"
    assert len(pipeline.envelopes(alice)) == 1

    pipeline.deliver()
    assert len(pipeline.outbox(alice)) == 1  # within the period: no second reply
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation("h2", subject="Away \u00e9t\u00e9"), IMPLICIT))
    pipeline.deliver()
    items = pipeline.outbox(alice)
    assert len(items) == 2 and parse(items[1].message)["Subject"] == "Away \u00e9t\u00e9"
    with pipeline.store.engine.connect() as conn:
        keys = b"".join(bytes(row.key) for row in conn.execute(select(schema.pipeline_memory)))
    assert b"sender" not in keys and b"ext.test" not in keys


def test_vacation_replies_again_once_the_period_is_over(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation(period=0), IMPLICIT))
    pipeline.deliver()
    pipeline.deliver()
    assert len(pipeline.outbox(alice)) == 2


def test_vacation_mime_reason_is_the_body_entity(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    reason = "Content-Type: text/html; charset=utf-8\n\n<p>Away</p>\n"
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation(mime=True, reason=reason, subject="Out"), IMPLICIT))
    pipeline.deliver()
    (item,) = pipeline.outbox(alice)
    reply = parse(item.message)
    assert reply.get_content_type() == "text/html" and "<p>Away</p>" in reply.get_content()
    assert reply["MIME-Version"] == "1.0" and reply["Subject"] == "Out"


def test_vacation_never_answers_the_null_sender(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((vacation(), IMPLICIT))
    pipeline.deliver(mail_from="")
    assert pipeline.outbox(pipeline.alice) == []


def test_a_runtime_error_keeps_in_inbox_and_logs_without_content(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((IMPLICIT,), error="too many redirects", steps=7)
    with caplog.at_level(logging.WARNING, logger="mesyx.sieve"):
        pipeline.deliver()
    ((inner, _),) = pipeline.envelopes(pipeline.alice)
    assert inner.mailboxes == (inbox(pipeline),)
    (record,) = [r for r in caplog.records if r.getMessage() == "script_error"]
    fields = record.mesyx_fields
    assert fields == {"account": pipeline.alice.account_id.hex(), "reason": "too many redirects", "steps": 7}


def test_nothing_is_stored_when_an_outbox_item_cannot_be_made(pipeline: Pipeline) -> None:
    """A relay that is not on the account's device list: 451 for the whole message, no half of it."""
    pipeline.deliverer.carrier.relay_node = "b" * 32
    pipeline.scripts.outcomes[pipeline.bob.account_id] = Outcome((FileInto("Lists"), Redirect("x@elsewhere.test")))
    before = pipeline.store.counts()
    with pytest.raises(Temporary):
        pipeline.deliver(("alice@mesyx.test", "bob@mesyx.test"))
    assert pipeline.store.counts() == before


def test_the_authenticated_sender_is_the_envelope_auth(pipeline: Pipeline) -> None:
    pipeline.scripts.outcomes[pipeline.alice.account_id] = Outcome((IMPLICIT,))
    pipeline.deliver(mail_from="bob@mesyx.test", authenticated=True)
    pipeline.deliver()
    (_, first, _), (_, second, _) = pipeline.scripts.calls
    assert (first.auth, second.auth) == ("bob@mesyx.test", None)


def test_expired_vacation_rows_are_swept(pipeline: Pipeline) -> None:
    alice = pipeline.alice
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation("first", period=0), IMPLICIT))
    pipeline.deliver()
    pipeline.scripts.outcomes[alice.account_id] = Outcome((vacation("second", period=3600), IMPLICIT))
    pipeline.deliverer.carrier.memory._swept = 0.0  # a minute went by
    pipeline.deliver()
    with pipeline.store.engine.connect() as conn:
        rows = conn.execute(select(schema.pipeline_memory)).all()
    assert len(rows) == 1 and rows[0].expires > pipeline.envelopes(alice)[0][0].received_at + 3000


def test_an_interpreter_crash_keeps_in_inbox_and_logs_no_content(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(*_: object) -> Outcome:
        raise KeyError("weekly news")

    pipeline.scripts.outcomes[pipeline.alice.account_id] = crash
    with caplog.at_level(logging.ERROR, logger="mesyx.sieve"):
        pipeline.deliver()
    ((inner, _),) = pipeline.envelopes(pipeline.alice)
    assert inner.mailboxes == (inbox(pipeline),)
    (record,) = [r for r in caplog.records if r.getMessage() == "script_crashed"]
    assert record.mesyx_fields["error"] == "KeyError" and "weekly" not in str(record.mesyx_fields)


def test_a_session_that_goes_away_waits_for_its_commit(pipeline: Pipeline) -> None:
    """Cancelled while its transaction runs: the task ends only once the commit did."""
    sink = pipeline.deliverer.sink
    effects = pipeline.deliverer.carrier.effects()
    relay = choose_relay(pipeline.store.account(pipeline.alice.account_id), None, pipeline.store.node)
    effects.add(pipeline.alice.account_id, outbox_change(relay, "", ("x@elsewhere.test",), b"Subject: x\r\n\r\n"))

    async def go() -> None:
        task = asyncio.ensure_future(sink.submit((), effects))
        await asyncio.sleep(0)  # the commit thread has started
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert len(pipeline.outbox(pipeline.alice)) == 1

    asyncio.run(go())
