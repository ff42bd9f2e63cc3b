"""A folder of images as arrays, for ``workbench.data``: one sub-folder per class (or ``train/`` and ``test/``
folders, each so), or, without labels, every image under the folder. Images are read with Pillow, converted to
grayscale or RGB, resized (bilinear) and scaled, a batch at a time into one preallocated float32 array; a
folder whose decoded arrays would exceed ``max_mb`` is refused before any image is read. What was done is the
note every run's description carries. No TensorFlow, no Dataset: ``data.load_dataset`` checks the arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workbench.errors import DataError


def _short(exc: BaseException, limit: int = 120) -> str:
    s = " ".join(str(exc).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


@dataclass(frozen=True)
class Images:
    """The two splits of a folder (labels: class indices, all 0 without labels) and how they were made."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    note: str


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
#: pixel values 0..255 -> the range a model expects: (multiplier, offset)
IMAGE_SCALES = {"0..1": (1 / 255, 0.0), "-1..1": (2 / 255, -1.0), "0..255": (1.0, 0.0)}


def _image_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _class_folders(folder: Path, shown: str, labelled: bool = True) -> dict[str, list[Path]]:
    """Class name -> its image files (sorted), one sub-folder per class; DataError for a folder without them.
    Unlabeled (``labelled`` False): every image under ``folder``, sub-folders or not, as one class ``""``."""
    if not labelled:
        files = _image_files(folder) if folder.is_dir() else []
        if not files:
            raise DataError(f"dataset '{shown}': {folder} holds no images ({', '.join(IMAGE_SUFFIXES)})")
        return {"": files}
    classes = {d.name: _image_files(d) for d in sorted(folder.iterdir()) if d.is_dir() and not d.name.startswith(".")}
    if not classes:
        raise DataError(f"dataset '{shown}': {folder} has no sub-folders; an image-folder dataset has one sub-folder "
                        "per class (cats/, dogs/, ...) holding its images (images without classes: task kind "
                        "fidelity ranks the variants by fidelity to your model)")
    empty = [name for name, files in classes.items() if not files]
    if empty:
        raise DataError(f"dataset '{shown}': class folder '{empty[0]}' holds no images "
                        f"({', '.join(IMAGE_SUFFIXES)}); add images or remove the folder")
    return classes


def _read_image(path: Path, shown: str, size: tuple[int, int] | None, mode: str) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as opened:
            img = opened.convert(mode)
        if size is not None and img.size != (size[1], size[0]):
            img = img.resize((size[1], size[0]), Image.Resampling.BILINEAR)
        a = np.asarray(img, dtype=np.float32)
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"dataset '{shown}': cannot read image {path} ({_short(exc)}); remove or re-save "
                        "it") from None
    return a[..., None] if a.ndim == 2 else a


#: images decoded per batch: a folder is read into one preallocated float32 array, a batch of files at a time
IMAGE_BATCH = 256


def _read_images(files: list[Path], shown: str, size: tuple[int, int], mode: str, scale: str) -> np.ndarray:
    """The images as one (N, H, W, C) float32 array, filled in place a batch at a time (no list of N decoded
    images, no stacked copy: the array itself is the peak), scaled to ``scale`` batch by batch."""
    mul, add = IMAGE_SCALES[scale]
    x = np.empty((len(files), size[0], size[1], 1 if mode == "L" else 3), np.float32)
    for start in range(0, len(files), IMAGE_BATCH):
        batch = x[start : start + IMAGE_BATCH]
        for i, f in enumerate(files[start : start + IMAGE_BATCH]):
            batch[i] = _read_image(f, shown, size, mode)
        batch *= mul
        batch += add
    return x


def _subsample(files: list[tuple[Path, int]], max_images: int | None, seed: int) -> list[tuple[Path, int]]:
    if max_images is None or len(files) <= max_images:
        return files
    keep = np.sort(np.random.default_rng(seed).choice(len(files), size=max_images, replace=False))
    return [files[i] for i in keep]


