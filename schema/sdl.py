"""The exported SDL: `schema/passport.graphql` is generated, never edited by hand.

Run `python -m schema.sdl` after changing the model or the GraphQL types; a test
fails while the file and the code disagree.
"""

from __future__ import annotations

from pathlib import Path

SDL_PATH = Path(__file__).with_name("passport.graphql")


def current_sdl() -> str:
    from .graphql.query import build_schema

    return build_schema().as_str() + "\n"


def main() -> None:
    SDL_PATH.write_text(current_sdl(), encoding="utf-8")
    print(f"wrote {SDL_PATH}")


if __name__ == "__main__":
    main()
