"""The S3 storage of the audit trail's anchors and archives, with Object Lock when asked."""

from storages.backends.s3 import S3Storage

from audit.anchors import object_lock_parameters


class AuditS3Storage(S3Storage):
    """Every object it writes is locked for ``AUDIT_OBJECT_LOCK_DAYS`` (compliance mode)."""

    def get_object_parameters(self, name: str) -> dict:
        return {**super().get_object_parameters(name), **object_lock_parameters()}
