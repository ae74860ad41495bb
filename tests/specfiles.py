"""Where the tests find spec texts: the shipped specs, the language contract, our reference."""

from __future__ import annotations

import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.phase"))
DOCS_MD = ROOT / "docs" / "language.md"


CONTRACT_EXAMPLES = ROOT / "tests" / "contract_examples.md"


def _language_md() -> Path:
    """The contract: ``$PHASEDSL_LANGUAGE_MD``, else ``shared/`` beside the checkout (a
    developer's work tree), else the contract's examples shipped in ``tests/`` (a fresh
    clone, CI), so that the tests of the contract's examples never skip."""
    if os.environ.get("PHASEDSL_LANGUAGE_MD"):
        return Path(os.environ["PHASEDSL_LANGUAGE_MD"])
    beside = ROOT.parent / "shared" / "LANGUAGE.md"
    return beside if beside.exists() else CONTRACT_EXAMPLES


LANGUAGE_MD = _language_md()


def fenced_blocks(path: Path) -> list[str]:
    """The fenced code blocks of a markdown file."""
    return re.findall(r"^```[a-z]*\n(.*?)^```", path.read_text(encoding="utf-8"), re.M | re.S)
