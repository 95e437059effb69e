from django.apps import AppConfig


class OcrBridgeConfig(AppConfig):
    name = "ocr_bridge"
    verbose_name = "OCR bridge"
