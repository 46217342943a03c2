"""Ticket triage: the validated classification, its strict JSON schema and an offline classifier."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tools.base import Priority, Queue

INTENTS = (
    "order_status",
    "refund_request",
    "return_request",
    "cancellation",
    "address_change",
    "payment_issue",
    "account_access",
    "technical_issue",
    "product_question",
    "complaint",
    "other",
)
SENTIMENTS = ("negative", "neutral", "positive")


class Triage(BaseModel):
    """How a support message should be handled; the same shape from gpt-4o and from the offline classifier."""

    model_config = ConfigDict(extra="forbid")

    queue: Queue = Field(description="Team that should handle the message.")
    priority: Priority = Field(description="How soon it needs a human.")
    intent: Literal[INTENTS] = Field(description="What the customer wants.")  # type: ignore[valid-type]
    language: str = Field(pattern=r"^[a-z]{2}$", description="ISO 639-1 code of the message's language.")
    sentiment: Literal[SENTIMENTS] = Field(description="The customer's tone.")  # type: ignore[valid-type]
    confidence: float = Field(ge=0, le=1, description="0 to 1: how sure the classification is.")


def triage_json_schema() -> dict[str, Any]:
    """Triage's JSON schema in OpenAI strict form: every field required, no additional properties."""
    schema = Triage.model_json_schema()
    schema["required"] = list(schema["properties"])  # already true (no defaults); strict mode insists
    schema["additionalProperties"] = False
    return schema


def triage_response_format() -> dict[str, Any]:
    """The `response_format` argument that asks gpt-4o for a Triage with strict structured output."""
    return {
        "type": "json_schema",
        "json_schema": {"name": "triage", "strict": True, "schema": triage_json_schema()},
    }


# --- offline classifier ------------------------------------------------------------------------------
# Keywords in en/es/fr/de/pt/it/nl, alternatives separated by " | ". Each pattern is one signal; an intent
# scores the weights of its signals that occur in the message.


def _rx(alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives.split(" | ")) + r")\b", re.IGNORECASE)


# fmt: off
_ADDRESS = (r"(?<!e-mail )(?<!email )"
            r"(?:address|direcci[oó]n|adresse|endere[çc]o|indirizzo|adres|lieferadresse)")
_CHANGE = (r"(?:change|update|correct|modify|wrong|new|cambiar|actualizar|corregir|changer|modifier|[äa]ndern"
           r"|alterar|mudar|atualizar|cambiare|modificare|wijzigen|veranderen)")
_CHARGED = (r"(?:charged?|billed|cobrad[oa]s?|cobraron|d[ée]bit[ée]e?s?|abgebucht|belastet|addebitat[oa]"
            r"|afgeschreven)")
_TWICE = (r"(?:twice|two times|double|dos veces|deux fois|doppelt|zweimal|duas vezes|due volte|twee keer"
          r"|dubbel)")

