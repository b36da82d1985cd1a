"""What the SCIM suite's scripts share: where the server is, its token, and a checked
HTTP client for it.

The Rust end-to-end test `tests/e2e/scim_library.rs` starts a real Roster server on
127.0.0.1, creates a customer and a SCIM token through GraphQL, and runs each script with
the venv that `cargo xtask scim-suite-env` builds, passing:

- ROSTER_SCIM_URL: the SCIM base URL, http://127.0.0.1:<port>/scim/v2 (nothing else is
  accepted: the scripts never send traffic anywhere but this machine);
- ROSTER_SCIM_TOKEN: the customer's SCIM token (in the environment, not argv).

A script exits 0 when every check passed; otherwise it prints what failed and exits 1.
"""

import os
import sys
import urllib.parse

import httpx2

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


class Settings:
    """The server under test, read from the environment."""

    def __init__(self) -> None:
        self.url = os.environ.get("ROSTER_SCIM_URL", "")
        self.token = os.environ.get("ROSTER_SCIM_TOKEN", "")
        parsed = urllib.parse.urlsplit(self.url)
        if parsed.scheme != "http" or parsed.hostname != "127.0.0.1" or not parsed.port:
            sys.exit(f"ROSTER_SCIM_URL must be http://127.0.0.1:<port>/..., not {self.url!r}")
        if not self.token.startswith("roster_scim_"):
            sys.exit("ROSTER_SCIM_TOKEN must be a SCIM token (roster_scim_...)")

    def http(self) -> httpx2.Client:
        """An HTTP client for the SCIM base, with the token; proxies in the environment
        are ignored, so the requests go straight to 127.0.0.1."""
        return httpx2.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.token}"},
            trust_env=False,
            timeout=30.0,
        )


class Failures:
    """Collects failed expectations, so one run reports them all."""

    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def check(self, condition: bool, what: str, detail: object = "") -> bool:
        if condition:
            self.passed += 1
        else:
            self.failed.append(f"{what}: {detail}" if detail != "" else what)
            print(f"FAILED {what}" + (f"\n    {detail}" if detail != "" else ""), flush=True)
        return condition

    def equal(self, actual: object, expected: object, what: str) -> bool:
        return self.check(actual == expected, what, f"expected {expected!r}\n    got      {actual!r}")

    def finish(self, name: str) -> None:
        print(f"{name}: {self.passed} passed, {len(self.failed)} failed", flush=True)
        sys.exit(1 if self.failed else 0)
