"""Fields the engine's models share."""

from django.db import models

from governance import clock


class CreatedAtField(models.DateTimeField):
    """When the row was first saved, by governance.clock (Django's auto_now_add reads the
    system clock, so a test travelling in time through the clock would not move it)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("editable", False)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if add and value is None:
            value = clock.now()
            setattr(model_instance, self.attname, value)
        return value


class ModifiedAtField(CreatedAtField):
    """When the row was last saved, by governance.clock (instead of auto_now)."""

    def pre_save(self, model_instance, add):
        value = clock.now()
        setattr(model_instance, self.attname, value)
        return value