INTENT_SIGNALS: dict[str, list[tuple[re.Pattern[str], float]]] = {
    "order_status": [
        (_rx(r"where(?:'s| is) | d[oó]nde est[aá] | o[uù] (?:est|en est) | wo (?:ist|bleibt) | onde est[aá]"
             r" | dov'?[eè] | waar (?:is|blijft)"), 1.0),
        (_rx(r"track(?:ing)? | seguimiento | suivi | sendungsverfolgung | rastrei?o | rastreamento"
             r" | tracciamento"), 1.0),
        (_rx(r"not (?:yet )?(?:arrived|received|delivered) | (?:hasn'?t|has not|never) (?:arrived|shipped)"
             r" | still waiting | no (?:me )?ha llegado | no lleg[oó] | pas (?:encore )?re[çc]u"
             r" | nicht (?:angekommen|geliefert|erhalten) | noch nicht | n[aã]o (?:chegou|recebi)"
             r" | non (?:[eè] )?(?:ancora )?arrivat[oa] | non ho ricevuto | nog niet"
             r" | niet (?:ontvangen|geleverd)"),
         1.0),
        (_rx(r"deliver(?:y|ed)? | shipping | shipment | arrive | late | delayed | env[ií]o | entrega"
             r" | livraison | colis | en retard | lieferung | paket | versp[äa]tet | atrasad[oa] | spedizione"
             r" | consegna | pacco | in ritardo | levering | bezorging | pakket"), 0.5),
    ],
    "refund_request": [
        (_rx(r"refund\w* | reimburs\w* | money back | reembols\w* | rembours\w* | r[üu]ckerstattung"
             r" | erstatt\w* | geld zur[üu]ck | rimbors\w* | terugbetal\w* | geld terug | chargeback"), 1.5),
    ],
    "return_request": [
        (_rx(r"return(?:ing)? | send (?:it )?back | devolver(?:lo|la)? | devoluci[oó]n | retourner | renvoyer"
             r" | zur[üu]ck(?:senden|schicken) | r[üu]cksendung | retoure | reso | restituire | terugsturen"
             r" | retourneren"), 1.0),
        (_rx(r"damaged | broken | defective | faulty | wrong (?:item|size|colou?r) | da[ñn]ad[oa] | rot[oa]"
             r" | defectuos[oa] | endommag[ée]e? | cass[ée]e? | d[ée]fectueu(?:x|se) | besch[äa]digt | kaputt"
             r" | defekt | danificad[oa] | quebrad[oa] | danneggiat[oa] | rott[oa] | beschadigd | kapot"),
         1.0),
    ],
    "cancellation": [
        (_rx(r"cancel\w* | cancela\w* | annul\w* | stornier\w* | storno | cancella\w* | annuleer\w*"), 1.5),
    ],
    "address_change": [
        (re.compile(rf"\b{_CHANGE}\b.{{0,40}}\b{_ADDRESS}\b|\b{_ADDRESS}\b.{{0,40}}\b{_CHANGE}\b", re.I),
         2.0),
    ],
    "payment_issue": [
        (re.compile(rf"\b{_CHARGED}\b.{{0,40}}\b{_TWICE}\b|\b{_TWICE}\b.{{0,40}}\b{_CHARGED}\b", re.I), 2.0),
        (_rx(r"overcharged | (?:card|payment) (?:was )?declined | tarjeta rechazada | carte refus[ée]e"
             r" | karte abgelehnt | cart[ãa]o recusado | carta rifiutata | kaart geweigerd"), 2.0),
        (_rx(r"charge | charged | payment | invoice | billing | cobr[oóa]\w* | pago | factura | paiement"
             r" | d[ée]bit[ée] | facture | abgebucht | zahlung | rechnung | pagamento | cobran[çc]a | fatura"
             r" | addebit\w* | fattura | betaling | factuur | afgeschreven"), 1.0),
    ],
    "account_access": [
        (_rx(r"password | log ?in | sign ?in | locked out | 2fa | two[- ]factor | hacked | contrase[ñn]a"
             r" | iniciar sesi[oó]n | mot de passe | connect(?:er|ion) | passwort | anmelden | einloggen"
             r" | senha | accedere | wachtwoord | inloggen"), 1.5),
        (_rx(r"account | cuenta | compte | konto | conta"), 0.5),
    ],
    "technical_issue": [
        (_rx(r"error | bug | crash\w* | not working | doesn'?t work | won'?t load | no funciona"
             r" | ne (?:fonctionne|marche) pas | funktioniert nicht | fehler | n[aã]o funciona | erro"
             r" | non funziona | errore | werkt niet | foutmelding"), 1.0),
        (_rx(r"app | website | web site | page | checkout | site"), 0.5),
    ],
    "product_question": [
        (_rx(r"compatible | in stock | available | waterproof | warranty | size guide | which size"
             r" | does (?:it|this) | disponible | garant[ií]a | garantie | verf[üu]gbar | passt"
             r" | dispon[ií]vel | garantia | disponibile | garanzia | beschikbaar | geschikt"), 1.0),
    ],
    "complaint": [
        (_rx(r"complain\w* | disappointed | queja | reclamaci[oó]n | plainte | r[ée]clamation | beschwerde"
             r" | reclama[çc][aã]o | reclamo | klacht"), 1.0),
    ],
}
INTENT_QUEUE: dict[str, Queue] = {
    "order_status": "shipping", "refund_request": "billing", "return_request": "returns",
    "cancellation": "shipping", "address_change": "shipping", "payment_issue": "billing",
    "account_access": "account", "technical_issue": "technical", "product_question": "general",
    "complaint": "general", "other": "general",
}

