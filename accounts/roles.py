"""The roles people hold, as Django groups, and the few checks made on them.

One condition per function, so each is tested on its own.
"""

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.cache import cache

ANNOTATOR = "annotator"
REVIEWER = "reviewer"
ADMIN = "admin"
ML_ENGINEER = "ml_engineer"
ALL_ROLES = (ANNOTATOR, REVIEWER, ADMIN, ML_ENGINEER)


ROLE_CACHE_SECONDS = 300


def _cache_key(user_id: int) -> str:
    return f"dropturk:roles:{user_id}"


def roles_of(user: AbstractBaseUser) -> frozenset[str]:
    """The user's role names: from the request's user object, the shared cache, or the DB.

    Every change of a user's groups clears the cache entry (``forget_roles``, wired to
    ``m2m_changed`` in ``annotations.apps``), so a revoked role stops working at once.
    """
    cached = getattr(user, "_dropturk_roles", None)
    if cached is None:
        key = _cache_key(user.pk)
        names = cache.get(key)
        if names is None:
            names = sorted(user.groups.values_list("name", flat=True))
            cache.set(key, names, ROLE_CACHE_SECONDS)
        cached = frozenset(names)
        user._dropturk_roles = cached
    return cached


def forget_roles(user_ids: Iterable[int]) -> None:
    cache.delete_many([_cache_key(user_id) for user_id in user_ids])


def has_role(user: AbstractBaseUser | AnonymousUser, role: str) -> bool:
    if not user.is_authenticated or not user.is_active:
        return False
    return role in roles_of(user)


def can_label(user) -> bool:
    return has_role(user, ANNOTATOR)


def can_review(user) -> bool:
    return has_role(user, REVIEWER)


def can_read_all_donations(user) -> bool:
    """Reviewers and ML engineers work with donated text; admins manage people, not data."""
    return has_role(user, ML_ENGINEER) or has_role(user, REVIEWER)
