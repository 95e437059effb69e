from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

import dbkit.urls  # noqa: F401  registers <rowid:...>
from annotations import line_context
from annotations import views as annotation_views
from dropturk.health import healthz
from quality import views as quality_views

urlpatterns = [
    path("", annotation_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", annotation_views.favicon, name="favicon"),
    path("accounts/", include("allauth.urls")),  # sign-in, MFA, sessions (allauth)
    path("admin/", admin.site.urls),
    path("api/v1/", include("annotations.api.urls")),
    path(  # the page's strip around a crop's line (annotations/line_context.py)
        "api/v1/crops/<rowid:crop_id>/context",
        line_context.CropContextApi.as_view(),
        name="crop-context",
    ),
    path("api/v1/", include("exports.urls")),  # dataset exports (ML engineers)
    path("api/v1/", include("quality.urls")),  # the review queue (reviewers)
    path("api/v1/", include("ocr_bridge.urls")),  # the model registry (ML engineers)
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("audit/", include("audit.urls")),  # the admin's pages of the audit trail
    path("exports/", include("exports.page_urls")),  # the ML engineers' exports page
    path("label/", annotation_views.label_page, name="label"),
    path("models/", include("ocr_bridge.page_urls")),  # the model page (ML engineers, admins)
    path("review/", quality_views.review_page, name="review"),
    path("quality/", include("quality.page_urls")),  # label quality metrics, detector feedback
]

# Django's own errors: JSON under /api/, the site's pages elsewhere (dropturk/errors.py).
handler400 = "dropturk.errors.bad_request"
handler403 = "dropturk.errors.permission_denied"
handler404 = "dropturk.errors.page_not_found"
handler500 = "dropturk.errors.server_error"