ANGER = _rx(r"furious | unacceptable | ridiculous | scam | worst | disgusting | inaceptable | estafa | harto"
            r" | furios[oa] | inadmissible | arnaque | scandal\w* | furieu(?:x|se) | unversch[äa]mt | betrug"
            r" | inakzeptabel | w[üu]tend | frechheit | inaceit[áa]vel | golpe | absurdo | inaccettabile"
            r" | truffa | vergogna | onacceptabel | oplichting | schandalig")
LEGAL = _rx(r"lawyer | attorney | sue | court | fraud | police | abogado | denuncia | avocat | plainte"
            r" | anwalt | polizei | advogado | procon | avvocato | advocaat | politie")
URGENT = _rx(r"urgent | urgently | asap | immediately | emergency | right now | urgente | inmediato"
             r" | imm[ée]diatement | dringend | sofort | urgentemente | subito | spoed | meteen")
SECURITY = _rx(r"hacked | unauthori[sz]ed | stolen | someone else | hackead[oa] | pirat[ée] | gehackt"
               r" | non autorizzat[oa]")
NEGATIVE = _rx(r"bad | broken | damaged | never | still | problem | issue | wrong | late | angry | upset"
               r" | disappointed | terrible | awful | poor | mal[oa]? | problema | todav[ií]a"
               r" | decepcionad[oa] | mauvais | probl[èe]me | toujours pas | d[ée][çc]u | schlecht"
               r" | immer noch | entt[äa]uscht | falsch | ruim | ainda | errad[oa] | pessimo | deluso"
               r" | sbagliat[oa] | slecht | teleurgesteld | verkeerde? | incorrect[oa]?")
PRAISE = _rx(r"great | love | excellent | amazing | perfect | happy | awesome | genial | encanta | excelente"
             r" | g[ée]nial | parfait | super | toll | perfekt | [óo]tim[oa] | adoro | ottimo | perfetto"
             r" | geweldig | fantastisch | blij")
POLITE = _rx(r"thanks | thank you | gracias | merci | danke | obrigad[oa] | grazie | bedankt | dank u")
MONEY = re.compile(r"[$€£]\s?(\d[\d.,]*)|(\d[\d.,]*)\s?(?:[$€£]|(?:usd|eur|gbp|dollars?|euros?)\b)", re.I)
ORDER_NUMBER = re.compile(r"\bORD-\d{6}\b")

# Function words that tell the seven languages apart; shared ones count for every language that has them.
_STOPWORDS = {
    "en": "the and is my i you it to of have has was not this that with for what where when can your me "
          "please did does still yet haven hasn been",
    "es": "el la los las de que y en mi mis por para con no un una está pero del al me ya hace todavía "
          "cuando dónde qué hola quiero gracias pedido llegado",
    "fr": "le la les de des et est je mon ma mes pas une un pour avec que qui ne vous il ai suis toujours "
          "où bonjour merci commande reçu",
    "de": "der die das und ist ich nicht mein meine meinen ein eine mit für auf noch wo bitte habe hat sie "
          "es wurde seit immer keine danke hallo bestellung",
    "pt": "o os a as de que e é não meu minha um uma com para por ainda já foi está onde obrigado obrigada "
          "olá pedido encomenda recebi você",
    "it": "il lo la gli le di che e è non mio mia un una con per ancora sono ho ha dove grazie ciao ordine "
          "ricevuto del della",
    "nl": "de het een en is ik niet mijn met voor op nog waar wat heb heeft geen al bedankt hallo dank "
          "bestelling ontvangen je u mij",
}
# fmt: on
STOPWORDS = {lang: frozenset(words.split()) for lang, words in _STOPWORDS.items()}
LETTER_HINTS = {"es": "ñ¿¡", "pt": "ãõ", "de": "ßäöü"}
WORD = re.compile(r"[^\W\d_]+")


