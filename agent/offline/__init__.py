"""The offline engine: a deterministic chat model for when there is no API key or every model fails."""

from agent.offline.messages import message_text
from agent.offline.model import OFFLINE_MODEL_NAME, OfflineChatModel

__all__ = ["OFFLINE_MODEL_NAME", "OfflineChatModel", "message_text"]
