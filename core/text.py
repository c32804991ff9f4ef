"""Counts in words for messages ("1 image", "2 classes"), one spelling for the CLI and the trainer's log."""


def count(n: int, noun: str) -> str:
    """"1 image", "2 images", "3 boxes", "2 classes", "2 categories"."""
    if n == 1:
        return f"1 {noun}"
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "es" if noun.endswith(("x", "s")) else noun + "s"
    return f"{n} {plural}"
