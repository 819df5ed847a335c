"""The Data Docs, offline. GX 1.24's pages load jQuery, Bootstrap, bootstrap-table, bootstrap-datepicker, Font
Awesome and Vega from CDNs and a logo from S3 (with the data context id in its URL), and link to the GX website:
without internet their index lists nothing. After every build, `make_offline` copies those assets next to the docs
(static/vendor/) from installed packages, or from data_docs_assets/ for the two that no package ships, and rewrites
every page and stylesheet of the docs to load them from there; links that leave the docs are taken out."""

from __future__ import annotations

import filecmp
import importlib
import importlib.metadata
import logging
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

VENDORED = Path(__file__).with_name("data_docs_assets")
VENDOR = "static/vendor"  # the copied assets, relative to the docs' root
LOGO = "static/images/logo-long.png"  # GX copies its own logo there; its pages fetch the same one from S3


def xstatic(name: str) -> Callable[[], Path]:
    """The folder of an XStatic package's files."""
    return lambda: Path(importlib.import_module(f"xstatic.pkg.{name}").BASE_DIR)


def package_folder(module: str, folder: str) -> Callable[[], Path]:
    """A folder inside an installed package."""
    return lambda: Path(importlib.import_module(module).__file__).parent / folder


def vendored(folder: str) -> Callable[[], Path]:
    """A folder of data_docs_assets/."""
    return lambda: VENDORED / folder


@dataclass(frozen=True)
class Library:
    """A library the Data Docs load: the folder holding its files, the files to copy (globs: fonts and licences too),
    each URL GX links it at with the file that replaces it (None: the tag goes, another file covers it), and the
    distribution whose licence files are copied when its files carry none."""

    name: str
    folder: Callable[[], Path]
    files: tuple[str, ...]
    links: tuple[tuple[str, str | None], ...]
    licence_of: str | None = None


LIBRARIES = (
    Library(
        "jquery",
        xstatic("jquery"),
        ("jquery.min.js",),
        (("https://code.jquery.com/jquery-3.7.1.min.js", "jquery.min.js"),),
    ),
    Library(
        "bootstrap",
        xstatic("bootstrap"),
        ("css/bootstrap.min.css", "js/bootstrap.bundle.min.js"),
        (
            ("https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css", "css/bootstrap.min.css"),
            ("https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js", "js/bootstrap.bundle.min.js"),
            # the bundle holds Popper, which GX loads on its own
            ("https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js", None),
        ),
    ),
    Library(
        "bootstrap-dark",
        vendored("bootstrap-dark"),
        ("bootstrap-prefers-dark.min.css", "LICENSE"),
        (
            (
                "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css",
                "bootstrap-prefers-dark.min.css",
            ),
        ),
    ),
    Library(
        "bootstrap-table",
        vendored("bootstrap-table"),
        ("*.min.js", "*.min.css", "LICENSE"),
        (
            ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css", "bootstrap-table.min.css"),
            ("https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js", "bootstrap-table.min.js"),
            *(
                (f"https://unpkg.com/bootstrap-table@{version}/dist/extensions/filter-control/{name}", local)
                for version, name, local in (
                    ("1.19.1", "bootstrap-table-filter-control.min.js", "bootstrap-table-filter-control.min.js"),
                    ("1.19.0", "bootstrap-table-filter-control.css", "bootstrap-table-filter-control.min.css"),
                    ("1.19.0", "bootstrap-table-filter-control.min.css", "bootstrap-table-filter-control.min.css"),
                )
            ),
        ),
    ),
    Library(
        "bootstrap-datepicker",
        xstatic("bootstrap_datepicker"),
        ("bootstrap-datepicker.js", "datepicker3.css"),
        (
            (
                "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js",
                "bootstrap-datepicker.js",
            ),
            (
                "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css",
                "datepicker3.css",
            ),
        ),
    ),
    Library(
        "font-awesome",
        xstatic("font_awesome"),
        ("css/all.min.css", "webfonts/*", "LICENSE.txt"),  # all.min.css loads ../webfonts/
        (("https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css", "css/all.min.css"),),
    ),
    Library(
        "vega",
        package_folder("js_lib_vega_embed", "static/js_lib_vega_embed"),
        ("vega5.js", "vega-lite5.js", "vega-embed6.js"),
        (
            ("https://cdn.jsdelivr.net/npm/vega@5", "vega5.js"),
            ("https://cdn.jsdelivr.net/npm/vega-lite@5", "vega-lite5.js"),
            ("https://cdn.jsdelivr.net/npm/vega-embed@6", "vega-embed6.js"),
        ),
        licence_of="django-js-lib-vega-embed",
    ),
)
LOCAL = {url: (library.name, file) for library in LIBRARIES for url, file in library.links}

