"""The locked-down template engine every email renders in, and the plain values it is given.

Administrators type email templates in the admin, so a template is untrusted code: it must
not reach a password hash, an API token's hash, an extension's secret or the settings. Two
walls keep it out:

- the context holds plain values only (`plain`): strings, numbers, dates, and `Record`s and
  tuples of those, built for each topic from the documented names; never a model instance,
  a queryset or a callable, so no path leads from `recipient` to `recipient.password`;
- the engine (`sandbox_engine`) has no context processors, cannot load templates other than
  the emails' own files (templates/emails/...), loads no tag library but i18n, l10n and tz,
  and refuses `{% debug %}`, which prints the whole context and the server's modules.
"""

import datetime
import decimal
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.template import (
    Engine,
    Library,
    Origin,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
    loader_tags,
)
from django.template.loaders.filesystem import Loader as FilesystemLoader
from django.utils._os import safe_join

# The libraries `{% load %}` may name: translation, number and time zone formatting.
ALLOWED_LIBRARIES = {"i18n": "django.templatetags.i18n",
                     "l10n": "django.templatetags.l10n",
                     "tz": "django.templatetags.tz"}
EMAIL_FOLDER = "emails"
# The standard tags emails cannot use: debug prints the context and sys.modules;
# querystring reads the web request, which an email rendered by the worker does not have.
LEFT_OUT_TAGS = {"debug", "querystring"}
PLAIN_SCALARS = (str, int, float, decimal.Decimal, datetime.date, datetime.time,
                 datetime.timedelta, type(None))


class ForbiddenTag(TemplateSyntaxError):
    """A tag an email template may not use; the message names it and says why."""


class Record(Mapping):
    """A row's documented facts for a template: `{{ request.target.email }}` looks a key up,
    `{{ request.target }}` prints its text. Read-only: a template cannot change it."""

    __slots__ = ("_facts", "_text")

    def __init__(self, text: str | None = None, /, **facts):
        self._facts = {name: plain(value) for name, value in facts.items()}
        self._text = None if text is None else str.__str__(str(text))

    def __getitem__(self, name: str):
        return self._facts[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._facts)

    def __len__(self) -> int:
        return len(self._facts)

    def __str__(self) -> str:
        return str(self._facts) if self._text is None else self._text

    def __repr__(self) -> str:
        return f"Record({self._text!r}, {self._facts!r})"


def plain(value):
    """`value` as the templates may see it, or TypeError for anything that is not data.

    Strings lose any "safe" mark (a value is escaped in HTML like any other), dicts become
    Records and lists tuples, so that no template can change them.
    """
    if isinstance(value, Record):
        return value
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, PLAIN_SCALARS):
        return value
    if isinstance(value, Mapping):
        return Record(**{str(name): item for name, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(plain(item) for item in value)
    raise TypeError(f"An email's context holds plain values only, not {type(value).__name__}")


# The tags and filters of the engine: Django's own, less LEFT_OUT_TAGS, with a `load` that
# names what it refuses. Engine() adds nothing to them (SandboxEngine.default_builtins).
register = Library()
register.tags.update({name: tag for name, tag in defaulttags.register.tags.items()
                      if name not in LEFT_OUT_TAGS})
register.tags.update(loader_tags.register.tags)
register.filters.update(defaultfilters.register.filters)


@register.tag
def debug(parser, token):
    raise ForbiddenTag("{% debug %} cannot be used in emails: it would show every variable "
                       "and the server's modules")


@register.tag
def querystring(parser, token):
    raise ForbiddenTag("{% querystring %} cannot be used in emails: an email has no web "
                       "request to take the query from")


@register.tag
def load(parser, token):
    bits = token.split_contents()[1:]
    names = bits[-1:] if len(bits) >= 3 and bits[-2] == "from" else bits
    for name in names:
        if name not in ALLOWED_LIBRARIES:
            raise ForbiddenTag(f"{{% load {name} %}} cannot be used in emails: they can load "
                               f"only {', '.join(sorted(ALLOWED_LIBRARIES))}")
    return defaulttags.load(parser, token)


class EmailFolderLoader(FilesystemLoader):
    """The emails' own files only ("emails/base.html", "emails/fr/..."): an email template
    can include the standard fragments and extend the layout, and no other template."""

    def get_template_sources(self, template_name: str):
        folder, _, name = template_name.partition("/")
        if folder != EMAIL_FOLDER or not name:
            return
        for directory in self.get_dirs():
            try:
                # safe_join keeps "emails/../admin/base.html" out of the emails' folder.
                path = safe_join(directory, name)
            except SuspiciousFileOperation:
                continue
            yield Origin(name=path, template_name=template_name, loader=self)


class SandboxEngine(Engine):
    default_builtins = []


def email_folders() -> list[str]:
    return [str(Path(directory) / EMAIL_FOLDER)
            for template in settings.TEMPLATES for directory in template.get("DIRS", [])]


@cache
def sandbox_engine() -> Engine:
    folder = ("governance.notifications.sandbox.EmailFolderLoader", email_folders())
    # Cached outside DEBUG, as Django's own engine: the worker renders thousands of emails.
    loaders = [folder] if settings.DEBUG else [("django.template.loaders.cached.Loader",
                                                [folder])]
    return SandboxEngine(dirs=[], app_dirs=False, context_processors=[], debug=False,
                         loaders=loaders, string_if_invalid="", autoescape=True,
                         libraries=dict(ALLOWED_LIBRARIES),
                         builtins=["governance.notifications.sandbox"])
