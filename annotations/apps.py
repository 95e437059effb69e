from django.apps import AppConfig
from django.db.models.signals import m2m_changed, pre_delete


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Group

        user_model = get_user_model()
        m2m_changed.connect(
            _user_groups_changed, sender=user_model.groups.through, dispatch_uid="roles-cache"
        )
        pre_delete.connect(_group_deleted, sender=Group, dispatch_uid="roles-cache-group")


def _user_groups_changed(sender, instance, action, reverse, pk_set, **kwargs) -> None:
    """Keeps the role cache honest: any change of who is in which group clears it."""
    from annotations.roles import forget_roles

    if not action.startswith("post_") and action != "pre_clear":
        return
    if reverse:  # group.user_set changed: pk_set holds users (None when cleared)
        user_ids = pk_set if pk_set is not None else instance.user_set.values_list("pk", flat=True)
    else:
        user_ids = [instance.pk]
    forget_roles(list(user_ids))


def _group_deleted(sender, instance, **kwargs) -> None:
    from annotations.roles import forget_roles

    forget_roles(list(instance.user_set.values_list("pk", flat=True)))
