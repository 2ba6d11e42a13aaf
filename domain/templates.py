"""Message templates: Liquid with Braze's attribute syntax, parsed and checked.

A message body is a Liquid template. Braze names a program's attributes as
``{{campaign.${dispatch_id}}}`` or ``{% if canvas.${name} %}``, which Liquid cannot
parse. Before parsing, each such reference inside Liquid markup is rewritten to a plain
path (``campaign.dispatch_id``) padded with spaces to its original length, so every
position Liquid reports is a position in the text the author wrote, and filters and
tags work on the attributes as on any variable.

Templates are checked when a campaign or Canvas is defined (:func:`check_variation`):
a syntax error names its line and column, an attribute outside rules L1 and L4 is an
error rather than an empty string, and rule L5 refuses the dispatch id in an in-app
message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from liquid import BoundTemplate, Environment, Undefined
from liquid.exceptions import LiquidError, UndefinedError
from liquid.static_analysis import Variable
from liquid.token import TOKEN_EOF, TOKEN_EXPRESSION, Token
from liquid.undefined import UNDEFINED

from dispatchledger.domain.errors import DispatchTagInInApp, TemplateError
from dispatchledger.domain.values import Channel, MessageVariation

PREVIEW_DISPATCH_ID = "dispatch_id_for_unsent_campaign"
"""What the dispatch id renders as before any send (rule L2)."""

CAMPAIGN_ATTRIBUTES = (
    "dispatch_id",
    "api_id",
    "name",
    "message_name",
    "message_api_id",
)
"""``campaign.${...}`` attributes (rule L1); in a Canvas step they describe the step."""

CANVAS_ATTRIBUTES = ("name", "api_id", "variant_name", "variant_api_id")
"""``canvas.${...}`` attributes (rule L1), in the messages of Canvas steps only."""

CAMPAIGN_MESSAGE: Mapping[str, tuple[str, ...]] = {"campaign": CAMPAIGN_ATTRIBUTES}
"""The attributes a campaign's message can use, by namespace."""

CANVAS_MESSAGE: Mapping[str, tuple[str, ...]] = {
    "campaign": CAMPAIGN_ATTRIBUTES,
    "canvas": CANVAS_ATTRIBUTES,
}
"""The attributes a Canvas step's message can use, by namespace."""

NAMESPACES = frozenset(CANVAS_MESSAGE)
"""Variable names the ledger provides; a render context may not use them."""

# Liquid markup, matched so that a `${...}` inside it is taken whole: the `}` that
# closes it must not be read as the start of the `}}` that closes the output. A
# markup never spans the opening of another, so an unclosed one fails fast. Raw
# blocks come first and are left as written.
_RAW = r"(?P<raw>\{%-?\s*raw\s*-?%\}.*?\{%-?\s*endraw\s*-?%\})"
_OUTPUT = r"\{\{(?:\$\{[^{}\n]*\}|\$(?!\{)|[^{}$]|\{(?!\{)|\}(?!\}))*?\}\}"
_TAG = r"\{%(?:\$\{[^{}\n]*\}|\$(?!\{)|[^{%$]|\{(?!%)|%(?!\}))*?%\}"
_MARKUP = re.compile(f"{_RAW}|{_OUTPUT}|{_TAG}", re.DOTALL)
_ATTRIBUTE = re.compile(r"(?<![\w.])(campaign|canvas)\.\$\{[ \t]*(\w+)[ \t]*\}")


def translate(source: str) -> str:
    """The template with each Braze attribute reference made a Liquid path.

    The result has the same length and the same line breaks as ``source``.
    """
    return _MARKUP.sub(_translate_markup, source)


def _translate_markup(markup: re.Match[str]) -> str:
    if markup.group("raw") is not None:
        return markup.group(0)
    return _ATTRIBUTE.sub(_plain_path, markup.group(0))


def _plain_path(reference: re.Match[str]) -> str:
    path = f"{reference.group(1)}.{reference.group(2)}"
    return path.ljust(len(reference.group(0)))


class _ProgramUndefined(Undefined):
    """Lenient for the caller's variables; an error for an unknown program attribute.

    The caller's own variables (``user.first_name``) keep Liquid's usual behaviour:
    missing renders as nothing and ``default`` applies. A missing ``campaign.*`` or
    ``canvas.*`` attribute raises as soon as it is looked up.
    """

    __slots__ = ()

    def __init__(
        self,
        name: str,
        *,
        token: Token | None = None,
        obj: object = UNDEFINED,
        hint: str | None = None,
    ):
        if name in NAMESPACES:
            raise UndefinedError(hint or f"{name!r} is undefined", token=token)
        super().__init__(name, token=token, obj=obj, hint=hint)


class _Environment(Environment):
    """Liquid, strict about syntax, reporting a position for every error it can."""

    def error(
        self,
        exc: type[LiquidError] | LiquidError,
        msg: str | None = None,
        token: Token | None = None,
    ) -> None:
        # An expression that ends too soon raises with no position; the parser
        # passes the token it stands on, at or just after that expression.
        if isinstance(exc, LiquidError) and token and _placeable(exc, token):
            exc.token = self._end_of_expression(token)
        super().error(exc, msg, token)

    def _end_of_expression(self, near: Token) -> Token:
        """Where the expression at or before ``near`` ends."""
        expression = near
        if near.kind != TOKEN_EXPRESSION:
            earlier = [
                token
                for token in self.tokenizer()(near.source)
                if token.kind == TOKEN_EXPRESSION
                and token.start_index < near.start_index
            ]
            if not earlier:
                return near
            expression = earlier[-1]
        end = expression.start_index + len(expression.value)
        return Token(TOKEN_EOF, "", end, expression.source)


