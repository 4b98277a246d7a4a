from django.db import models


class Puppy(models.Model):
    """Kennel's puppies table as a plain shop would model it (read only here)."""

    slug = models.SlugField(max_length=80)
    name = models.CharField(max_length=80)
    breed = models.CharField(max_length=80)
    sex = models.CharField(max_length=6)
    colour = models.CharField(max_length=60)
    born_on = models.DateField()
    price = models.DecimalField(max_digits=10, decimal_places=2)
    currency = models.CharField(max_length=3)
    status = models.CharField(max_length=10)
    is_published = models.BooleanField()

    objects: "models.Manager[Puppy]" = models.Manager()

    class Meta:
        managed = False
        db_table = "catalogue_puppy"
        app_label = "reference"

    def __str__(self) -> str:
        return self.name
