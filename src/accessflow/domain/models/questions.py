"""Policy questions and the requestor's answers (spec §2.3)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, ValidationInfo, field_validator

from accessflow.domain.models.base import InboundModel, TypedInboundModel, odata_tag
from accessflow.domain.models.text import AnswerText, IdText
from accessflow.domain.patterns import PatternError, compile_pattern

TEXT_QUESTION = "#microsoft.graph.accessPackageTextInputQuestion"
CHOICE_QUESTION = "#microsoft.graph.accessPackageMultipleChoiceQuestion"


class LocalizedText(InboundModel):
    language_code: str
    text: str | None = None


class AnswerChoice(InboundModel):
    actual_value: str
    text: str | None = None
    localizations: list[LocalizedText] = Field(default_factory=list)


class _Question(TypedInboundModel):
    id: str
    text: str | None = None
    is_required: bool = False
    is_answer_editable: bool | None = None
    sequence: int | None = None
    localizations: list[LocalizedText] = Field(default_factory=list)


class TextInputQuestion(_Question):
    ODATA_TYPE = TEXT_QUESTION
    is_single_line_question: bool | None = None
    regex_pattern: str | None = None

    @field_validator("regex_pattern")
    @classmethod
    def _compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        """Refused here, where the catalog is loaded, rather than at the first answer; the
        message names the question, as the path in a catalog file gives only its index."""
        if value is not None:
            try:
                compile_pattern(value)
            except PatternError as exc:
                question = info.data.get("id", "?")
                text = info.data.get("text")
                named = f"question {question}" + (f" ({text!r})" if text else "")
                raise ValueError(f"regexPattern of {named} is refused: {exc}") from None
        return value


class MultipleChoiceQuestion(_Question):
    ODATA_TYPE = CHOICE_QUESTION
    choices: list[AnswerChoice] = Field(min_length=1)
    is_multiple_selection_allowed: bool = False


Question = Annotated[
    Annotated[TextInputQuestion, Tag(TEXT_QUESTION)]
    | Annotated[MultipleChoiceQuestion, Tag(CHOICE_QUESTION)],
    Discriminator(
        odata_tag("accessPackageTextInputQuestion", "accessPackageMultipleChoiceQuestion"),
        custom_error_type="invalid_question",
        custom_error_message="@odata.type must be #microsoft.graph.accessPackageTextInputQuestion"
        " or #microsoft.graph.accessPackageMultipleChoiceQuestion",
    ),
]

_QUESTION_TYPES = {t.casefold().removeprefix("#"): t for t in (TEXT_QUESTION, CHOICE_QUESTION)}


class AnsweredQuestion(InboundModel):
    """``answeredQuestion`` as sent inline in an answer: the question's type and id."""

    odata_type: str | None = Field(default=None, alias="@odata.type")
    id: IdText

    @field_validator("odata_type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, str):
            short = value.removeprefix("#").casefold()
            canonical = _QUESTION_TYPES.get(short) or _QUESTION_TYPES.get(
                f"microsoft.graph.{short}"
            )
            if canonical:
                return canonical
        raise ValueError("@odata.type must name an accessPackageQuestion type")


class AccessPackageAnswerString(TypedInboundModel):
    """``accessPackageAnswerString``, the only concrete ``accessPackageAnswer``."""

    ODATA_TYPE = "#microsoft.graph.accessPackageAnswerString"
    value: AnswerText | None = None
    display_value: AnswerText | None = None
    answered_question: AnsweredQuestion
