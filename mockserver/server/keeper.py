"""What `POST /v1/responses` reads from the store and keeps in it.

Before the scenario is chosen, the turns a request refers to become its prior turns: the chain of
`previous_response_id` (every earlier response's input and output, oldest first; instructions are not carried
over) or the items of its `conversation`. `match` rules see them, `usage.input_tokens` counts them, and a
request without a user message of its own is matched on the conversation's last one. An id the store does not
have is the real API's error.

Once answered, a response is kept (unless `store: false`) and a conversation's items grow by the request's
input and the response's output. A background response is kept from the start, and answered at once.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

from aiohttp import web

from ..engine.plan import Plan
from ..scenario.tokens import estimate_prompt_tokens
from ..wire import reasoning
from ..wire.errors import mutually_exclusive, not_found, previous_response_not_found
from ..wire.responses import final_status, snapshot
from ..wire.responses_object import DONE, Envelope
from ..wire.responses_request import ResponsesAsk, turns_of
from ..wire.stored_items import MakeId, listed_input
from . import background
from .exchange import current
from .resources import json_answer
from .state import STATE
from .store import Conversation, Store, StoredResponse, Turns, held, response_cost

T = TypeVar("T")


class ResponseKeeper:
    """The pipeline's `Keeper` for the Responses API."""

    def before_choice(self, request: web.Request, ask: ResponsesAsk) -> None:
        resolve(request.app[STATE].store, ask)
        if ask.echoed.background and ask.obfuscation is None:
            ask.obfuscation = False  # background streams carry no obfuscation padding

    def take_over(
        self, request: web.Request, plans: list[Plan], ask: ResponsesAsk, envelope: Envelope, headers: Mapping[str, str]
    ) -> Awaitable[web.StreamResponse] | None:
        """A background response: kept from now on (also with `store: false`, so that it can be polled),
        played by a task, answered at once — queued, or its stream as it comes."""
        if not ask.echoed.background:
            return None
        store = request.app[STATE].store
        session = current().session
        record = StoredResponse(ask, plans, envelope, "queued")
        store.put(session, envelope.id, record, response_cost(ask, plans))
        live = background.start(store, record, lambda: _finished(store, session, record))
        if ask.stream:
            return background.follow(request, live, -1)
        return _queued(record, headers)

    def answered(self, request: web.Request, plans: list[Plan], ask: ResponsesAsk, envelope: Envelope) -> None:
        store = request.app[STATE].store
        session = current().session
        record = StoredResponse(ask, plans, envelope, final_status(plans[0]))
        if ask.echoed.store:
            store.put(session, envelope.id, record, response_cost(ask, plans))
        _finished(store, session, record)


KEEPER = ResponseKeeper()


async def _queued(record: StoredResponse, headers: Mapping[str, str]) -> web.StreamResponse:
    return json_answer(snapshot(record.plans, record.ask, record.envelope, "queued"), headers=headers)


def _finished(store: Store, session: str, record: StoredResponse) -> None:
    """A response in a conversation that ends well adds its input and output to it, together."""
    conversation_id = record.ask.conversation_id
    if conversation_id is None or record.status not in ("completed", "incomplete"):
        return
    conversation = store.get(session, conversation_id, Conversation)
    if conversation is None:  # deleted (or dropped) meanwhile
        return
    added = listed_input(record.ask.input, conversation.item_id) + output_of(record)
    conversation.items += added
    store.charge(session, conversation_id, held(added))  # what the conversation holds more (not the instructions)


def resolve(store: Store, ask: ResponsesAsk) -> Turns | None:
    """Read the turns the request refers to into `ask.prior`, and count them; the real API's errors for ids it
    does not have. Returns those turns (None: none)."""
    previous, conversation_id = ask.echoed.previous_response_id, ask.conversation_id
    if previous is not None and conversation_id is not None:
        raise mutually_exclusive()
    session = current().session
    prior: Turns | None = None
    if conversation_id is not None:
        conversation = stored(store, session, conversation_id, Conversation, "Conversation")
        estimate, _, messages = turns_of(conversation.items, checked=False)
        prior = Turns(estimate, messages)
    elif previous is not None:
        record = store.get(session, previous, StoredResponse)
        if record is None or not record.ask.echoed.store:
            note_miss(store, session, previous)
            raise previous_response_not_found(previous)
        prior = chain(store, session, record)
    use_prior(ask, prior)
    return prior


def use_prior(ask: ResponsesAsk, prior: Turns | None) -> None:
    """The earlier turns as the request's own prior turns: matched on, and counted as input."""
    if prior is not None and prior.messages:
        ask.prior = tuple(prior.messages)
        ask.prompt_tokens += estimate_prompt_tokens(prior.estimate) - 3  # the reply is primed once
        if not ask.last_user:
            ask.last_user = next((turn.text for turn in reversed(prior.messages) if turn.role == "user"), "")
    if isinstance(ask.input, list):
        ask.prompt_tokens += reasoning.input_tokens(ask.input)


def stored(store: Store, session: str, key: str, kind: type[T], label: str) -> T:
    """The stored object of that id, or the real API's 404 for a `label` it does not have."""
    found = store.get(session, key, kind)
    if found is None:
        note_miss(store, session, key)
        raise not_found(label, key)
    return found


def note_miss(store: Store, session: str, key: str) -> None:
    """Say in the journal when a lookup missed because the store's bound dropped the object."""
    entry = current().entry
    if entry is not None and store.dropped(session, key):
        entry.store_miss = (
            f"'{key}' was dropped: the store keeps the {store.size} most recently used objects, holding at most "
            f"{store.max_bytes:,} bytes"
        )


def chain(store: Store, session: str, record: StoredResponse) -> Turns:
    """The turns of a chain of responses ending with `record`, oldest first. A link the store no longer has
    ends the chain there (and the journal says so)."""
    links = [record]
    parent = record.parent
    while parent is not None and len(links) <= store.size:
        found = store.get(session, parent, StoredResponse)
        if found is None:
            note_miss(store, session, parent)
            break
        links.append(found)
        parent = found.parent
    estimate: list[Any] = []
    messages = []
    for link in reversed(links):
        own = own_turns(link)
        estimate += own.estimate
        messages += own.messages
    return Turns(estimate, messages)


def own_turns(record: StoredResponse) -> Turns:
    """A response's own input (without its instructions) and output, as turns; read once it has ended."""
    if record.own is not None:
        return record.own
    value = record.ask.input
    items: list[Any] = [{"role": "user", "content": value}] if isinstance(value, str) else list(value or [])
    estimate, _, messages = turns_of(items + output_of(record), checked=False)
    turns = Turns(estimate, messages)
    if record.status in DONE:
        record.own = turns
    return turns


def output_of(record: StoredResponse) -> list[dict[str, Any]]:
    """A response's output items as they stand."""
    output: list[dict[str, Any]] = snapshot(record.plans, record.ask, record.envelope, record.status, record.sent)[
        "output"
    ]
    return output


def input_item_id(record: StoredResponse) -> MakeId:
    """Ids for a response's input items that the client did not name: derived from the response's, so that
    listing them twice gives the same ids."""
    made = itertools.count()

    def make(prefix: str) -> str:
        return prefix + hashlib.sha256(f"{record.id}:{next(made)}".encode()).hexdigest()[:48]

    return make
