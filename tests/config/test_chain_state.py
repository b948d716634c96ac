"""The embedded chain node's saved state: anvil rewrites its state file in place, so a kill -9 in the middle of a
dump tears it. The worker keeps a copy of each whole state with a later block, and a start falls back to that
copy instead of an empty chain."""

from __future__ import annotations

import json
from pathlib import Path

from config import embedded


def state(block: int) -> bytes:
    return json.dumps({"block": {"number": hex(block)}, "accounts": {}, "best_block_number": hex(block)}).encode()


def test_a_torn_state_file_starts_the_node_from_the_last_whole_copy(tmp_path: Path) -> None:
    saved = tmp_path / "state.json"
    good = tmp_path / "state.json.good"
    saved.write_bytes(state(5))
    embedded.keep_chain_state(saved)
    assert good.read_bytes() == state(5)

    saved.write_bytes(state(9))
    embedded.keep_chain_state(saved)
    assert good.read_bytes() == state(9)  # a later block: copied again

    saved.write_bytes(state(9)[:17])  # a dump cut by a kill -9
    embedded.keep_chain_state(saved)
    assert good.read_bytes() == state(9)  # a torn file is never copied

    service = embedded.chain_service(
        port=1, chain_id=31337, state_path=saved, log_path=tmp_path / "chain.log", pid_path=None
    )
    assert service.prepare is not None
    service.prepare()  # what a start does first

    assert saved.read_bytes() == state(9)
    (torn,) = tmp_path.glob("state.json.torn-*")
    assert torn.read_bytes() == state(9)[:17]  # kept aside for a post-mortem


def test_a_whole_state_file_is_loaded_as_it_is_and_becomes_the_copy(tmp_path: Path) -> None:
    saved = tmp_path / "state.json"
    saved.write_bytes(state(3))
    service = embedded.chain_service(
        port=1, chain_id=31337, state_path=saved, log_path=tmp_path / "chain.log", pid_path=None
    )
    assert service.prepare is not None
    service.prepare()
    assert saved.read_bytes() == state(3)
    assert (tmp_path / "state.json.good").read_bytes() == state(3)
    assert not list(tmp_path.glob("state.json.torn-*"))


def test_the_node_is_anvils_own_binary_not_its_launcher() -> None:
    binary = Path(embedded.anvil_binary())
    assert binary.name == "anvil"
    assert binary.read_bytes()[:4] == b"\x7fELF", f"{binary} is a script, not the node itself"
