"""Helpdesk channels (Zendesk, Jira Service Management, Freshdesk, generic): webhooks in, notes back."""

from api.channels.helpdesk.base import Helpdesk, InboundTicket, Malformed, Note, Unauthorized
from api.channels.helpdesk.freshdesk import Freshdesk
from api.channels.helpdesk.generic import Generic
from api.channels.helpdesk.jira import Jira
from api.channels.helpdesk.zendesk import Zendesk

HELPDESKS: dict[str, Helpdesk] = {h.name: h for h in (Zendesk(), Jira(), Freshdesk(), Generic())}
JOB_KIND = "helpdesk.delivery"

__all__ = ["HELPDESKS", "JOB_KIND", "Helpdesk", "InboundTicket", "Malformed", "Note", "Unauthorized"]
