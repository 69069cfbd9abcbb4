"""The Jinja2 sandbox for what process owners write (task instructions, message templates),
with bounds on what a template can make: Jinja's own sandbox blocks unsafe attributes and
limits range(), but `{{ 'x' * 10**9 }}` would still build a gigabyte string."""

from __future__ import annotations

from typing import Any

from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_SIZE = 100_000  # characters or items one operation may make
MAX_EXPONENT = 1_000
_PADDING = {"center", "ljust", "rjust", "zfill", "expandtabs"}


class BoundedSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*":
            for sized, times in ((left, right), (right, left)):
                if (
                    isinstance(sized, str | bytes | list | tuple)
                    and isinstance(times, int)
                    and len(sized) * times > MAX_SIZE
                ):
                    raise SecurityError(f"a repetition longer than {MAX_SIZE:,} is not allowed")
        if operator == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"an exponent above {MAX_EXPONENT:,} is not allowed")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        if getattr(__obj, "__name__", None) in _PADDING and any(
            isinstance(a, int) and a > MAX_SIZE for a in (*args, *kwargs.values())
        ):
            raise SecurityError(f"a width above {MAX_SIZE:,} is not allowed")
        return super().call(__context, __obj, *args, **kwargs)


MAX_OUTPUT = 100_000  # characters a template may produce
_COMPILED: dict[tuple[str, bool], Any] = {}


class TemplateProblem(Exception):
    """A template could not be rendered: a syntax error, a missing value, a blocked operation
    or an output over the limit."""


def render_bounded(
    source: str, data: dict[str, Any], *, strict: bool = False, max_output: int = MAX_OUTPUT
) -> str:
    """Render `source` in the bounded sandbox, stopping once the output passes `max_output`
    characters. Runs in an evaluator process (see render), which bounds time and memory."""
    from jinja2 import StrictUndefined, TemplateError

    key = (source, strict)
    template = _COMPILED.get(key)
    try:
        if template is None:
            env = (
                BoundedSandbox(autoescape=False, undefined=StrictUndefined)
                if strict
                else (BoundedSandbox(autoescape=False))
            )
            template = env.from_string(source)
            if len(_COMPILED) > 512:
                _COMPILED.clear()
            _COMPILED[key] = template
        size, parts = 0, []
        for chunk in template.generate(**data):
            size += len(chunk)
            if size > max_output:
                raise TemplateProblem(f"the text would be longer than {max_output:,} characters")
            parts.append(chunk)
        return "".join(parts)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
        # The line of the owner's template where it failed (a syntax error carries it; a
        # failure while rendering has it in the template's frames of the traceback), so the
        # owner can find it: "line 3: 'when' is undefined".
        line = getattr(exc, "lineno", None) or _template_line(exc.__traceback__)
        if not isinstance(exc, TemplateError) and line is None:
            raise  # not the template's own doing
        raise TemplateProblem(f"line {line}: {exc}" if line else str(exc)) from None


def _template_line(tb: Any) -> int | None:
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def render(
    source: str,
    data: dict[str, Any],
    *,
    strict: bool = False,
    limit_s: float = 1.0,
    max_output: int = MAX_OUTPUT,
) -> str:
    """Render an owner's template in an evaluator process, bounded in time, memory and output
    size. Raises TemplateProblem with a message a person can act on."""
    from engine.core import datacodec
    from engine.spiff import evaluator

    try:
        request = {
            "op": "render",
            "source": source,
            "data": datacodec.encode(data, "data"),
            "strict": strict,
            "max_output": max_output,
            "context": {},
        }
        return evaluator.run(request, limit_s=limit_s)
    except datacodec.DataError as exc:
        raise TemplateProblem(f"the data cannot be shown: {exc}") from None
    except evaluator.EvaluationError as exc:
        raise TemplateProblem(str(exc)) from None
