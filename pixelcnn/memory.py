"""Memory a long-running process gives back: glibc's allocator keeps what a burst of drawings freed
unless told otherwise (the page's process and the drawing engine's both run for days)."""


def tame_malloc() -> None:
    """glibc gives each thread that allocates its own memory arena and returns little of it, so a
    server whose threads draw or serve images grows with every burst of visitors. Two arenas, and
    a trim after each sweep, keep its resident memory flat. Elsewhere (not glibc) this does nothing."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


def trim_malloc() -> None:
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
