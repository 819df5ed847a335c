"""Tell an operator when a flow run fails or crashes: a Prefect state hook that posts a small JSON document to the
webhook of the setting alert_webhook_url (POP_ALERT_WEBHOOK_URL). The document names the flow, the run, its state,
the first line of its message and the time; URLs' passwords, the settings' secrets, SQL and its parameters are cut
out, so nothing secret nor any row of data leaves. A failure to notify is logged, never raised."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from pop.settings import Settings, get_settings

log = logging.getLogger(__name__)

TIMEOUT_S = 10
MAX_MESSAGE = 300
URL_PASSWORD = re.compile(r"(\b[a-z][\w+.-]*://[^\s:/@]*):[^\s@/]+@", re.I)  # scheme://user:password@
SQL_DETAIL = re.compile(r"\s*\[(SQL|parameters):.*", re.S)  # SQLAlchemy's SQL and bound values (values of rows)
DROPPED_LINES = ("DETAIL:", "HINT:", "CONTEXT:", "(Background on this error")  # PostgreSQL's DETAIL quotes keys


def _secrets(settings: Settings) -> list[str]:
    """The settings' secret values, to be cut out of anything sent."""
    found = [s.get_secret_value() for s in (settings.alert_webhook_url, settings.record_key_secret) if s is not None]
    if settings.database_url:
        found.append(str(make_url(settings.database_url).password or ""))
    return [s for s in found if len(s) >= 4]


def safe_message(message: str | None, secrets: list[str]) -> str:
    """A state's message on one line, without SQL, its parameters or a database's DETAIL (they may hold values of
    rows), URL passwords or the settings' secrets; at most MAX_MESSAGE characters."""
    text = SQL_DETAIL.sub("", message or "")
    lines = [line.strip() for line in text.splitlines() if not line.strip().startswith(DROPPED_LINES)]
    text = URL_PASSWORD.sub(r"\1:***@", " ".join(line for line in lines if line))
    for secret in secrets:
        text = text.replace(secret, "***")
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def alert_payload(flow_name: str, run_name: str | None, run_id: str, state: Any, secrets: list[str]) -> dict[str, Any]:
    """The JSON document posted for a run that ended in `state`."""
    moment = getattr(state, "timestamp", None) or dt.datetime.now(dt.UTC)
    return {
        "event": "pop.flow_run." + str(state.type.value).lower(),
        "flow": flow_name,
        "flow_run_name": run_name,
        "flow_run_id": run_id,
        "state": state.name,
        "state_type": str(state.type.value),
        "message": safe_message(state.message, secrets),
        "time": moment.isoformat(),
    }


def post_alert(url: str, payload: dict[str, Any]) -> bool:
    """POST the payload as JSON; True when the receiver took it (2xx). Failures are logged, never raised."""
    try:
        answer = httpx.post(url, json=payload, timeout=TIMEOUT_S)
        answer.raise_for_status()
    except Exception as exc:  # an alert that cannot be sent must never change the run's outcome
        where = httpx.URL(url)
        log.warning("could not post the alert to %s://%s: %s", where.scheme, where.host, type(exc).__name__)
        return False
    return True


def notify_run_state(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect flow state hook (on_failure, on_crashed): post the run's outcome to the alert webhook, if one is set."""
    try:
        settings = get_settings()
    except Exception:  # broken settings may be why the run failed; the alert then has no webhook to go to
        log.warning("no alert sent: the settings cannot be read")
        return
    if settings.alert_webhook_url is None:
        return
    payload = alert_payload(flow.name, flow_run.name, str(flow_run.id), state, _secrets(settings))
    post_alert(settings.alert_webhook_url.get_secret_value(), payload)


ALERT_HOOKS: dict[str, list[Any]] = {"on_failure": [notify_run_state], "on_crashed": [notify_run_state]}