# a script or stylesheet loaded from another host, with whatever attributes GX gave it (integrity hashes included)
REMOTE_TAG = re.compile(
    r"<(?P<tag>script|link)\b[^>]*?\b(?:src|href)=\"(?P<url>(?:https?:)?//[^\"]+)\"[^>]*>(?:\s*</script>)?", re.I
)
S3_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3[^\"')\s]*")
GX_FOOTER = re.compile(r"<footer>(?:(?!</footer>).)*?greatexpectations\.io(?:(?!</footer>).)*?</footer>\s*", re.S)
REMOTE_LINK = re.compile(r"<a\b[^>]*\bhref=\"(?:https?:)?//[^\"]*\"[^>]*>(?P<text>.*?)</a>", re.S)


def copy_assets(docs: Path) -> None:
    """Copy every library's files under the docs' static/vendor/ (files already there and unchanged are kept)."""
    for library in LIBRARIES:
        source, target = library.folder(), docs / VENDOR / library.name
        for pattern in library.files:
            found = sorted(p for p in source.glob(pattern) if p.is_file())
            if not found:
                raise FileNotFoundError(f"{library.name}: no {pattern} in {source} (is its package installed?)")
            for path in found:
                _copy(path, target / path.relative_to(source))
        if library.licence_of:
            for licence in _licence_files(library.licence_of):
                _copy(licence, target / licence.name)


def _copy(source: Path, target: Path) -> None:
    """Copy a file unless the same one (size and time) is already there."""
    if target.exists() and filecmp.cmp(source, target):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)


def _licence_files(distribution: str) -> list[Path]:
    """The licence files an installed distribution ships."""
    dist = importlib.metadata.distribution(distribution)
    return [Path(dist.locate_file(f)) for f in dist.files or () if "LICEN" in f.name.upper()]


def localise(text: str, to_root: str) -> str:
    """A page or stylesheet of the docs with every asset loaded from the docs' own folder (`to_root` leads from the
    file's folder to the docs' root) and without links that leave the docs."""
    text = GX_FOOTER.sub("", text)  # the newsletter sign-up
    text = REMOTE_TAG.sub(lambda m: _local_tag(m["tag"].lower(), m["url"], to_root), text)
    text = S3_IMAGE.sub(to_root + LOGO, text)  # the URL carried the data context id (tracking)
    return REMOTE_LINK.sub(lambda m: m["text"], text)


def _local_tag(tag: str, url: str, to_root: str) -> str:
    """The tag that loads a CDN asset from the local copy, or nothing (for an asset another file covers, or one no
    library here provides: loading it would reach another host)."""
    if url not in LOCAL:
        log.warning("Data Docs: %s is not served locally; its <%s> tag is removed", url, tag)
        return ""
    name, file = LOCAL[url]
    if file is None:
        return ""
    # the integrity hashes and crossorigin of the CDN tags are left out: they name other versions, and a browser
    # refuses a crossorigin script from a file:// page
    href = f"{to_root}{VENDOR}/{name}/{file}"
    return f'<script src="{href}"></script>' if tag == "script" else f'<link rel="stylesheet" href="{href}">'


def make_offline(docs: Path) -> int:
    """Copy the assets next to the docs and rewrite every page and stylesheet of GX's to load them; how many files
    changed."""
    copy_assets(docs)
    changed = 0
    for path in sorted(docs.rglob("*")):
        if path.suffix not in (".html", ".css") or (docs / VENDOR) in path.parents:
            continue
        to_root = Path(os.path.relpath(docs, path.parent)).as_posix() + "/"
        text = path.read_text(encoding="utf-8")
        offline = localise(text, "" if to_root == "./" else to_root)
        if offline != text:
            path.write_text(offline, encoding="utf-8")
            changed += 1
    return changed
