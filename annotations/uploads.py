"""Upload handling that never spools a file to disk and stops at the size limit.

Django's default handlers write uploads above 2.5 MB to a temporary file; a donated
image must never sit on disk in plain form, so this handler is the only one.
"""

from io import BytesIO

from django.conf import settings
from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from rest_framework import status
from rest_framework.exceptions import APIException

# Multipart boundaries and the small form fields around the file.
_ENVELOPE_ALLOWANCE = 64 * 1024


class UploadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "upload_too_large"

    def __init__(self) -> None:
        limit_mb = settings.DONATION_MAX_BYTES // (1024 * 1024)
        super().__init__(f"The file is larger than the {limit_mb} MB limit.")


class BoundedMemoryUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > settings.DONATION_MAX_BYTES + _ENVELOPE_ALLOWANCE:
            raise UploadTooLarge()
        return None

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._buffer = BytesIO()
        self._size = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self._size += len(raw_data)
        if self._size > settings.DONATION_MAX_BYTES:
            raise UploadTooLarge()
        self._buffer.write(raw_data)
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self._buffer.seek(0)
        return InMemoryUploadedFile(
            file=self._buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )
