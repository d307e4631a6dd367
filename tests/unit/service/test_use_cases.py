"""The API's use cases (submit, cancel, reprocess, decide) on the memory store and a fake
publisher: what they refuse, what they produce, and that the worker applies what they
produce. The create pre-check and the worker decide with the same code over the same view,
so for every body they agree."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from command_support import (
    ALEX,
    KAYO,
    MEGAN,
    NOW,
    PATTI,
    SALES,
    admin_remove,
    finance_for_megan,
    sales_for,
)
from service_support import rejections, transitions

from accessflow.adapters.memory import InMemoryUnitOfWork
from accessflow.adapters.memory_read_model import InMemoryReadModel
from accessflow.domain.create_body import parse_create_request
from accessflow.domain.errors import DomainError
from accessflow.domain.rules import Caller
from accessflow.service import actions
from accessflow.service.actions import Action, StageReview
from accessflow.service.commands import (
    CREATE,
    DATA_MODELS,
    CommandEnvelope,
    CreateData,
    create_command,
)
from accessflow.service.handlers import handle_batch
from accessflow.service.read_model import Channels
from accessflow.service.submit import (
    STALE_CLAIM,
    KeyInFlightError,
    KeyReusedError,
    Submission,
    Submitted,
    submit,
)
from accessflow.service.types import Command

SOURCE = "urn:accessflow:test"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class UnavailableError(Exception):
    pass


class ProcessDiedError(BaseException):
    """The API process stops mid-request: nothing after the send runs."""


@dataclass
class FakePublisher:
    """Records what it was asked to send; ``failures`` sends fail first; ``die_after_send``:
    the next send reaches the broker and then the process dies."""

    sent: list[dict[str, Any]] = field(default_factory=list)
    failures: int = 0
    die_after_send: bool = False

    async def publish(self, envelope: dict[str, Any]) -> None:
        if self.die_after_send:
            self.die_after_send = False
            self.sent.append(envelope)
            raise ProcessDiedError
        if self.failures:
            self.failures -= 1
            raise UnavailableError("the broker did not acknowledge")
        self.sent.append(envelope)


@dataclass
class Api:
    """The use cases' ports over one memory store, and the worker that store serves."""

    uow: InMemoryUnitOfWork
    read: InMemoryReadModel
    publisher: FakePublisher
    now: Any = NOW

    @property
    def ports(self) -> Channels:
        return Channels(self.read, self.read, self.publisher, SOURCE)

    async def submit(
        self,
        body: dict[str, Any],
        caller: str = MEGAN,
        *,
        admin: bool = False,
        key: str | None = None,
    ) -> Submitted:
        asked = Submission(
            Caller(object_id=caller, is_admin=admin), parse_create_request(body), key
        )
        return await submit(self.ports, asked, self.now)

    def action(self, request_id: uuid.UUID, caller: str, *, admin: bool = False) -> Action:
        return Action(Caller(object_id=caller, is_admin=admin), request_id, self.now, TRACEPARENT)

    async def work(self) -> None:
        """The worker applies every command produced so far, in order."""
        items = [as_command(envelope) for envelope in self.publisher.sent]
        self.publisher.sent.clear()
        await handle_batch(items, self.uow, self.now)


def as_command(envelope: dict[str, Any]) -> Command:
    """What the worker's decoder makes of the envelope (validated by the wire models)."""
    parsed = CommandEnvelope.model_validate(envelope)
    data = DATA_MODELS[parsed.type].model_validate(parsed.data)
    return Command(
        parsed.id, parsed.type, parsed.source, parsed.subject, parsed.time,
        parsed.traceparent, data, 0, 0, 0,
    )  # fmt: skip


@pytest.fixture
def api(uow: InMemoryUnitOfWork) -> Api:
    return Api(uow, InMemoryReadModel(uow, clock=lambda: NOW), FakePublisher())


async def test_an_allowed_create_produces_one_command_and_answers_as_the_worker_records(
    api: Api,
) -> None:
    submitted = await api.submit(sales_for(MEGAN))
    [envelope] = api.publisher.sent
    data = CreateData.model_validate(envelope["data"])
    assert (envelope["type"], envelope["source"]) == (CREATE, SOURCE)
    assert envelope["subject"] == submitted.document["id"] == str(data.request_id)
    assert (data.requestor.object_id, data.requestor.is_admin) == (MEGAN, False)
    await api.work()
    recorded = api.uow.request(data.request_id)
    assert recorded is not None
    answer = submitted.document
    assert answer["state"] == "submitted"
    assert answer["assignment"] == {**answer["assignment"], "accessPackageId": SALES}
    assert recorded.request.id == answer["id"]
    assert transitions(api.uow, data.request_id)[0] == ("submitted", None)


