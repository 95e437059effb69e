from django.urls import path

import dbkit.urls  # noqa: F401  registers <rowid:...>, an id the database can hold
from annotations.api import views

urlpatterns = [
    path("donations/", views.DonationCreateApi.as_view(), name="donation-create"),
    path(
        "donations/<uuid:donation_id>/", views.DonationDetailApi.as_view(), name="donation-detail"
    ),
    path("tasks/next/", views.TaskNextApi.as_view(), name="task-next"),
    path("tasks/<rowid:task_id>/submit/", views.TaskSubmitApi.as_view(), name="task-submit"),
    path("tasks/<rowid:task_id>/skip/", views.TaskSkipApi.as_view(), name="task-skip"),
    path("tasks/<rowid:task_id>/renew/", views.TaskRenewApi.as_view(), name="task-renew"),
    path("labels/mine/", views.LabelMineApi.as_view(), name="label-mine"),
    path("labels/<rowid:label_id>/revise/", views.LabelReviseApi.as_view(), name="label-revise"),
    path("crops/<rowid:crop_id>/image", views.CropImageApi.as_view(), name="crop-image"),
]
