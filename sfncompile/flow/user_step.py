"""`user_step_decorator`: Metaflow's way to write a step decorator as a generator.

    @user_step_decorator
    def timing(step_name, flow, inputs, attributes):
        t = time.time()
        yield                      # the step runs here
        flow.seconds = time.time() - t

The generator runs around the step in the task's process, as in Metaflow: it may catch the
step's exception (the step then succeeds and goes where its `self.next` goes), set artifacts
after the yield, yield a callable that runs instead of the step (returning True: go where the
step goes), or skip the step (not yielding, or yielding `USER_SKIP_STEP`/`{}`). Overriding the
arguments of `self.next` (a non-empty dict) is refused with a clear error.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import Any

USER_SKIP_STEP: dict[str, Any] = {}

Body = Callable[..., Generator[Any, Any, Any]]


def user_step_decorator(func: Body) -> Callable[..., Any]:
    """Make `func(step_name, flow, inputs[, attributes])` into a step decorator, usable as
    `@name` or `@name(key=value, ...)` (the keywords are `attributes`)."""
    import inspect  # here: `import sfncompile`, which every task does, stays light

    takes_attributes = len(inspect.signature(func).parameters) >= 4

    def wrap(step_func: Callable[..., Any], attributes: dict[str, Any]) -> Callable[..., Any]:
        name = f"@{func.__name__} on step {step_func.__name__!r}"

        @functools.wraps(step_func)
        def around(flow: Any, *args: Any) -> None:
            inputs = args[0] if args else None
            extra = (attributes,) if takes_attributes else ()
            gen = func(step_func.__name__, flow, inputs, *extra)
            try:
                yielded = next(gen)
            except StopIteration:
                return _go_on(flow, name)  # it did not yield: the step is skipped
            if isinstance(yielded, dict):
                _refuse_next_arguments(yielded, name)
                gen.close()
                return _go_on(flow, name)
            try:
                if callable(yielded):
                    result = yielded(flow, *args)
                    if isinstance(result, dict):
                        _refuse_next_arguments(result, name)
                    if result is True or result == {}:
                        _go_on(flow, name)
                else:
                    step_func(flow, *args)
            except Exception as exc:
                try:
                    gen.throw(exc)
                except StopIteration:
                    return _go_on(flow, name)  # it swallowed the exception
                raise RuntimeError(f"{name} must yield only once") from exc
            try:
                next(gen)
            except StopIteration:
                return None
            raise RuntimeError(f"{name} must yield only once")

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


def _go_on(flow: Any, name: str) -> None:
    """Take the step's own transition, as Metaflow calls `self.next` for a skipped step."""
    binding = getattr(flow, "_sfn", None)
    if binding is None:
        raise RuntimeError(f"{name}: skipping a step needs sfncompile's runtime")
    binding.default_next = True


def _refuse_next_arguments(args: dict[str, Any], name: str) -> None:
    if args:
        raise RuntimeError(f"{name} gave arguments for self.next ({', '.join(args)}); "
                           "sfncompile takes a step's transition from its own self.next: "
                           "skip the step with USER_SKIP_STEP, or change the flow")
