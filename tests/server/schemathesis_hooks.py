"""Schemathesis hooks for the conformance test (loaded with ``SCHEMATHESIS_HOOKS``).

One hook: a schema-valid request refused with 422 is not counted as a failure when the
refusal is one of the rules that JSON Schema cannot state:

- the rules about a conversation that the schema states in words (the ``messages``
  descriptions): the last message must be the user's, and its text, the question, must
  not be blank or over the question limit;
- strict integers: JSON Schema counts ``5.0`` as an ``integer``, the server takes only a
  JSON integer (``5``; docs/api.md), so a 422 whose every error is an integer field sent
  a whole float is set aside.

Every other refusal of a schema-valid request still fails the run; the run's summary
says how many failures this hook dropped.
"""

from __future__ import annotations

import schemathesis

CONVERSATION_RULES = ("the last message must be the user's", "the question is empty",
                      "characters; the limit is")
# pydantic's message for an integer field sent a float, and the rating check's own
NOT_AN_INTEGER = ("Input should be a valid integer", "Value error, a JSON integer is expected")


@schemathesis.hook
def filter_failure(context, failure, case, response) -> bool:
    """Keep every failure except a 422 on ``body.messages`` for a conversation rule."""
    if getattr(failure, "code", None) != "ST202" or response.status_code != 422:
        return True
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return True
    if (error.get("field") == "body.messages"
            and any(rule in error.get("message", "") for rule in CONVERSATION_RULES)):
        return False
    return not _whole_floats_only(error.get("errors") or [], case.body)


def _whole_floats_only(errors: list, body) -> bool:
    """Whether every error is an integer field of the body that was sent a whole float."""
    if not errors:
        return False
    for item in errors:
        if not isinstance(item, dict) or item.get("message") not in NOT_AN_INTEGER:
            return False
        path = str(item.get("field", "")).split(".")
        if path[0] != "body":
            return False
        value = body
        for part in path[1:]:
            try:
                value = value[int(part)] if isinstance(value, list) else value[part]
            except (KeyError, IndexError, ValueError, TypeError):
                return False
        if not (isinstance(value, float) and value.is_integer()):
            return False
    return True
