"""Which of a worker's queues to receive from next: ``Strict`` (``--priority``) or
``Weighted`` (``--weights``, ``--together``, a weighted group of ``SQS_WORKERS``).

A strategy is a small object the poller asks "which queues next?" (``candidates``) and
tells "this one came back with N messages" (``found``), after Shoryuken's polling
strategies. A queue that came back empty is *parked*: it is no longer asked with short
receives, and the poller keeps a long poll open on it instead whenever ``may_long_poll``
says so, until that long poll brings messages (then it is active again). So an empty
queue costs one long poll per poll period, and a message on it is picked up at once.
"""

from __future__ import annotations

from collections.abc import Iterator

from .sources import Source


class Strategy:
    mode = ""

    def __init__(self, sources: list[Source]):
        self.sources = list(sources)
        self.parked: set[Source] = set()

    def active(self) -> list[Source]:
        return [s for s in self.sources if s not in self.parked]

    def found(self, source: Source, count: int) -> None:
        """A receive from ``source`` returned ``count`` messages."""
        if count:
            self.parked.discard(source)
        else:
            self.parked.add(source)

    def candidates(self) -> Iterator[Source]:
        """The active queues to ask this round, in order; a round stops at the first that
        returns messages."""
        raise NotImplementedError

    def may_long_poll(self, source: Source) -> bool:
        """May a long poll be open on the parked ``source`` now?"""
        raise NotImplementedError

    def describe(self) -> str:
        return self.mode if len(self.sources) > 1 else "single"


class Strict(Strategy):
    """Rank order (0 = highest): a round asks the highest active queue first, so a lower
    queue is not asked while a higher one has a backlog, and a parked queue long-polls
    only while no queue above it is active."""

    mode = "priority"

    def candidates(self) -> Iterator[Source]:
        return iter(sorted(self.active(), key=lambda s: s.rank))

    def may_long_poll(self, source: Source) -> bool:
        return not any(s.rank < source.rank for s in self.active())


class Weighted(Strategy):
    """Each round picks among the active queues in proportion to their weights (smooth
    weighted round robin: over any stretch where the same queues have messages, each is
    picked ``weight / total`` of the time, evenly spread, so none starves). A parked queue
    of non-zero weight always has its long poll open. A queue of weight 0 is asked only
    when no queue of non-zero weight has messages (and long-polls only then)."""

    mode = "weighted"

    def __init__(self, sources: list[Source], weights: dict[Source, int]):
        super().__init__(sources)
        self.weights = {s: int(weights.get(s, 1)) for s in self.sources}
        self._current = {s: 0 for s in self.sources}

    def found(self, source: Source, count: int) -> None:
        if count == 0 and source not in self.parked:
            self._current[source] = 0  # it starts afresh when it comes back
        super().found(source, count)

    def pick(self, among: list[Source]) -> Source:
        total = sum(self.weights[s] for s in among)
        for s in among:
            self._current[s] += self.weights[s]
        chosen = max(among, key=lambda s: self._current[s])  # the first of equals: stable
        self._current[chosen] -= total
        return chosen

    def candidates(self) -> Iterator[Source]:
        weighted = [s for s in self.active() if self.weights[s] > 0]
        while weighted:
            chosen = self.pick(weighted)
            yield chosen
            weighted.remove(chosen)  # came back empty (the round goes on): not asked twice
        yield from (s for s in self.active() if self.weights[s] == 0)

    def may_long_poll(self, source: Source) -> bool:
        if self.weights[source] > 0:
            return True
        return not any(self.weights[s] > 0 for s in self.active())

    def describe(self) -> str:
        return "weighted " + ",".join(f"{s.full_name}={self.weights[s]}" for s in self.sources)


def strategy_for(sources: list[Source], weights: dict[str, int] | None = None) -> Strategy:
    """``Strict`` (one queue, ``--priority``), or ``Weighted`` when ``weights`` is given
    (registered queue name → weight; a queue it does not name weighs 1). Weighted queues
    have no order between them: their messages start in the order they arrived."""
    if weights is None:
        return Strict(sources)
    for source in sources:
        source.rank = 0
    return Weighted(sources, {s: weights.get(s.rq.name, weights.get(s.full_name, 1)) for s in sources})