def _placeable(error: LiquidError, near: Token) -> bool:
    """Whether ``error`` has no position and ``near`` has one."""
    unplaced = error.token is None or error.token.start_index < 0
    return unplaced and near.start_index >= 0


ENVIRONMENT = _Environment(undefined=_ProgramUndefined)
"""The Liquid environment every message template is parsed and rendered in."""


@dataclass(frozen=True)
class Reference:
    """One use of a program attribute, where the author wrote it (1-based)."""

    namespace: str
    attribute: str | None
    line: int
    column: int

    @property
    def braze_syntax(self) -> str:
        return f"{self.namespace}.${{{self.attribute or ''}}}"


@dataclass(frozen=True)
class MessageTemplate:
    """A parsed message template and the program attributes it uses."""

    owner_id: str
    variation_id: str
    source: str
    bound: BoundTemplate
    references: tuple[Reference, ...]

    def uses(self, namespace: str, attribute: str) -> bool:
        return any(
            r.namespace == namespace and r.attribute == attribute
            for r in self.references
        )

    def error(self, error: LiquidError) -> TemplateError:
        """The project's error for a Liquid error met in this template."""
        return template_error(self.owner_id, self.variation_id, self.source, error)


def parse(owner_id: str, variation_id: str, source: str) -> MessageTemplate:
    """Parse a template; a syntax error raises :class:`TemplateError` with its place."""
    try:
        bound = ENVIRONMENT.from_string(translate(source))
        analysis = bound.analyze(include_partials=False)
    except LiquidError as error:
        raise template_error(owner_id, variation_id, source, error) from None
    for name, spans in analysis.filters.items():
        if name not in ENVIRONMENT.filters:
            line, column = position(source, spans[0].index)
            reason = f"unknown filter {name!r}"
            raise TemplateError(owner_id, variation_id, reason, line, column)
    references = tuple(
        _reference(variable, source)
        for name, variables in analysis.globals.items()
        if name in NAMESPACES
        for variable in variables
    )
    return MessageTemplate(owner_id, variation_id, source, bound, references)


def _reference(variable: Variable, source: str) -> Reference:
    segments = variable.segments
    attribute = segments[1] if len(segments) > 1 else None
    line, column = position(source, variable.span.index)
    return Reference(
        namespace=str(segments[0]),
        attribute=attribute if isinstance(attribute, str) else None,
        line=line,
        column=column,
    )


def check_references(
    template: MessageTemplate,
    allowed: Mapping[str, tuple[str, ...]],
    *,
    in_app: bool = False,
) -> None:
    """Refuse attributes outside ``allowed``, and the dispatch id in-app (L5)."""
    if in_app and any(r.attribute == "dispatch_id" for r in template.references):
        raise DispatchTagInInApp(template.owner_id, template.variation_id)
    for reference in template.references:
        reason = _unknown_reason(reference, allowed)
        if reason is not None:
            raise TemplateError(
                template.owner_id,
                template.variation_id,
                reason,
                reference.line,
                reference.column,
            )


def _unknown_reason(
    reference: Reference, allowed: Mapping[str, tuple[str, ...]]
) -> str | None:
    known = allowed.get(reference.namespace)
    if known is None:
        return (
            f"{reference.namespace}.${{...}} attributes exist only in the messages"
            " of Canvas steps"
        )
    if reference.attribute is None:
        return (
            f"{reference.namespace!r} must be followed by an attribute name, one"
            f" of {', '.join(known)}"
        )
    if reference.attribute not in known:
        return (
            f"unknown attribute {reference.braze_syntax}; {reference.namespace}"
            f" has {', '.join(known)}"
        )
    return None


def check_variation(
    owner_id: str, variation: MessageVariation, *, in_canvas: bool = False
) -> MessageTemplate:
    """Parse and check a variation's template as rules L1, L4 and L5 require.

    Raises :class:`TemplateError` (with line and column) or
    :class:`DispatchTagInInApp`; returns the parsed template.
    """
    template = parse(owner_id, variation.variation_id, variation.template)
    check_references(
        template,
        CANVAS_MESSAGE if in_canvas else CAMPAIGN_MESSAGE,
        in_app=variation.channel is Channel.IN_APP_MESSAGE,
    )
    return template


def template_error(
    owner_id: str, variation_id: str, source: str, error: LiquidError
) -> TemplateError:
    """Translate a Liquid error into the project's error, placed in ``source``."""
    index = error.token.start_index if error.token is not None else -1
    line, column = position(source, index if index >= 0 else len(source))
    reason = str(error.message) if error.message is not None else type(error).__name__
    if index < 0:
        reason = reason.replace("end of expression", "the end of the template")
    return TemplateError(owner_id, variation_id, reason, line, column)


def position(source: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``index`` in ``source``."""
    before = source[:index]
    line = before.count("\n") + 1
    column = index - (before.rfind("\n") + 1) + 1
    return line, column
