"""Triage: the strict schema, the offline classifier on realistic messages, and the structured-output path."""

from __future__ import annotations

import json

import openai
import pytest
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from openai.lib._pydantic import to_strict_json_schema
from pydantic import ValidationError

from agent.triage import (
    INTENTS,
    Triage,
    _amount,
    classify_offline,
    triage_json_schema,
    triage_response_format,
)
from tests.support import OpenAIStub, Structured
from tools.base import PRIORITIES, QUEUES

# (message, queue, priority, intent, language, sentiment)
# fmt: off
CASES = [
    ("Hi, where is my order ORD-104233? It was supposed to arrive last week. Thanks",
     "shipping", "normal", "order_status", "en", "neutral"),
    ("I was charged twice for order ORD-100512, $249.99 each time. This is unacceptable, fix it immediately!",
     "billing", "urgent", "payment_issue", "en", "negative"),
    ("The blender arrived damaged, the jar is cracked and broken. I want a refund please.",
     "returns", "normal", "refund_request", "en", "negative"),
    ("Is the winter jacket waterproof? And is size M in stock?",
     "general", "low", "product_question", "en", "neutral"),
    ("Someone hacked my account and placed orders with my card! URGENT, I will call my lawyer!",
     "account", "urgent", "account_access", "en", "negative"),
    ("Your checkout page shows an error 500 when I try to pay.",
     "technical", "normal", "technical_issue", "en", "neutral"),
    ("I just wanted to say the support team was amazing, thank you so much! Love the product.",
     "general", "low", "other", "en", "positive"),
    ("Please update the email address on my account.",
     "account", "normal", "account_access", "en", "neutral"),
    ("Can I change the delivery address for ORD-100300 to my office?",
     "shipping", "normal", "address_change", "en", "neutral"),
    ("Hola, quiero cancelar mi pedido ORD-101010, ya no lo necesito. Gracias",
     "shipping", "normal", "cancellation", "es", "neutral"),
    ("¡Es inaceptable! Llevo tres semanas esperando y nadie me responde. Quiero hablar con un supervisor.",
     "general", "high", "complaint", "es", "negative"),
    ("Bonjour, je voudrais changer l'adresse de livraison de ma commande ORD-102030. Merci !",
     "shipping", "normal", "address_change", "fr", "neutral"),
    ("Je n'arrive pas à me connecter à mon compte, le code de vérification ne marche pas.",
     "account", "normal", "account_access", "fr", "neutral"),
    ("Ich kann mich nicht anmelden, mein Passwort funktioniert nicht mehr. Bitte helfen Sie mir.",
     "account", "normal", "account_access", "de", "neutral"),
    ("Meine Rechnung für ORD-100200 ist falsch, ihr habt 89,90 € statt 59,90 € abgebucht.",
     "billing", "normal", "payment_issue", "de", "negative"),
    ("Olá, ainda não recebi a minha encomenda ORD-100777. Onde está?",
     "shipping", "normal", "order_status", "pt", "negative"),
    ("Gostaria de devolver os sapatos, ficaram pequenos. Como faço?",
     "returns", "normal", "return_request", "pt", "neutral"),
    ("Ciao, ho ricevuto un pacco danneggiato, vorrei fare il reso e avere un rimborso.",
     "returns", "normal", "return_request", "it", "neutral"),  # return + damage outweigh the refund
    ("Mi avete addebitato 1.299,00 € due volte, è inaccettabile! Voglio il rimborso subito.",
     "billing", "urgent", "payment_issue", "it", "negative"),
    ("Hallo, waar is mijn bestelling? Ik heb nog niets ontvangen en het is al twee weken.",
     "shipping", "normal", "order_status", "nl", "neutral"),
]
# fmt: on


@pytest.mark.parametrize(("text", "queue", "priority", "intent", "language", "sentiment"), CASES)
def test_classify_offline(
    text: str, queue: str, priority: str, intent: str, language: str, sentiment: str
) -> None:
    triage = classify_offline(text)
    assert (triage.queue, triage.priority, triage.intent, triage.language, triage.sentiment) == (
        queue,
        priority,
        intent,
        language,
        sentiment,
    )
    assert 0.3 <= triage.confidence <= 1


