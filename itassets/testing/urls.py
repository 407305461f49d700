"""The URL table of one app, for the role × URL tests: walked from the resolver, so a new URL
that the test's table does not cover fails the test."""

from django.urls import URLResolver, get_resolver


def app_urls(app: str) -> dict[str, str]:
    """``namespace:name`` → route of every URL pattern whose view is in ``app``."""
    found: dict[str, str] = {}

    def walk(patterns, namespace: str, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = namespace
                if p.namespace:
                    ns = f"{namespace}:{p.namespace}" if namespace else p.namespace
                walk(p.url_patterns, ns, prefix + str(p.pattern))
                continue
            module = getattr(p.callback, "__module__", "") or ""
            if module == app or module.startswith(f"{app}."):
                route = prefix + str(p.pattern)
                name = f"{namespace}:{p.name}" if p.name else f"(unnamed {route})"
                found[name] = route

    walk(get_resolver().url_patterns, "", "/")
    return found
