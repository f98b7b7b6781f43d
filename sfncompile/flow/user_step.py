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

`UserStepDecorator` is the same as a class (`pre_step`, `post_step`, `skip_step`), as in
Metaflow 2.16+. `StepMutator` and `FlowMutator` may be imported and subclassed, but applying
one is refused where it is written: a mutator adds decorators and parameters when Metaflow
loads the flow, and sfncompile compiles a flow without running it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Generator
from typing import Any, NoReturn

from sfncompile.exception import MetaflowException
from sfncompile.flow.unsupported import mutator_message, refuse

USER_SKIP_STEP: dict[str, Any] = {}

Body = Callable[..., Generator[Any, Any, Any]]


def _step_of(obj: Any) -> Any:
    """The step function under a UserStepDecorator applied bare (`@MyDecorator`)."""
    return obj._wrapped if isinstance(obj, UserStepDecorator) else obj


def user_step_decorator(func: Body) -> Callable[..., Any]:
    """Make `func(step_name, flow, inputs[, attributes])` into a step decorator, usable as
    `@name` or `@name(key=value, ...)` (the keywords are `attributes`)."""
    import inspect  # here: `import sfncompile`, which every task does, stays light

    takes_attributes = len(inspect.signature(func).parameters) >= 4

    def wrap(step_func: Callable[..., Any], attributes: dict[str, Any]) -> Callable[..., Any]:
        step_func = _step_of(step_func)
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


_KEEP = object()  # post_step said nothing about self.next


class UserStepDecorator:
    """Metaflow's class form of a step decorator (2.16+): `pre_step` runs before the step and
    may return a callable to run instead; `post_step` runs after it with its exception (or
    None) and returns the exception to raise, None to swallow it, or `(exception, next)`;
    setting `self.skip_step = True` in `pre_step` skips the step. Keyword arguments
    (`@MyDecorator(key=value)`) go to `init`. As in Metaflow, a skipped step or a swallowed
    exception takes the step's own transition; arguments for `self.next` are refused."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._kwargs = kwargs
        self._wrapped: Callable[..., Any] | None = None
        self._ran_init = False
        self._skip_step: bool | dict[str, Any] = False
        if args and getattr(_step_of(args[0]), "is_step", False):  # bare: @MyDecorator
            self._wrapped = self._wrap(_step_of(args[0]))
            args = args[1:]
        if args:
            raise MetaflowException(f"{self} does not allow positional arguments")

    def __str__(self) -> str:
        return f"UserStepDecorator({type(self).__module__}.{type(self).__qualname__})"

    def __call__(self, step_func: Any = None) -> Callable[..., Any]:
        if step_func is not None:
            return self._wrap(_step_of(step_func))
        if self._wrapped is None:
            raise MetaflowException(f"{self} can only be applied to a step function")
        return self._wrapped

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        # Applied bare, the decorator itself is the class attribute: present the step.
        return self().__get__(instance, owner)

    # -- what a subclass overrides --------------------------------------------------------

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the decorator's keyword arguments (instead of __init__)."""

    def pre_step(self, step_name: str, flow: Any,
                 inputs: Any = None) -> Callable[..., Any] | None:
        return None

    def post_step(self, step_name: str, flow: Any,
                  exception: Exception | None = None) -> Any:
        return (exception, None) if exception is not None else (None, None)

    @property
    def skip_step(self) -> bool | dict[str, Any]:
        return self._skip_step

    @skip_step.setter
    def skip_step(self, value: bool | dict[str, Any]) -> None:
        self._skip_step = value

    # -- running around the step ----------------------------------------------------------

    def _external_init(self) -> None:
        if self._ran_init:
            return
        self._ran_init = True
        if type(self).init is UserStepDecorator.init:
            if self._kwargs:
                raise MetaflowException(f"{self} is used with arguments but does not "
                                        "implement init")
            return
        self.init(**self._kwargs)

    def _wrap(self, step_func: Callable[..., Any]) -> Callable[..., Any]:
        step_name = step_func.__name__
        label = f"{self} on step {step_name!r}"

        @functools.wraps(step_func)
        def around(flow: Any, *args: Any) -> None:
            self._external_init()
            self._skip_step = False
            replacement = self.pre_step(step_name, flow, args[0] if args else None)
            wanted: Any = self.skip_step or None  # what to hand self.next, Metaflow's way
            raised: Exception | None = None
            if wanted is None:
                try:
                    if replacement:
                        wanted = replacement(flow, *args) or None
                    else:
                        step_func(flow, *args)
                except Exception as exc:
                    raised = exc
            try:
                outcome = self.post_step(step_name, flow, raised)
            except Exception as exc:
                outcome = exc
            error, said = _read_post_step(outcome, label)
            if said is not _KEEP:
                wanted = said
            if error is not None:
                raise error
            if _takes_next(wanted, label) or raised is not None:
                _go_on(flow, label)

        return around


def _read_post_step(outcome: Any, label: str) -> tuple[BaseException | None, Any]:
    """(the exception to raise, what to hand self.next) from what post_step returned."""
    if outcome is None:
        return None, _KEEP
    if isinstance(outcome, BaseException):
        return outcome, _KEEP
    if isinstance(outcome, tuple) and len(outcome) == 2:
        return outcome[0], outcome[1]
    if isinstance(outcome, tuple) and len(outcome) == 3:
        raise outcome[2]
    raise RuntimeError(f"{label}: post_step must return an exception or None, or (exception, "
                       f"arguments for self.next); got {outcome!r}")


def _takes_next(wanted: Any, label: str) -> bool:
    """Whether the step must take its own transition (True, or an empty dict)."""
    if wanted is None or wanted is False:
        return False
    if wanted is True:
        return True
    if isinstance(wanted, dict):
        _refuse_next_arguments(wanted, label)
        return True
    raise RuntimeError(f"{label}: invalid value for self.next; expected a bool or a dict, got "
                       f"{wanted!r}")


class StepMutator:
    """Metaflow's step mutator. A subclass may be defined and imported; applying it to a step
    is refused where it is written (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        if args and (isinstance(args[0], UserStepDecorator | StepMutator)
                     or getattr(args[0], "is_step", False)):
            _refuse_mutator(self, "StepMutator")

    def __call__(self, step_func: Any = None, **kwargs: Any) -> Any:
        _refuse_mutator(self, "StepMutator")

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the mutator's arguments (instead of __init__)."""

    def pre_mutate(self, mutable_step: Any) -> None:
        return None

    def mutate(self, mutable_step: Any) -> None:
        return None


class FlowMutator:
    """Metaflow's flow mutator. A subclass may be defined and imported; applying it to a flow
    is refused where it is written (see the module's docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        if args and isinstance(args[0], type | FlowMutator):  # bare: @MyMutator on a class
            _refuse_mutator(self, "FlowMutator")

    def __call__(self, flow_cls: Any = None) -> Any:
        _refuse_mutator(self, "FlowMutator")

    def init(self, *args: Any, **kwargs: Any) -> None:
        """Take the mutator's arguments (instead of __init__)."""

    def pre_mutate(self, mutable_flow: Any) -> None:
        return None

    def mutate(self, mutable_flow: Any) -> None:
        return None


class MutableStep:
    """The type a StepMutator's methods receive in Metaflow; here for annotations only."""


class MutableFlow:
    """The type a FlowMutator's methods receive in Metaflow; here for annotations only."""


def _refuse_mutator(mutator: StepMutator | FlowMutator, kind: str) -> NoReturn:
    refuse(mutator_message(type(mutator).__name__, kind))
