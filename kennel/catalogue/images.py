"""Puppy photos: refuse what is not a photo, publish web sizes only (Pillow), keep their order.

A phone photo carries EXIF metadata (the GPS position of the breeder's home among it) and
is far larger than any page shows. `photo_check` refuses a file before anything is stored;
`photo_process` stores, for each width in WIDTHS, a WebP and a JPEG that are re-encoded from
the pixels alone (no EXIF, XMP, ICC or comment survives), turned upright first
(ImageOps.exif_transpose) and never upscaled. The camera-size upload itself is not kept:
`PuppyPhoto.image` points at the largest JPEG, so every older reader of `image.url` (the
API, the reservation page) gets a clean web-sized file too.

Decoding and resizing a camera-size photo takes seconds. A back-office save runs in one
transaction, which holds its locks meanwhile (on SQLite, with `transaction_mode: IMMEDIATE`,
the whole database's write lock: every buyer's hold waited behind it), so `uploads_prepare`
does that work first, before the transaction; `photo_process` then only writes the files and
the row.

Each upload's files get a folder of their own (a random token), and a file never changes
under its name: the media view lets browsers and CDNs keep them for a year (catalogue/
views.py, `media_file`).
"""

import io
import math
import secrets
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, Any, TypeVar, cast

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.core.files.uploadedfile import UploadedFile
from django.db import models, transaction
from django.utils.datastructures import MultiValueDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from PIL import Image, ImageCms

from kennel.catalogue.models import Puppy, PuppyPhoto, WebPhoto
from kennel.core.errors import Message

# Each variant fits in a WIDTH x WIDTH box (portrait photos are bounded by their height).
# The catalogue card uses those up to CARD_MAX_WIDTH (PuppyPhoto.card_picture).
WIDTHS = (640, 960, 1600)
FORMATS = ("JPEG", "PNG", "WEBP")  # JPEG includes the multi-picture (MPO) files of phones
JPEG_QUALITY = 80
WEBP_QUALITY = 78
BACKGROUND = (255, 255, 255)  # what a transparent PNG is flattened onto

PhotoT = TypeVar("PhotoT", bound=WebPhoto)

# User-facing messages (the admin shows them under the file field, in the reader's language:
# PhotoField translates them; tests check them).
NOT_AN_IMAGE_MESSAGE = gettext_noop(
    "This file is not a photo we can read. Upload a JPEG, PNG or WebP image."
)
TOO_MANY_PIXELS_MESSAGE = gettext_noop(
    "This image is too large (%(width)s x %(height)s pixels). "
    "Upload a photo of at most %(megapixels)s megapixels."
)
# Pillow refused before telling the size: what we allow is said.
PIXELS_UNKNOWN_MESSAGE = gettext_noop(
    "This image has too many pixels to be a photo. "
    "Upload a photo of at most %(megapixels)s megapixels."
)
TOO_MANY_BYTES_MESSAGE = gettext_noop(
    "This file is %(size)s MB; a photo may be at most %(limit)s MB."
)


