"""Where tool packages come from: the folders under `tools/`, and installed distributions.

A tool package outside this repository is an ordinary pip-installable distribution
that names its toolset under the entry-point group `livebot.tools`:

    [project.entry-points."livebot.tools"]
    weather = "acme_weather"            # a module defining toolset(ctx), or
    # weather = "acme_weather:toolset"  # the function itself

The entry point's name is what `TOOLS` says (`TOOLS=clock,weather`). Finding them is
the standard library's `importlib.metadata` (what pytest plugins and console scripts
use); this module adds only what livebot needs on top: one namespace shared with the
built-in packages, refusing an ambiguous name (an installed package named like a
built-in, or two distributions offering the same name) instead of picking one, and
start-up errors that say which distribution and entry point is at fault.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType

GROUP = "livebot.tools"


class PackageLoadError(Exception):
    """A tool package cannot be imported or does not offer a `toolset` function."""


@dataclass(frozen=True)
class PackageSource:
    """One tool package that `TOOLS` can name, and how to get its `toolset` function."""

    name: str
    origin: str  # for messages: "built-in (tools/clock)" or "acme-weather 0.1.0 (…)"
    module: str | None = None  # a built-in package's module
    entry_point: metadata.EntryPoint | None = None
    distribution: str | None = None  # "acme-weather 0.1.0" for installed packages

    @property
    def builtin(self) -> bool:
        return self.entry_point is None

    def toolset_factory(self) -> Callable[..., object]:
        """Import the package; its `toolset(ctx)` function (what it returns is a third
        party's, checked by the caller). Raises `PackageLoadError`."""
        if self.module is not None:
            return _factory(importlib.import_module(self.module), self)
        assert self.entry_point is not None
        try:
            loaded = self.entry_point.load()
        except Exception as e:
            raise PackageLoadError(
                f"tool package '{self.name}' from {self.origin} cannot be imported: "
                f"{type(e).__name__}: {e}"
            ) from e
        return _factory(loaded, self)


@dataclass(frozen=True)
class Discovered:
    """The packages `TOOLS` may name, and the names that are ambiguous (with why)."""

    packages: dict[str, PackageSource]
    clashes: dict[str, str]


def builtin_packages() -> dict[str, PackageSource]:
    """The packages under `tools/` whose `__init__` defines `toolset`."""
    import tools

    found = {}
    for info in pkgutil.iter_modules(tools.__path__):
        if not info.ispkg:
            continue
        module = importlib.import_module(f"tools.{info.name}")
        if callable(getattr(module, "toolset", None)):
            found[info.name] = PackageSource(
                info.name, f"built-in (tools/{info.name})", module=module.__name__
            )
    return found


def installed_packages() -> list[PackageSource]:
    """Every `livebot.tools` entry point of the installed distributions (not imported yet)."""
    found = []
    for ep in metadata.entry_points(group=GROUP):
        dist = ep.dist
        label = f"{dist.name} {dist.version}" if dist is not None else "an unnamed distribution"
        found.append(
            PackageSource(
                ep.name,
                f"{label} (entry point {ep.name} = {ep.value})",
                entry_point=ep,
                distribution=label,
            )
        )
    return found


def discover() -> Discovered:
    """Built-in and installed packages by name; an ambiguous name is a clash, never a pick."""
    packages = builtin_packages()
    clashes: dict[str, str] = {}
    for source in installed_packages():
        taken = packages.get(source.name)
        if source.name in clashes:
            clashes[source.name] += f"; and {source.origin}"
        elif taken is None:
            packages[source.name] = source
        elif taken.builtin:
            clashes[source.name] = (
                f"{source.origin} offers the tool package '{source.name}', but livebot has a "
                f"built-in package of that name: rename the entry point in that distribution"
            )
        else:
            clashes[source.name] = (
                f"two installed distributions offer the tool package '{source.name}': "
                f"{taken.origin} and {source.origin}; uninstall one or rename its entry point"
            )
    for name in clashes:
        packages.pop(name, None)
    return Discovered(packages, clashes)


def _factory(loaded: object, source: PackageSource) -> Callable[..., object]:
    target = getattr(loaded, "toolset", None) if isinstance(loaded, ModuleType) else loaded
    if not callable(target):
        what = "module has no toolset() function" if isinstance(loaded, ModuleType) else ""
        raise PackageLoadError(
            f"tool package '{source.name}' from {source.origin}: "
            + (what or f"the entry point is a {type(loaded).__name__}, not a function")
            + "; point it at a module defining toolset(ctx) or at that function"
        )
    return target
