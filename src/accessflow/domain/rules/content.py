"""What the request says: justification, answers to the policy's questions, schedule."""

from __future__ import annotations

from datetime import datetime

from accessflow.domain.codes import ReasonCode
from accessflow.domain.enums import RequestType
from accessflow.domain.models.questions import (
    AccessPackageAnswerString,
    MultipleChoiceQuestion,
    Question,
    TextInputQuestion,
)
from accessflow.domain.patterns import full_match
from accessflow.domain.rules.context import RequestContext
from accessflow.domain.rules.decision import deny
from accessflow.domain.rules.schedule import schedule_problem

_USER_ADD_OR_UPDATE = frozenset({RequestType.USER_ADD, RequestType.USER_UPDATE})


def check_justification(context: RequestContext) -> None:
    """``JustificationRequired``: end-user add/update under a policy that demands one."""
    settings = context.the_policy.request_approval_settings
    if context.request_type not in _USER_ADD_OR_UPDATE:
        return
    if (
        settings.is_requestor_justification_required
        and not (context.body.justification or "").strip()
    ):
        deny(
            ReasonCode.JUSTIFICATION_REQUIRED,
            "the policy requires a justification",
            "justification",
        )


def check_answers(context: RequestContext) -> None:
    """``InvalidAnswer`` for an answer that does not fit its question; ``AnswerRequired`` when
    a ``userAdd`` leaves a required question unanswered. Admins answer only if they wish."""
    questions = {q.id.casefold(): q for q in context.the_policy.questions}
    answered: set[str] = set()
    for i, answer in enumerate(context.body.answer_list):
        question = questions.get(answer.answered_question.id.casefold())
        if question is None:
            deny(
                ReasonCode.INVALID_ANSWER,
                f"the policy has no question {answer.answered_question.id}",
                f"answers[{i}].answeredQuestion.id",
            )
        _check_answer(context, question, answer, f"answers[{i}]", repeated=question.id in answered)
        if (answer.value or "").strip():
            answered.add(question.id)
    if context.request_type is RequestType.USER_ADD:
        for question in context.the_policy.questions:
            if question.is_required and question.id not in answered:
                deny(
                    ReasonCode.ANSWER_REQUIRED,
                    f"question {question.id} ({question.text or 'untitled'}) needs an answer",
                    "answers",
                )


def _check_answer(
    context: RequestContext,
    question: Question,
    answer: AccessPackageAnswerString,
    path: str,
    *,
    repeated: bool,
) -> None:
    declared = answer.answered_question.odata_type
    if declared is not None and declared != question.odata_type:
        deny(ReasonCode.INVALID_ANSWER, f"question {question.id} is a {question.odata_type}", path)
    if context.request_type.is_update and question.is_answer_editable is False:
        deny(ReasonCode.INVALID_ANSWER, f"question {question.id} cannot be edited", path)
    value = answer.value or ""
    if isinstance(question, TextInputQuestion):
        if repeated:
            deny(ReasonCode.INVALID_ANSWER, f"question {question.id} answered twice", path)
        pattern = question.regex_pattern
        if pattern and value and not full_match(pattern, value):
            deny(ReasonCode.INVALID_ANSWER, f"answer does not match {pattern}", f"{path}.value")
    elif isinstance(question, MultipleChoiceQuestion):
        if repeated and not question.is_multiple_selection_allowed:
            deny(ReasonCode.INVALID_ANSWER, f"question {question.id} allows one choice", path)
        choices = {c.actual_value for c in question.choices}
        if value and value not in choices:
            deny(
                ReasonCode.INVALID_ANSWER,
                f"{value!r} is not a choice of question {question.id}: {sorted(choices)}",
                f"{path}.value",
            )


def check_schedule(context: RequestContext, now: datetime) -> None:
    """``CustomScheduleNotAllowed`` unless the policy allows schedules; ``InvalidSchedule``
    for contradictory, empty or past windows and windows longer than the policy allows."""
    body = context.body
    if not body.has_schedule or body.schedule is None or context.request_type.is_remove:
        return
    if not context.the_policy.requestor_settings.allow_custom_assignment_schedule:
        deny(
            ReasonCode.CUSTOM_SCHEDULE_NOT_ALLOWED,
            "the policy does not allow a custom schedule",
            "schedule",
        )
    # The policy's expiration bounds what requestors may ask for; administrators may extend.
    limit = None if context.request_type.is_admin else context.the_policy.expiration
    problem = schedule_problem(body.schedule, limit, now)
    if problem is not None:
        path, message = problem
        deny(ReasonCode.INVALID_SCHEDULE, message, path)
