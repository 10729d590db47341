"""`python -m app.settings --markdown`: docs/settings.md on standard output."""
import sys

from app.settings.docs import markdown

if __name__ == "__main__":
    if sys.argv[1:] == ["--markdown"]:
        print(markdown(), end="")
    else:
        print("usage: python -m app.settings --markdown", file=sys.stderr)
        sys.exit(2)
