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