class PhotoRejected(Exception):
    """An upload we refuse: a stable `code` and the message the breeder reads (English, with
    what message_translated needs to say it in another language)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Encoded:
    width: int
    height: int
    webp: bytes
    jpeg: bytes


class PreparedUpload(UploadedFile):
    """An upload whose web sizes are already encoded, or whose refusal is already known
    (`uploads_prepare`): checking it again costs nothing, and storing it only writes."""

    def __init__(
        self,
        upload: UploadedFile,
        *,
        encoded: list[_Encoded] | None = None,
        refusal: PhotoRejected | None = None,
    ) -> None:
        super().__init__(
            upload.file,
            upload.name,
            upload.content_type,
            upload.size,
            upload.charset,
            upload.content_type_extra,
        )
        self.encoded = encoded
        self.refusal = refusal


def uploads_prepare(files: "MultiValueDict[str, UploadedFile]") -> None:
    """Check and encode every upload of `files` (a request's FILES) now, in place: a form
    that reads them later finds each one's web sizes, or its refusal, ready. Call it before
    the transaction that saves them (module docstring)."""
    for name, uploads in list(files.lists()):
        prepared: list[UploadedFile] = [_prepared(upload) for upload in uploads]
        files.setlist(name, prepared)


def _prepared(upload: UploadedFile) -> PreparedUpload:
    if isinstance(upload, PreparedUpload):
        return upload
    try:
        _check_size(upload.size)
        return PreparedUpload(upload, encoded=_encoded(upload))
    except PhotoRejected as refusal:
        return PreparedUpload(upload, refusal=refusal)


def _check_size(size: int | None) -> None:
    """Refuse (PhotoRejected) a file over settings.PHOTO_MAX_BYTES, before reading it."""
    limit = settings.PHOTO_MAX_BYTES
    if size is not None and size > limit:
        raise PhotoRejected(
            "PHOTO_TOO_MANY_BYTES",
            Message(TOO_MANY_BYTES_MESSAGE, size=_mb(size), limit=_mb(limit)),
        )


def photo_check(file: IO[bytes], *, size: int | None = None) -> None:
    """Refuse `file` (PhotoRejected) unless it is a whole JPEG, PNG or WebP image within
    settings.PHOTO_MAX_BYTES and settings.PHOTO_MAX_PIXELS. Decodes it fully, so that
    `photo_process` cannot fail on it later (a prepared upload was decoded already)."""
    if isinstance(file, PreparedUpload):
        if file.refusal is not None:
            raise file.refusal
        return
    _check_size(size)
    image = _open(file)
    image.close()


def photo_process(*, photo: PhotoT, upload: IO[bytes], key: str = "") -> PhotoT:
    """Publish `upload` as `photo`'s web variants and save the photo (inserting it if new);
    a puppy's photo or a parent's, each under its own folder (the model's `upload_to`).

    Files go to <folder>/<key>/<width>.webp|.jpg under the photo storage; `key` defaults to
    "<photo id>/<random token>", so a replaced photo gets new addresses and a file never
    changes under its name (a name already taken gets another). A fixed `key` (the demo
    loader's) overwrites the files already there. The files of the photo's previous version
    are deleted once the transaction commits. Raises PhotoRejected for a file `photo_check`
    would refuse. An upload `uploads_prepare` encoded is only written here.
    """
    prepared = upload.encoded if isinstance(upload, PreparedUpload) else None
    encoded = prepared or _encoded(upload)

    model = type(photo)
    field = cast(models.FileField, model._meta.get_field("image"))
    folder = str(field.upload_to).strip("/")  # puppies, parents
    storage = photo.image.storage
    stored = model._default_manager.filter(pk=photo.pk).first() if photo.pk else None
    previous = photo_files(stored) if stored else []
    # The upload must never reach the storage as it came: drop it from the field (a model
    # save would write it out) and, for a new photo, save the row to learn its id.
    photo.image = ""
    if photo.pk is None:
        photo.save()
    replace = bool(key)
    key = key or f"{photo.pk}/{secrets.token_hex(4)}"
    variants = []
    for width_box, variant in zip(WIDTHS, encoded, strict=False):
        base = f"{folder}/{key}/{width_box}"
        variants.append(
            {
                "width": variant.width,
                "height": variant.height,
                "webp": _store(storage, f"{base}.webp", variant.webp, replace=replace),
                "jpeg": _store(storage, f"{base}.jpg", variant.jpeg, replace=replace),
            }
        )
    photo.variants = variants
    photo.image = variants[-1]["jpeg"]
    photo.save()
    _delete_on_commit(storage, set(previous) - set(photo_files(photo)))
    return photo


def _encoded(upload: IO[bytes]) -> list[_Encoded]:
    """The decoding and resizing: the slow part of publishing a photo."""
    image = _open(upload)
    try:
        return _encode_variants(image)
    finally:
        image.close()


def with_photos_delete(owners: "models.QuerySet[Any]") -> None:
    """Delete puppies (or parents) and, once that is committed, every file of their photos:
    a deleted puppy's photos stop being served (the rows go by cascade, the files would
    not)."""
    photos = [photo for owner in owners.prefetch_related("photos") for photo in owner.photos.all()]
    with transaction.atomic():
        owners.delete()
        for photo in photos:
            _delete_on_commit(photo.image.storage, photo_files(photo))


def photo_files(photo: WebPhoto) -> list[str]:
    """Every stored file of `photo`: its variants and its image."""
    names = [v[kind] for v in photo.variants for kind in ("webp", "jpeg")]
    if photo.image.name and photo.image.name not in names:
        names.append(photo.image.name)
    return names


def photo_delete(*, photo: WebPhoto) -> None:
    """Delete `photo` and, once that is committed, its files: it stops being served."""
    names = photo_files(photo)
    photo.delete()
    _delete_on_commit(photo.image.storage, names)


def _delete_on_commit(storage: Storage, names: Iterable[str]) -> None:
    # After COMMIT: a rolled-back change must not leave a row pointing at deleted files.
    doomed = sorted(names)

    def delete() -> None:
        for name in doomed:
            storage.delete(name)

    if doomed:
        transaction.on_commit(delete)


def _open(file: IO[bytes]) -> Image.Image:
    """The decoded image, or PhotoRejected: unreadable, not a photo format, or too many pixels
    (a decompression bomb: a small file that would take gigabytes once decoded)."""
    file.seek(0)
    # A copy Pillow may close (it closes the file it read when the image is closed), not the
    # caller's upload. At most PHOTO_MAX_BYTES, and the decoded image takes more anyway.
    data = io.BytesIO(file.read())
    file.seek(0)
    limit = settings.PHOTO_MAX_PIXELS
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its limit and twice that: refuse those as well.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(data, formats=FORMATS)
            width, height = image.size
            if width * height > limit:
                image.close()
                raise _too_many_pixels(width, height, limit)
            # A JPEG is decoded straight at the least size the largest web size needs (1/2
            # to 1/8 of it): a 48-megapixel phone photo then takes a sixteenth of the memory.
            image.draft(None, _draft_size(width, height))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        message = Message(PIXELS_UNKNOWN_MESSAGE, megapixels=limit // 1_000_000)
        raise PhotoRejected("PHOTO_TOO_MANY_PIXELS", message) from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        # UnidentifiedImageError is an OSError; a truncated file fails in load().
        raise PhotoRejected("PHOTO_NOT_AN_IMAGE", NOT_AN_IMAGE_MESSAGE) from exc
    return image


def _draft_size(width: int, height: int) -> tuple[int, int]:
    """The image scaled so that its longer side is the largest box in WIDTHS (never grown)."""
    scale = min(1.0, WIDTHS[-1] / max(width, height, 1))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _too_many_pixels(width: int, height: int, limit: int) -> PhotoRejected:
    message = Message(
        TOO_MANY_PIXELS_MESSAGE, width=width, height=height, megapixels=limit // 1_000_000
    )
    return PhotoRejected("PHOTO_TOO_MANY_PIXELS", message)


def _encode_variants(image: Image.Image) -> list[_Encoded]:
    """One variant per box in WIDTHS, smallest first; stops at the image's own size."""
    upright = _pixels_only(image)
    variants = []
    for box in WIDTHS:
        resized = upright.copy()
        resized.thumbnail((box, box), Image.Resampling.LANCZOS)  # keeps the ratio, never grows
        variants.append(_encode(resized))
        if max(upright.size) <= box:
            break
    return variants


def _pixels_only(image: Image.Image) -> Image.Image:
    """The image upright, in sRGB, as a new image that carries no metadata at all."""
    upright = _upright(image)
    icc = image.info.get("icc_profile")
    if upright.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale (PNG): scale to 8 bits; convert() alone clips it to white.
        upright = upright.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if upright.mode not in ("RGB", "RGBA", "L") or "transparency" in upright.info:
        has_alpha = upright.mode in ("LA", "PA") or "transparency" in upright.info
        upright = upright.convert("RGBA" if has_alpha else "RGB")
    if upright.mode == "RGBA":
        flat = Image.new("RGB", upright.size, BACKGROUND)
        flat.paste(upright, mask=upright.getchannel("A"))
        upright = flat
    if icc and upright.mode == "RGB":
        upright = _to_srgb(upright, icc)
    # A fresh image from the pixels: info (exif, xmp, icc_profile, comment…) stays behind.
    clean = Image.new(upright.mode, upright.size)
    clean.paste(upright)
    return clean


_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(image: Image.Image) -> Image.Image:
    """The image turned as its EXIF orientation says. Only the orientation tag is read:
    ImageOps.exif_transpose also re-writes the EXIF block, which raises on a malformed tag
    (struct.error) that Image.open and load() let through."""
    try:
        orientation = int(image.getexif().get(0x0112, 1))
    except Exception:  # unreadable EXIF: leave the picture as it is
        orientation = 1
    method = _ORIENTATION.get(orientation)
    return image.transpose(method) if method is not None else image


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    # A wide-gamut phone photo (Display P3) would look dull once its profile is dropped.
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"))
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted or image


def _encode(image: Image.Image) -> _Encoded:
    webp, jpeg = io.BytesIO(), io.BytesIO()
    image.save(webp, "WEBP", quality=WEBP_QUALITY, method=4)
    image.save(jpeg, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
    return _Encoded(image.width, image.height, webp.getvalue(), jpeg.getvalue())


def _store(storage: Storage, name: str, content: bytes, *, replace: bool) -> str:
    # Without `replace`, a name already taken gets another (the storage adds a suffix):
    # what a browser cached under a name stays what that name serves.
    if replace and storage.exists(name):
        storage.delete(name)
    return storage.save(name, ContentFile(content))


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}".removesuffix(".0")


class Move(models.TextChoices):
    """What the breeder can do to a photo's place among the puppy's photos."""

    COVER = "cover", _("Make it the cover")
    UP = "up", _("Move up")
    DOWN = "down", _("Move down")


def photos_arrange(*, puppy: Puppy, moves: Iterable[tuple[int, str]] = ()) -> list[PuppyPhoto]:
    """Apply `moves` ((photo id, Move), in order) to `puppy`'s photos and number them 1..n.

    The first photo is the cover: the one the catalogue card shows. Returns them in order.
    """
    photos = list(puppy.photos.order_by("position", "id"))
    for photo_id, move in moves:
        index = next((i for i, p in enumerate(photos) if p.pk == photo_id), None)
        if index is None:
            continue
        if move == Move.COVER:
            photos.insert(0, photos.pop(index))
        elif move == Move.UP and index > 0:
            photos[index - 1], photos[index] = photos[index], photos[index - 1]
        elif move == Move.DOWN and index < len(photos) - 1:
            photos[index + 1], photos[index] = photos[index], photos[index + 1]
    changed = []
    for position, photo in enumerate(photos, start=1):
        if photo.position != position:
            photo.position = position
            changed.append(photo)
    PuppyPhoto.objects.bulk_update(changed, ["position"])
    return photos
