import pytest


@pytest.fixture(autouse=True)
def audit_storage(settings, tmp_path):
    """Each test writes anchors and archives into its own folder."""
    location = tmp_path / "audit"
    settings.STORAGES = {
        **settings.STORAGES,
        "audit": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": location},
        },
    }
    return location
