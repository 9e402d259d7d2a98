from django.conf import settings


def demo(request):
    """The demo (DEBUG on) links its mailbox from every page, signed in or not."""
    return {"demo_mailbox": settings.DEBUG}
