"""`user_step_decorator`: Metaflow's way to write a step decorator as a generator.

    @user_step_decorator
    def timing(step_name, flow, inputs, attributes):
        t = time.time()
        yield                      # the step runs here
        flow.seconds = time.time() - t

The generator runs around the step in the task's process. It may catch the step's exception
(the step then succeeds), set artifacts after the yield, or yield a callable that runs instead
of the step. Skipping a step (not yielding, or yielding a dict) is refused with a clear error:
the task's transition comes from the step's own `self.next`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Generator
from typing import Any

USER_SKIP_STEP: dict[str, Any] = {}

Body = Callable[..., Generator[Any, Any, Any]]


def user_step_decorator(func: Body) -> Callable[..., Any]:
    """Make `func(step_name, flow, inputs[, attributes])` into a step decorator, usable as
    `@name` or `@name(key=value, ...)` (the keywords are `attributes`)."""
    takes_attributes = len(inspect.signature(func).parameters) >= 4

    def wrap(step_func: Callable[..., Any], attributes: dict[str, Any]) -> Callable[..., Any]:
        @functools.wraps(step_func)
        def around(flow: Any, *args: Any) -> None:
            inputs = args[0] if args else None
            extra = (attributes,) if takes_attributes else ()
            gen = func(step_func.__name__, flow, inputs, *extra)
            try:
                yielded = next(gen)
            except StopIteration:
                raise RuntimeError(f"@{func.__name__} skipped step {step_func.__name__!r} "
                                   "(it did not yield); sfncompile runs every step") from None
            if isinstance(yielded, dict):
                raise RuntimeError(f"@{func.__name__} yielded a dict to skip step "
                                   f"{step_func.__name__!r}; sfncompile runs every step")
            body = yielded if callable(yielded) else step_func
            try:
                body(flow, *args)
            except Exception as exc:  # the generator may handle it: then the step succeeded
                try:
                    gen.throw(exc)
                except StopIteration:
                    return
                raise RuntimeError(f"@{func.__name__} must yield only once") from exc
            try:
                next(gen)
            except StopIteration:
                return
            raise RuntimeError(f"@{func.__name__} must yield only once")

        return around

    @functools.wraps(func)
    def decorator(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1 and callable(args[0]) and not kwargs:
            return wrap(args[0], {})
        if args:
            raise TypeError(f"@{func.__name__} takes keyword arguments only")
        if not takes_attributes:
            raise TypeError(f"@{func.__name__}(...) got arguments, so its generator must take "
                            "a fourth parameter, attributes")
        return lambda step_func: wrap(step_func, dict(kwargs))

    return decorator