def classify_offline(text: str) -> Triage:
    """Classify a support message with keyword rules: deterministic, instant, in seven languages."""
    intent, intent_conf = _intent(text)
    language, language_conf = _language(text)
    sentiment = _sentiment(text)
    priority = _priority(text, intent, sentiment)
    agrees = (sentiment == "negative") == (priority in ("high", "urgent"))
    confidence = 0.15 + 0.55 * intent_conf + 0.25 * language_conf + (0.05 if agrees else 0.0)
    return Triage(
        queue=_queue(text, intent),
        priority=priority,
        intent=intent,
        language=language,
        sentiment=sentiment,
        confidence=round(min(1.0, confidence), 2),
    )


def _intent(text: str) -> tuple[str, float]:
    """The best-scoring intent and how clearly it won (0..1); ties go to the earlier, more concrete intent."""
    scores = {
        name: sum(w for pattern, w in signals if pattern.search(text))
        for name, signals in INTENT_SIGNALS.items()
    }
    if ANGER.search(text):
        scores["complaint"] += 1.0
    if not any(scores.values()) and ORDER_NUMBER.search(text):
        scores["order_status"] = 0.5  # a bare order number is almost always "where is it?"
    ranked = sorted(scores.items(), key=lambda item: -item[1])  # stable: keeps INTENTS order on ties
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        return "other", 0.0
    return best, min(top, 3.0) / 3.0 * (0.6 + 0.4 * (top - second) / top)


def _queue(text: str, intent: str) -> Queue:
    # A refund for an item that must come back first is handled by the returns team.
    if intent == "refund_request" and any(p.search(text) for p, _ in INTENT_SIGNALS["return_request"]):
        return "returns"
    return INTENT_QUEUE[intent]


def _language(text: str) -> tuple[str, float]:
    words = [w.lower() for w in WORD.findall(text)]
    scores = {lang: float(sum(w in stop for w in words)) for lang, stop in STOPWORDS.items()}
    for lang, letters in LETTER_HINTS.items():
        scores[lang] += 2.0 * sum(ch in letters for ch in text.lower()) ** 0.5
    ranked = sorted(scores.items(), key=lambda item: -item[1])
    (best, top), (_, second) = ranked[0], ranked[1]
    if top == 0:
        return "en", 0.0
    return best, min(top, 4.0) / 4.0 * (0.5 + 0.5 * (top - second) / top)


def _sentiment(text: str) -> str:
    negative = len(NEGATIVE.findall(text)) + 2 * len(ANGER.findall(text)) + len(SECURITY.findall(text))
    positive = len(PRAISE.findall(text)) + 0.5 * len(POLITE.findall(text))
    if negative - positive >= 1:
        return "negative"
    if positive - negative >= 1:
        return "positive"
    return "neutral"


def _priority(text: str, intent: str, sentiment: str) -> Priority:
    score = 0
    score += 2 if URGENT.search(text) else 0
    score += 2 if LEGAL.search(text) else 0
    score += 2 if SECURITY.search(text) else 0
    anger = len(ANGER.findall(text))
    score += 0 if anger == 0 else 2 if anger == 1 else 3  # an angry customer needs a human soon
    score += 1 if text.count("!") >= 2 or len(re.findall(r"\b[A-Z]{4,}\b", text)) >= 2 else 0
    amount = max((_amount(m.group(1) or m.group(2)) for m in MONEY.finditer(text)), default=0.0)
    score += 2 if amount >= 500 else 1 if amount >= 100 else 0
    score += 1 if intent == "payment_issue" and sentiment == "negative" else 0
    if score >= 4:
        return "urgent"
    if score >= 2:
        return "high"
    if score == 0 and sentiment != "negative" and intent in ("product_question", "other"):
        return "low"
    return "normal"


def _amount(raw: str) -> float:
    """Parse 1,299.00 / 1.299,00 / 49,99 / 1200: a last separator followed by two digits marks decimals."""
    digits = raw.rstrip(".,")
    match = re.search(r"[.,](\d{2})$", digits)
    whole, cents = (digits[: match.start()], match.group(1)) if match else (digits, "0")
    try:
        return float(re.sub(r"[.,]", "", whole) + "." + cents)
    except ValueError:
        return 0.0
