"""The request-smuggling corpus (tests/integration/smuggling/, see smuggling_corpus.py): each
case's raw bytes go to the real binary in front of a capturing upstream; the client must get
the listed responses and connection state, and the upstream exactly the listed bytes (or
nothing)."""

import difflib

import pytest

import harness
import rawupstream
import smuggling_corpus as corpus

CASES = corpus.load_cases()


@pytest.fixture(scope="module")
def capture():
    up = rawupstream.RawUpstream()
    yield up
    up.stop()


@pytest.fixture(scope="module")
def gate(capture, tmp_path_factory, tenantgate_bin):
    """One proxy for the whole corpus: each case uses a fresh client connection, and its
    upstream bytes are taken from a mark, so cases do not see each other's."""
    p = harness.Proxy(tenantgate_bin, tmp_path_factory.mktemp("smuggling"),
                      corpus.tenantgate_config(capture.addr))
    yield p
    problems = p.cleanup()
    assert not problems, "\n".join(problems)


def show(data: bytes) -> str:
    return "\n".join(repr(line) for line in data.split(b"\n"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case(gate, capture, case):
    assert gate.alive(), "tenantgate died during an earlier case"
    outcome = corpus.run_case(gate.port(), case.raw, capture, len(case.responses),
                              case.upstream)
    assert outcome.statuses == case.responses, f"{case.why}: got {outcome.client_summary()}"
    assert outcome.interim == case.interim, f"interim responses {outcome.interim}"
    assert all(outcome.request_ids), "a response without X-Request-Id"
    assert outcome.closed == (case.then == "close"), \
        f"{case.why}: connection {'closed' if outcome.closed else 'left open'}"

    seen, ids = corpus.mask_request_ids(outcome.upstream)
    expected = case.upstream or b""
    if seen != expected:
        diff = "\n".join(difflib.unified_diff(show(expected).splitlines(),
                                              show(seen).splitlines(), "expected", "upstream",
                                              lineterm=""))
        pytest.fail(f"{case.why}: the upstream received other bytes:\n{diff}")
    # Each forwarded request carries the id its response echoed to the client.
    assert set(ids) <= set(outcome.request_ids), (ids, outcome.request_ids)
