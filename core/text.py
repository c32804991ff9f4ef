"""Counts and lists in words for messages ("1 image", "2 classes", "a, b and 3 more"): one spelling for the
CLI, the trainer's log and the window."""


def count(n: int, noun: str) -> str:
    """"1 image", "2 images", "3 boxes", "2 classes", "2 categories"."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "es" if noun.endswith(("x", "s")) else noun + "s"
    return f"{n} {plural}"


def first_names(names: list[str], most: int = 6) -> str:
    """"a, b, c" or, past ``most`` names, the first of them and how many more: "a, b and 4 more"
    (it ended in "…", which said not how many, and a sentence in "….")."""
    more = len(names) - most
    return ", ".join(names) if more <= 0 else f"{', '.join(names[:most])} and {more} more"


def short_name(name: str, most: int = 32) -> str:
    """``name`` cut in its middle to ``most`` characters ("05ad7223…f52f_jpg.rf.5fb7….jpg" of a
    Roboflow name of 70): both its ends tell files apart; whole when it fits."""
    if len(name) <= most:
        return name
    head = (most - 1) // 2
    return f"{name[:head]}…{name[len(name) - (most - 1 - head):]}"


def duration(seconds: float) -> str:
    """A time left, as a person says it: "40 s", "8.3 min", "25 min", "2 h 05 min" ("480.0 min")."""
    if seconds < 59.5:
        return f"{max(0, round(seconds))} s"
    minutes = seconds / 60
    if minutes < 9.95:
        return f"{minutes:.1f} min"
    if minutes < 59.5:
        return f"{round(minutes)} min"
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest:02d} min"


def score_text(score: float, threshold: float) -> str:
    """A score shown above a threshold, with the digits that tell the two apart: two decimals
    where they do, more where not ("0.99" tagged a prediction shown over "Score > 0.99")."""
    for digits in range(2, 7):
        text = f"{score:.{digits}f}"
        if text != f"{threshold:.{digits}f}":
            return text
    return f"{score:.9g}"  # (a float32 step above it)
