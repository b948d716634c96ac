"""The marketplace, as a pointer only: fetch its /proof answer and the package's bytes over HTTP. Nothing
fetched here is trusted; the verdict rests on the chain.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ledger.offline.redact import redact_url

# The verifier imports neither web3 nor Django: `nfvm verify` hands it a ledger.offline.rpc.RpcClient, which
# answers every read made here and in PackageRegistry; the marketplace hands it its ChainClient.
if TYPE_CHECKING:
    pass
from ledger.offline.verdict import CHUNK, Claim, IdentityReader, MarketplaceUnavailable, VerifyError

HTTP_TIMEOUT_S = 60.0


def get_json(url: str, token: str | None = None) -> dict[str, Any]:
    try:
        with _open(url, token) as response:
            body = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        raise MarketplaceUnavailable(shown(url), f"HTTP {exc.code}", status=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        raise MarketplaceUnavailable(shown(url), _why(exc)) from exc
    except ValueError as exc:
        raise MarketplaceUnavailable(shown(url), f"answered with something other than JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise MarketplaceUnavailable(shown(url), "answered with JSON that is not an object")
    return body


def download(
    url: str, save_to: Path | None, token: str | None = None, *, keep: bool = False
) -> tuple[str, Path | None]:
    """0x SHA-256 of what `url` serves, hashed while it streams; kept in a temporary file beside `save_to`,
    or in the system's temporary folder when only `keep` asks for it."""
    hasher = hashlib.sha256()
    kept: Path | None = None
    sink: IO[bytes] | None = None
    if save_to is not None or keep:
        fd, name = tempfile.mkstemp(prefix=".nfvm-verify-", dir=save_to.parent if save_to is not None else None)
        kept, sink = Path(name), os.fdopen(fd, "wb")
    try:
        with _open(url, token) as response:
            while chunk := response.read(CHUNK):
                hasher.update(chunk)
                if sink is not None:
                    sink.write(chunk)
    except urllib.error.HTTPError as exc:
        _discard(kept, sink)
        raise MarketplaceUnavailable(shown(url), f"HTTP {exc.code}", status=exc.code) from exc
    except (urllib.error.URLError, OSError) as exc:
        _discard(kept, sink)
        raise MarketplaceUnavailable(shown(url), _why(exc)) from exc
    if sink is not None:
        sink.close()
    return "0x" + hasher.hexdigest(), kept


def read_identity(path: Path, identity: IdentityReader) -> Claim:
    """What a downloaded file says it is; its bytes were hashed as they arrived (`download`)."""
    try:
        with path.open("rb") as handle:
            return identity(handle)
    except OSError as exc:
        raise VerifyError(f"cannot read the downloaded bytes in {path}: {exc.strerror or exc}") from exc


def _discard(kept: Path | None, sink: IO[bytes] | None) -> None:
    if sink is not None:
        sink.close()
    if kept is not None:
        kept.unlink(missing_ok=True)


def _open(url: str, token: str | None = None) -> Any:
    headers = {"Accept": "application/json, application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, headers=headers)  # noqa: S310
    return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S)  # noqa: S310


def _why(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return f"unreachable: {reason or exc}"


def shown(url: str) -> str:
    return redact_url(url)