def test_classification_is_deterministic() -> None:
    assert all(classify_offline(text) == classify_offline(text) for text, *_ in CASES)


@pytest.mark.parametrize("text", ["", "hello", "asdf qwer", "...", "1234 5678", "😀😀"])
def test_no_signal_gives_other_with_low_confidence(text: str) -> None:
    triage = classify_offline(text)
    assert (triage.intent, triage.queue, triage.priority) == ("other", "general", "low")
    assert triage.confidence < 0.3


def test_confidence_grows_with_agreeing_signals() -> None:
    bare = classify_offline("ORD-104233")
    clear = classify_offline("Where is my order ORD-104233? Tracking has not updated and it has not arrived.")
    mixed = classify_offline("Where is my order? Also I want a refund and to cancel my account password.")
    assert bare.intent == clear.intent == "order_status"
    assert clear.confidence > mixed.confidence and clear.confidence > bare.confidence


def test_money_raises_priority() -> None:
    small = classify_offline("You charged my card for ORD-100100 but the order is gone: $20.")
    large = classify_offline("You charged my card for ORD-100100 but the order is gone: $750.")
    assert PRIORITIES.index(large.priority) > PRIORITIES.index(small.priority)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1,299.00", 1299.0), ("1.299,00", 1299.0), ("49,99", 49.99), ("1200", 1200.0), ("250.", 250.0)],
)
def test_amount_parsing(raw: str, value: float) -> None:
    assert _amount(raw) == value


def test_schema_is_strict_mode_compatible() -> None:
    schema = triage_json_schema()
    assert schema["additionalProperties"] is False
    assert (
        schema["required"]
        == list(schema["properties"])
        == [
            "queue",
            "priority",
            "intent",
            "language",
            "sentiment",
            "confidence",
        ]
    )
    assert schema["properties"]["queue"]["enum"] == list(QUEUES)
    assert schema["properties"]["priority"]["enum"] == list(PRIORITIES)
    assert schema["properties"]["intent"]["enum"] == list(INTENTS)
    assert "$defs" not in schema and "default" not in json.dumps(schema)
    # The openai SDK's own strict conversion has nothing left to change.
    assert to_strict_json_schema(Triage) == schema
    assert triage_response_format()["json_schema"] == {"name": "triage", "strict": True, "schema": schema}


@pytest.mark.parametrize(
    "change",
    [
        {"queue": "sales"},
        {"priority": "p1"},
        {"intent": "chitchat"},
        {"language": "eng"},
        {"confidence": 1.5},
        {"extra": "field"},
    ],
)
def test_model_rejects_out_of_vocabulary_values(change: dict) -> None:
    valid = classify_offline(CASES[0][0]).model_dump()
    Triage.model_validate(valid)
    with pytest.raises(ValidationError):
        Triage.model_validate({**valid, **change})


def _triage_by_content(body: dict) -> Structured:
    """Stands in for gpt-4o: answers with the offline classification of the last user message."""
    return Structured(classify_offline(body["messages"][-1]["content"]).model_dump())


def test_openai_sdk_round_trip_with_strict_response_format() -> None:
    text = CASES[1][0]
    with OpenAIStub(default=_triage_by_content) as stub:
        sdk = openai.OpenAI(base_url=stub.base_url, api_key="sk-test", max_retries=0)
        response = sdk.chat.completions.create(
            model="gpt-4o",
            messages=[{"role": "user", "content": text}],
            response_format=triage_response_format(),
        )
        sent = stub.requests[0].json["response_format"]
    assert Triage.model_validate_json(response.choices[0].message.content) == classify_offline(text)
    assert sent == triage_response_format()


def test_chat_openai_structured_output_round_trip() -> None:
    text = CASES[9][0]
    with OpenAIStub(default=_triage_by_content) as stub:
        model = ChatOpenAI(model="gpt-4o", base_url=stub.base_url, api_key="sk-test", max_retries=0)
        result = model.with_structured_output(Triage, method="json_schema", strict=True).invoke(
            [HumanMessage(text)]
        )
        sent = stub.requests[0].json["response_format"]["json_schema"]
    assert result == classify_offline(text)
    assert sent["strict"] is True and sent["schema"]["required"] == triage_json_schema()["required"]
