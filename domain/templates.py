"""Message templates: the checks run when a campaign or Canvas is defined."""

from __future__ import annotations

import re

from dispatchledger.domain.errors import DispatchTagInInApp
from dispatchledger.domain.values import Channel, MessageVariation

_DISPATCH_TAG = re.compile(r"(?:campaign|canvas)\s*\.\s*\$\{\s*dispatch_id\s*\}")


def uses_dispatch_id_tag(template: str) -> bool:
    return _DISPATCH_TAG.search(template) is not None


def check_variation(owner_id: str, variation: MessageVariation) -> None:
    """Refuse what rule L5 forbids; raise the project's typed error."""
    in_app = variation.channel is Channel.IN_APP_MESSAGE
    if in_app and uses_dispatch_id_tag(variation.template):
        raise DispatchTagInInApp(owner_id, variation.variation_id)
