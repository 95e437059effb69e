"""The roles people hold live in ``accounts.roles``; named here too for older imports."""

from accounts.roles import (  # noqa: F401
    ADMIN,
    ALL_ROLES,
    ANNOTATOR,
    ML_ENGINEER,
    REVIEWER,
    ROLE_CACHE_SECONDS,
    can_label,
    can_read_all_donations,
    can_review,
    forget_roles,
    has_role,
    roles_of,
)
