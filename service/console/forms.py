"""HTML forms to the API's own schemas and back: the console validates with the same pydantic
models as the API (``ProfileCreate``, ``ProfileUpdate``, ``ExportParams``...), so the rules
are written once; each error is shown beside the field it names."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.datastructures import FormData

from service.errors import InvalidInput

LIST_FIELDS = ("sectors", "partnership_types")
# Optional one-value fields: an empty box means "none" (and, on edit, clears the value).
OPTIONAL_FIELDS = ("employees", "city", "website", "contact_email")
TEXT_FIELDS = ("name", "country", "org_type", "capabilities", "needs")
M = TypeVar("M", bound=BaseModel)


def profile_values(form: FormData, *, create: bool) -> dict[str, Any]:
    """The profile fields of a submitted form, shaped as the API's JSON body."""
    out: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name == "country" and not create:
            continue
        if name in form:
            out[name] = form[name]
    for name in LIST_FIELDS:
        out[name] = form.getlist(name)
    for name in OPTIONAL_FIELDS:
        value = str(form.get(name, "")).strip()
        if value:
            out[name] = value
        elif not create:
            out[name] = None
    tags = str(form.get("tags", ""))
    out["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    return out


def parse(model: type[M], values: dict[str, Any]) -> tuple[M | None, dict[str, str]]:
    """The validated model, or the errors by field name (the first message of each field)."""
    try:
        return model.model_validate(values), {}
    except ValidationError as exc:
        return None, errors_by_field(exc.errors())


def errors_by_field(errors: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        loc = [p for p in e.get("loc", ()) if p not in ("body", "query")]
        field = str(loc[0]) if loc else "form"
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        out.setdefault(field, msg)
    return out


def domain_errors(exc: InvalidInput) -> dict[str, str]:
    return errors_by_field(exc.errors)
