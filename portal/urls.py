from django.contrib import admin
from django.urls import include, path

from portal import views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("accounts/", include("allauth.urls")),
    path("admin/", admin.site.urls),
]
