from django.urls import re_path

from governance.scim.views import scim_endpoint

urlpatterns = [re_path(r"^(?P<path>.*)$", scim_endpoint)]
