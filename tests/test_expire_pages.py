"""Home shows time-bound access ending within 14 days: the viewer's own with Renew, everyone's to admins."""
import datetime as dt

from portal import ui
from tests.test_expire import land
from tests.test_pages import page, workspace  # noqa: F401 (fixture)
from tests.test_pages import texts as _texts

SOON = dt.date.today() + dt.timedelta(days=5)
LATER = dt.date.today() + dt.timedelta(days=40)


def texts(at) -> str:
    return _texts(at) + "\n" + "\n".join(str(t.value) for t in at.text) + "\n" + "\n".join(str(h.value) for h in at.subheader)


def grant(services, people, user, role, until):
    return land(services, people, "grant-role", {"name": user, "business_roles": [role], "until": until.isoformat(),
                                                  "justification": "Needed for the quarter-end close."})


def test_home_lists_access_ending_soon_with_renew_for_its_owner_only(workspace, people):  # noqa: F811
    services = ui.services()
    first = grant(services, people, "MOKAFOR", "ANALYST", SOON)
    grant(services, people, "PRAMAN", "LOADER", LATER)  # ends after 14 days: not listed

    mine = page("home", people["requester"])  # the requester asked for it: theirs to renew
    assert not mine.exception
    assert f"MOKAFOR · ANALYST · until {SOON.isoformat()} (ends in 5 day(s), granted by #{first.id})" in texts(mine)
    assert "PRAMAN · LOADER" not in texts(mine)
    assert [b.label for b in mine.button if b.key.startswith("home.renew.")] == ["Renew"]

    other = page("home", people["approver"])  # neither the user nor the requester, not an admin
    assert "Access ending soon" not in texts(other) and "MOKAFOR · ANALYST" not in texts(other)

    admin = page("home", people["admin"])  # sees everyone's; renewing is the owner's call
    assert "Time-bound access ending soon (everyone's)" in texts(admin) and "MOKAFOR · ANALYST" in texts(admin)
    assert not [b for b in admin.button if b.key.startswith("home.renew.")]