async def test_a_refused_create_produces_nothing(api: Api) -> None:
    with pytest.raises(DomainError) as refused:
        await api.submit(admin_remove(str(uuid.uuid4())), KAYO)
    assert refused.value.code.value == "AssignmentNotFound"
    assert api.publisher.sent == []


CASES = [
    ("self-service add", sales_for(MEGAN), MEGAN, False),
    ("needs approval", finance_for_megan(), MEGAN, False),
    ("add for someone else", sales_for(KAYO), PATTI, False),
    ("admin type by a non-admin", admin_remove(str(uuid.uuid4())), KAYO, False),
    ("admin removal of an unknown assignment", admin_remove(str(uuid.uuid4())), KAYO, True),
    ("finance without answers", {**finance_for_megan(), "answers": []}, MEGAN, False),
]


@pytest.mark.parametrize(("name", "body", "caller", "admin"), CASES, ids=[c[0] for c in CASES])
async def test_the_pre_check_and_the_worker_decide_alike(
    api: Api, name: str, body: dict[str, Any], caller: str, admin: bool
) -> None:
    """What the API refuses, the worker denies with the same code; what it accepts, the
    worker accepts, with the state the pre-check's decision named."""
    request_id = uuid.uuid4()
    worker = as_command(
        create_command(caller, body, source=SOURCE, request_id=request_id, is_admin=admin)
    )
    api_code = None
    try:
        await api.submit(body, caller, admin=admin)
    except DomainError as refused:
        api_code = refused.code.value
    await handle_batch([worker], api.uow, NOW)
    worker_steps = transitions(api.uow, request_id)
    denied = [code for state, code in worker_steps if state == "denied"]
    assert denied == ([api_code] if api_code else []), name


async def test_a_second_add_of_the_same_package_is_refused_once_the_first_is_recorded(
    api: Api,
) -> None:
    await api.submit(sales_for(MEGAN))
    await api.work()
    with pytest.raises(DomainError) as again:
        await api.submit(sales_for(MEGAN))
    assert again.value.code.value == "AlreadyAssigned"
    assert api.publisher.sent == []


async def test_a_repeated_key_answers_the_first_answer_and_produces_once(api: Api) -> None:
    first = await api.submit(sales_for(MEGAN), key="k")
    again = await api.submit(sales_for(MEGAN), key="k")
    assert (again.document, again.replayed) == (first.document, True)
    assert len(api.publisher.sent) == 1


async def test_keys_belong_to_their_caller(api: Api) -> None:
    one = await api.submit(sales_for(MEGAN), MEGAN, key="shared")
    two = await api.submit(sales_for(KAYO), KAYO, key="shared")
    assert one.document["id"] != two.document["id"]
    assert len(api.publisher.sent) == 2


async def test_a_key_reused_for_another_body_is_refused(api: Api) -> None:
    await api.submit(sales_for(MEGAN), key="k")
    with pytest.raises(KeyReusedError):
        await api.submit({**sales_for(MEGAN), "justification": "other"}, key="k")
    assert len(api.publisher.sent) == 1


async def test_a_failed_produce_releases_the_key_so_a_retry_starts_afresh(api: Api) -> None:
    api.publisher.failures = 1
    with pytest.raises(UnavailableError):
        await api.submit(sales_for(MEGAN), key="k")
    assert await api.read.find(MEGAN, "k", STALE_CLAIM) is None
    retried = await api.submit(sales_for(MEGAN), key="k")
    assert not retried.replayed
    assert len(api.publisher.sent) == 1


async def test_a_fresh_pending_key_makes_a_retry_wait(api: Api) -> None:
    envelope = {"id": "c-1"}
    await api.read.claim(MEGAN, "busy", _digest(sales_for(MEGAN)), uuid.uuid4(), envelope, {})
    with pytest.raises(KeyInFlightError):
        await api.submit(sales_for(MEGAN), key="busy")
    assert api.publisher.sent == []


