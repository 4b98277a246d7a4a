from django.http import HttpRequest
from ninja import Router

from kennel.api.schemas import PuppyOut
from kennel.catalogue.models import Puppy

router = Router(tags=["puppies"])


@router.get("", response=list[PuppyOut], summary="The published puppies")
def list_puppies(request: HttpRequest) -> list[dict[str, object]]:
    puppies = (
        Puppy.objects.filter(is_published=True).select_related("litter").prefetch_related("photos")
    )
    return [
        {
            "slug": p.slug,
            "name": p.name,
            "breed": p.breed,
            "sex": p.sex,
            "colour": p.colour,
            "born_on": p.born_on,
            "price": p.price,
            "deposit": p.deposit,
            "currency": p.currency,
            "status": p.status,
            "url": request.build_absolute_uri(p.get_absolute_url()),
            "litter": p.litter.name if p.litter else None,
            "photos": [request.build_absolute_uri(photo.image.url) for photo in p.photos.all()],
        }
        for p in puppies
    ]
