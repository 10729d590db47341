"""One module per kind of request: a typed request and a pure (base config, request) -> change set."""
from recipes.base import ChangeSet, FieldErrors, Recipe
from recipes.new_user import NEW_USER

RECIPES: dict[str, Recipe] = {r.name: r for r in (NEW_USER,)}

__all__ = ["RECIPES", "ChangeSet", "FieldErrors", "Recipe"]