async def test_a_stale_pending_key_sends_the_same_command_again(api: Api) -> None:
    """The process that claimed it died between producing and recording: the retry produces
    the very same envelope (same id, so the worker applies it once) and answers with it."""
    api.publisher.die_after_send = True
    with pytest.raises(ProcessDiedError):
        await api.submit(sales_for(MEGAN), key="k")
    [original] = api.publisher.sent
    with pytest.raises(KeyInFlightError):  # not yet stale: it may still be on its way
        await api.submit(sales_for(MEGAN), key="k")
    api.read.clock = lambda: NOW + STALE_CLAIM + timedelta(seconds=1)
    again = await api.submit(sales_for(MEGAN), key="k")
    assert again.document["id"] == original["subject"]
    assert api.publisher.sent == [original, original]
    replayed = await api.submit(sales_for(MEGAN), key="k")
    assert (replayed.replayed, len(api.publisher.sent)) == (True, 2)


async def _pending_finance(api: Api) -> uuid.UUID:
    submitted = await api.submit(finance_for_megan())
    await api.work()
    return uuid.UUID(submitted.document["id"])


async def test_cancel_by_the_requestor_produces_a_cancel_the_worker_applies(api: Api) -> None:
    request_id = await _pending_finance(api)
    await actions.cancel(api.ports, api.action(request_id, MEGAN))
    [envelope] = api.publisher.sent
    assert (envelope["type"], envelope["traceparent"]) == (
        "accessflow.assignmentRequest.cancel",
        TRACEPARENT,
    )
    await api.work()
    assert transitions(api.uow, request_id)[-1][0] == "canceled"


@pytest.mark.parametrize(
    ("who", "admin", "code"),
    [
        (KAYO, False, "RequestorNotAllowed"),  # may not even read it
        (ALEX, False, "RequestorNotAllowed"),  # an approver reads it but may not cancel it
    ],
)
async def test_cancel_by_someone_else_is_refused(
    api: Api, who: str, admin: bool, code: str
) -> None:
    request_id = await _pending_finance(api)
    with pytest.raises(DomainError) as refused:
        await actions.cancel(api.ports, api.action(request_id, who, admin=admin))
    assert refused.value.code.value == code
    assert api.publisher.sent == []


async def test_actions_on_an_unknown_request_are_not_found(api: Api) -> None:
    unknown = api.action(uuid.uuid4(), MEGAN, admin=True)
    for act in (
        actions.cancel(api.ports, unknown),
        actions.reprocess(api.ports, unknown, timedelta(days=14)),
        actions.decide(api.ports, unknown, StageReview(uuid.uuid4(), "Approve", "ok")),
    ):
        with pytest.raises(DomainError) as refused:
            await act
        assert refused.value.code.value == "RequestNotFound"
    assert api.publisher.sent == []


async def test_reprocess_of_a_delivered_request_is_refused_as_the_worker_would(
    api: Api,
) -> None:
    submitted = await api.submit(sales_for(MEGAN))
    await api.work()
    request_id = uuid.UUID(submitted.document["id"])
    with pytest.raises(DomainError) as refused:
        await actions.reprocess(api.ports, api.action(request_id, MEGAN), timedelta(days=14))
    assert refused.value.code.value == "IllegalTransition"
    assert api.publisher.sent == []
    assert rejections(api.uow) == {}


async def test_the_approver_decides_and_the_worker_moves_the_stage(api: Api) -> None:
    request_id = await _pending_finance(api)
    row = await api.read.request(request_id)
    assert row is not None
    stage = uuid.UUID(actions.stages_of(row)[0]["id"])
    decision = StageReview(stage, "Approve", "fine")
    with pytest.raises(DomainError) as refused:
        await actions.decide(api.ports, api.action(request_id, KAYO), decision)
    assert refused.value.code.value == "NotAnApprover"
    await actions.decide(api.ports, api.action(request_id, ALEX), decision)
    [envelope] = api.publisher.sent
    assert envelope["data"]["reviewer"] == {"objectId": ALEX, "isAdmin": False}
    await api.work()
    after = await api.read.request(request_id)
    assert after is not None
    assert actions.stages_of(after)[0]["reviewResult"] == "Approved"
    with pytest.raises(DomainError) as twice:
        await actions.decide(api.ports, api.action(request_id, ALEX), decision)
    assert twice.value.code.value == "StageAlreadyDecided"


def _digest(body: dict[str, Any]) -> str:
    from accessflow.service.submit import body_hash

    return body_hash(parse_create_request(body))
