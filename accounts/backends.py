"""Authentication backends that load the signed-in user from the shared cache.

Every request of a signed-in person resolves ``request.user``: with Django's backends
that is one query per request, the largest single cost of the annotator's hot path after
the work itself. Here the user (with their roles attached, see ``annotations.roles``)
comes from the cache, filled on a miss and dropped whenever the user row or their groups
change (``forget``, wired in ``accounts.apps``); ``PRINCIPAL_CACHE_SECONDS`` bounds any
staleness from writes that bypass signals. In front of the shared cache each process keeps
what it read for ``PRINCIPAL_LOCAL_SECONDS`` (a change reaches other processes within it).
Django still checks the session's auth hash against the cached user's password hash, and
sessions of a deactivated account are deleted at deactivation.
"""

import copy
import time

from django.contrib.auth.backends import ModelBackend
from django.core.cache import cache

from accounts import roles

PRINCIPAL_CACHE_SECONDS = 60
# Each process also keeps the principals it read for this long, so that a person's burst of
# requests (lease, image, submit) asks the shared cache once, not per request. A change
# reaches this process at once (``forget``) and the others within this time.
PRINCIPAL_LOCAL_SECONDS = 2.0
_LOCAL_MAX = 4096
_local: dict[str, tuple[float, object]] = {}


def _key(user_id) -> str:
    return f"dropturk:principal:{user_id}"


def forget(user_ids) -> None:
    keys = [_key(user_id) for user_id in user_ids]
    for key in keys:
        _local.pop(key, None)
    cache.delete_many(keys)


def forget_all_locally() -> None:
    """Empties this process's copies (tests: a rolled-back user must not outlive its test)."""
    _local.clear()


def _remember_locally(key: str, user) -> None:
    if len(_local) >= _LOCAL_MAX:
        _local.clear()
    _local[key] = (time.monotonic() + PRINCIPAL_LOCAL_SECONDS, user)


def _cached(key: str):
    held = _local.get(key)
    if held is not None and held[0] > time.monotonic():
        # A copy: a request may set attributes on its user; threads must not share them.
        return copy.copy(held[1])
    user = cache.get(key)
    if user is not None:
        _remember_locally(key, user)
        return copy.copy(user)
    return None


class CachedUserMixin:
    def get_user(self, user_id):
        key = _key(user_id)
        user = _cached(key)
        if user is None:
            user = super().get_user(user_id)
            if user is None:
                return None
            roles.roles_of(user)  # attach the roles, so they travel with the cached user
            cache.set(key, user, PRINCIPAL_CACHE_SECONDS)
            _remember_locally(key, copy.copy(user))
        return user if self.user_can_authenticate(user) else None


class CachedModelBackend(CachedUserMixin, ModelBackend):
    """Django's username + password backend, with a cached ``get_user``."""


def connect() -> None:
    """Drops a cached user whenever their row or their groups change."""
    from django.contrib.auth import get_user_model
    from django.db.models.signals import m2m_changed, post_delete, post_save

    user_model = get_user_model()
    post_save.connect(_user_changed, sender=user_model, dispatch_uid="principal-cache-save")
    post_delete.connect(_user_changed, sender=user_model, dispatch_uid="principal-cache-delete")
    m2m_changed.connect(
        _groups_changed, sender=user_model.groups.through, dispatch_uid="principal-cache-groups"
    )


def _user_changed(sender, instance, **kwargs) -> None:
    forget([instance.pk])


def _groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    if not action.startswith("post_") and action != "pre_clear":
        return
    if not reverse:
        forget([instance.pk])
    elif pk_set is not None:
        forget(pk_set)
    else:  # a group's members were all removed
        forget(instance.user_set.values_list("pk", flat=True))