def read_folder(folder: Path, shown: str, input_shape: tuple[int | None, ...] | None = None,
                image_size: list[int] | None = None, channels: int | None = None, scale: str = "0..1",
                test_fraction: float = 0.2, seed: int = 0, max_images: int | None = None,
                max_mb: float = 2048.0, labels: str = "classes") -> Images:
    """Images in one sub-folder per class (or ``train/`` and ``test/`` folders, each so), resized to
    ``image_size`` or the model's input (``input_shape``) or else the first image's size, as grayscale or RGB
    (``channels``, else the model's, else RGB), scaled to ``scale``; the choices are the Dataset's note.
    Unlabeled (``labels="none"``): every image, class sub-folders or not. ``max_images`` (per split folder, or
    in all) takes a seeded sample; the decoded arrays over ``max_mb`` are refused before any image is read."""
    if scale not in IMAGE_SCALES:
        raise DataError(f"dataset '{shown}': scale '{scale}' is not one of {', '.join(IMAGE_SCALES)}")
    if max_images is not None and (isinstance(max_images, bool) or not isinstance(max_images, int) or max_images < 2):
        raise DataError(f"dataset '{shown}': max_images must be a whole number of at least 2, not {max_images!r}")
    labelled = labels != "none"
    given = tuple(input_shape or ())
    if image_size is None and len(given) == 3 and all(isinstance(d, int) for d in given[:2]):
        image_size = [int(given[0]), int(given[1])]  # type: ignore[arg-type]
    if channels is None and len(given) == 3 and given[2] in (1, 3):
        channels = given[2]
    split = (folder / "train").is_dir() and (folder / "test").is_dir()
    parts = {"train": _class_folders(folder / "train", shown, labelled),
             "test": _class_folders(folder / "test", shown, labelled)} \
        if split else {"all": _class_folders(folder, shown, labelled)}
    names = sorted({c for classes in parts.values() for c in classes})
    index = {c: i for i, c in enumerate(names)}
    first = next(iter(next(iter(parts.values())).values()))[0]
    mode = "L" if channels == 1 else "RGB"
    size = (int(image_size[0]), int(image_size[1])) if image_size else _read_image(first, shown, None, mode).shape[:2]
    chosen = {part: _subsample([(f, index[c]) for c, fs in classes.items() for f in fs], max_images, seed)
              for part, classes in parts.items()}
    count = sum(len(files) for files in chosen.values())
    mb = count * size[0] * size[1] * (1 if mode == "L" else 3) * 4 / 2**20
    if mb > max_mb:
        raise DataError(f"dataset '{shown}': {count:,} images at {size[0]}x{size[1]} decode to ~{mb:,.1f} MB of "
                        f"float32, over max_mb ({max_mb:g}); set dataset_args max_images (a seeded sample), a "
                        "smaller image_size, or raise max_mb")
    arrays = {part: (_read_images([f for f, _ in files], shown, size, mode, scale),
                     np.array([label for _, label in files], np.int64)) for part, files in chosen.items()}
    xtr: np.ndarray
    if split:
        (xtr, ytr), (xte, yte) = arrays["train"], arrays["test"]
        how = "train/ and test/ folders"
    else:
        x, y = arrays["all"]
        rng = np.random.default_rng(seed)
        test = np.zeros(len(y), bool)
        for c in range(len(names)):  # stratified: each class gives its share (at least one when it has two)
            idx = rng.permutation(np.flatnonzero(y == c))
            test[idx[: min(len(idx) - 1, max(1, round(len(idx) * test_fraction)))]] = True
        xtr, ytr, xte, yte = x[~test], y[~test], x[test], y[test]
        how = f"a seeded {test_fraction:g} test split{' per class' if labelled else ''} (seed {seed})"
    what = (f"classes {', '.join(f'{c}={i}' for c, i in index.items())}" if labelled else "no labels")
    sampled = f" (a seeded sample of at most {max_images} per folder)" if max_images is not None else ""
    note = (f"image folder {shown}: {len(ytr) + len(yte)} images{sampled}, {what}; read as "
            f"{'grayscale' if mode == 'L' else 'RGB'}, resized to {size[0]}x{size[1]} (bilinear), pixel values "
            f"scaled to {scale}; {how}")
    return Images(xtr, ytr, xte, yte, note)
