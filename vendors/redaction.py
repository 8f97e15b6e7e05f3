"""The one redaction walker: what reaches a log or a delivery's attempt log never holds a
secret or patient data. Each adapter adds its own keys to the shared set."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"
# Keys whose values never reach a log or the attempt log: secrets and patient data.
SENSITIVE_KEYS = frozenset({
    "authorization", "token", "accesstoken", "refreshtoken", "password", "secret",
    "clientsecret", "apikey", "xapikey", "sessionid", "username",
    "nombre", "apellidos", "nombresocial", "nombrepaciente", "nombresocialpaciente",
    "firstname", "lastname", "middlename", "name", "fullname", "email", "phone",
    "phonenumber", "celular", "telefono", "rut", "identitynumber", "dateofbirth",
    "fechanacimiento", "dob", "bio", "comentario", "comentarios", "description", "note",
    "reason", "cancellationreason", "address",
})  # fmt: skip


def normalised(key: object) -> str:
    """A key compared without case, "_" or "-": first_name, firstName and FIRST-NAME match."""
    return str(key).lower().replace("_", "").replace("-", "")


def key_set(keys: Iterable[str]) -> frozenset[str]:
    return frozenset(normalised(key) for key in keys)


def redact(value: Any, keys: frozenset[str] = SENSITIVE_KEYS) -> Any:
    """`value` with the values of `keys` (normalised) replaced, at any depth."""
    if isinstance(value, Mapping):
        return {
            key: REDACTED if normalised(key) in keys else redact(item, keys)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item, keys) for item in value]
    return value
