"""Whose quotations a user sees and acts on.

Sales users work on their own quotations: those they submitted, and, when SALES_SEE_TEAM is
on, those of the users who share their team. Viewers (read only) and admins see every
quotation. The rule is applied in the SQL that reads quotations (`Scope.params` fills the
`scope_*` parameters of those queries), so a list, a page, a PDF and an action all find the
same quotations, and one that is out of scope is "not found": its id is not confirmed.
Quotations from before submitters were recorded belong to nobody: only viewers and admins
see them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from quote_service.accounts.users import User

SEE_ALL_ROLES = frozenset({"viewer", "admin"})


@dataclass(frozen=True)
class Scope:
    everything: bool
    user_id: int | None = None
    team: str | None = None

    def params(self) -> dict[str, Any]:
        return {"scope_all": self.everything, "scope_user": self.user_id,
                "scope_team": self.team}


EVERYTHING = Scope(everything=True)


def scope_of(user: User, *, sales_see_team: bool) -> Scope:
    if user.role in SEE_ALL_ROLES:
        return EVERYTHING
    return Scope(everything=False, user_id=user.id, team=user.team if sales_see_team else None)
