"""Bad input: refimpl raises torch's exception type, both messages carry torch's key phrase, and
refimpl's names the offending argument. Run on CPU (CUDA reports some of these by device asserts)."""

import re
import warnings

import pytest

from cases import CASES


def _params():
    for case in CASES:
        for error in case.errors():
            yield pytest.param(case, error, id=f"{case.name}-{error.desc}")


def _raised(fn, error):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fn(*error.args, **error.kwargs)
        except Exception as exc:  # the exception is the result under test
            return exc
    return None


@pytest.mark.parametrize("case, error", list(_params()))
def test_bad_input_raises_like_torch(case, error):
    torch_exc = _raised(case.torch_fn, error)
    assert isinstance(torch_exc, error.exc_type), f"torch raised {torch_exc!r}, the case expects {error.exc_type}"
    assert re.search(error.match, str(torch_exc)), f"torch's message changed: {torch_exc}"
    ref_exc = _raised(case.ref_fn, error)
    assert isinstance(ref_exc, type(torch_exc)), f"refimpl raised {ref_exc!r}, torch raised {torch_exc!r}"
    assert re.search(error.match, str(ref_exc)), f"refimpl's message lacks torch's phrase: {ref_exc}"
    assert error.names in str(ref_exc), f"refimpl's message does not name {error.names!r}: {ref_exc}"
    assert case.name in str(ref_exc), f"refimpl's message does not name the function: {ref_exc}"
