"""The roles people hold, as Django groups, and the few checks made on them.

One condition per function, so each is tested on its own.
"""

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

ANNOTATOR = "annotator"
REVIEWER = "reviewer"
ADMIN = "admin"
ML_ENGINEER = "ml_engineer"
ALL_ROLES = (ANNOTATOR, REVIEWER, ADMIN, ML_ENGINEER)


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    # Cached per request object: one query however many checks a request makes.
    cached = getattr(user, "_dropturk_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._dropturk_roles = cached
    return role in cached


def can_label(user) -> bool:
    return has_role(user, ANNOTATOR)


def can_review(user) -> bool:
    return has_role(user, REVIEWER)


def can_read_all_donations(user) -> bool:
    return has_role(user, ADMIN) or has_role(user, ML_ENGINEER) or has_role(user, REVIEWER)
