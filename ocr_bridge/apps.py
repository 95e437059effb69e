from django.apps import AppConfig


class OcrBridgeConfig(AppConfig):
    name = "ocr_bridge"
    verbose_name = "OCR bridge"

    def ready(self) -> None:
        from annotations.signals import donation_withdrawn
        from ocr_bridge import receivers

        donation_withdrawn.connect(receivers.delete_reading_of_withdrawn, weak=False)
