from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.renderers import JSONRenderer

from kennel.api.schemas import PuppyOut
from kennel.catalogue.cache import fragment_key, fragment_make
from kennel.catalogue.models import Puppy
from kennel.reservations.waitlist import family_choosing, family_comes_first

router = Router(tags=["puppies"])
# The API's renderer (routers.py keeps ninja's default): the cached list is its output.
RENDERER = JSONRenderer()


@router.get("", response=list[PuppyOut], summary="The published puppies")
def list_puppies(request: HttpRequest) -> HttpResponse | list[dict[str, object]]:
    # The JSON as sent, shared from the cache while the catalogue is unchanged
    # (kennel/catalogue/cache.py); its URLs name the host asked, so the key does too.
    key = fragment_key("api-puppies", request.scheme, request.get_host())
    if key is None:
        return _puppies(request)

    def render() -> str:
        # What ninja sends for the list: each item through PuppyOut, then its renderer.
        data = [PuppyOut.model_validate(item).model_dump() for item in _puppies(request)]
        return RENDERER.render(request, data, response_status=200)

    body = fragment_make(key, render)
    return HttpResponse(body, content_type=f"{RENDERER.media_type}; charset={RENDERER.charset}")


def _puppies(request: HttpRequest) -> list[dict[str, object]]:
    puppies = (
        Puppy.objects.filter(is_published=True)
        .annotate(**family_choosing())
        .select_related("litter")
        .prefetch_related("photos")
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
            "family_choosing": family_comes_first(p),
            "url": request.build_absolute_uri(p.get_absolute_url()),
            "litter": p.litter.name if p.litter else None,
            "photos": [request.build_absolute_uri(photo.image.url) for photo in p.photos.all()],
        }
        for p in puppies
    ]
