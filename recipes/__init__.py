"""One module per recipe, named by it (grant-role: recipes/grant_role.py): a typed request and a pure
(base config, request) -> change set; RECIPES registers them by name. Shared code: recipes.base, recipes.common
(and recipes.business_role_model for the two business-role recipes)."""
from recipes.base import ChangeSet, FieldErrors, Recipe
from recipes.change_business_role import CHANGE_BUSINESS_ROLE
from recipes.change_warehouse import CHANGE_WAREHOUSE
from recipes.grant_role import GRANT_ROLE
from recipes.new_business_role import NEW_BUSINESS_ROLE
from recipes.new_database import NEW_DATABASE
from recipes.new_service_user import NEW_SERVICE_USER
from recipes.new_user import NEW_USER
from recipes.new_warehouse import NEW_WAREHOUSE
from recipes.offboard_user import OFFBOARD_USER
from recipes.promote_key import PROMOTE_KEY
from recipes.remove_password import REMOVE_PASSWORD
from recipes.remove_warehouse import REMOVE_WAREHOUSE
from recipes.revert import REVERT
from recipes.revoke_role import REVOKE_ROLE
from recipes.rotate_key import ROTATE_KEY

RECIPES: dict[str, Recipe] = {r.name: r for r in (
    NEW_USER, NEW_SERVICE_USER, GRANT_ROLE, REVOKE_ROLE, NEW_BUSINESS_ROLE, CHANGE_BUSINESS_ROLE,
    NEW_DATABASE, NEW_WAREHOUSE, CHANGE_WAREHOUSE, REMOVE_WAREHOUSE, OFFBOARD_USER, ROTATE_KEY, PROMOTE_KEY, REMOVE_PASSWORD,
)}

# Recipes only SnowTower itself opens requests with (never offered by a page or `snowtower request`).
SYSTEM_RECIPES: dict[str, Recipe] = {REVERT.name: REVERT}


def recipe_named(name: str) -> Recipe | None:
    """The recipe a stored request was made with (people's or SnowTower's own), or None."""
    return RECIPES.get(name) or SYSTEM_RECIPES.get(name)


__all__ = ["RECIPES", "SYSTEM_RECIPES", "recipe_named", "ChangeSet", "FieldErrors", "Recipe"]
