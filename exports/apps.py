from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from annotations.signals import donation_withdrawn
        from exports import receivers

        # annotations sends the signal and knows nothing of exports.
        donation_withdrawn.connect(receivers.delete_exports_of_withdrawn, weak=False)
